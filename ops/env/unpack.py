"""Unpacking archives that cannot escape, overwrite or explode.

Written member by member rather than with ``extractall``: Python 3.11's ``tarfile`` data
filter checks each link against the archive as written so far but not against links an
archive adds later (``a -> b/..`` first, then ``b -> .``), it hard-links rather than copies
(so a later member of the same name writes through to the first file), and ``zipfile`` has
no filter and no size bound at all. Here every path is resolved against what is already on
disk before anything is written, hard links become copies, a name is written once, the
bytes written are counted against the bounds as they are written, and a last pass refuses
any link that resolves outside the folder.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

import zstandard

from ops.atomic import current_umask

CHUNK = 1 << 16
RATIO_FLOOR_BYTES = 64 << 20  # below this total, the ratio bound does not apply
MARKER = ".proofyard-unpacked"


class UnpackError(Exception):
    """An archive refused: what it tried, and nothing written at the destination."""


@dataclass(frozen=True)
class UnpackLimits:
    """Bounds on what one archive may expand to."""

    max_bytes: int
    max_ratio: float
    max_members: int = 100_000

    def allowed_bytes(self, archive_size: int) -> int:
        by_ratio = max(int(self.max_ratio * archive_size), RATIO_FLOOR_BYTES)
        return min(self.max_bytes, by_ratio)


@dataclass(frozen=True)
class Member:
    """One archive entry, whatever the format."""

    name: str
    kind: str  # "dir", "file", "symlink", "hardlink" or "other"
    link: str = ""
    executable: bool = False


def unpack(archive: Path, destination: Path, kind: str, limits: UnpackLimits) -> None:
    """Extract ``archive`` into a fresh folder beside ``destination``, then move it there.

    ``destination`` must be missing, empty, or a folder this function unpacked before
    (it holds :data:`MARKER`); anything else is refused before a byte is written.
    """
    check_destination(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}."))
    try:
        _Extraction(staging, limits.allowed_bytes(archive.stat().st_size), limits).run(
            archive, kind
        )
        _refuse_escaping_links(staging)
        (staging / MARKER).write_text(f"{archive.name}\n", encoding="utf-8")
        os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes 0700; the user's umask decides
        _move_into_place(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def gunzip(archive: Path, destination: Path, limits: UnpackLimits) -> None:
    """Decompress a ``.gz`` file to ``destination`` (a file), bounded like an archive and
    placed atomically with the user's umask."""
    if destination.is_dir():
        raise UnpackError(f"destination {destination} is a folder, not a file path")
    destination.parent.mkdir(parents=True, exist_ok=True)
    allowed = limits.allowed_bytes(archive.stat().st_size)
    handle, name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    temporary = Path(name)
    try:
        written = 0
        with os.fdopen(handle, "wb") as out, gzip.open(archive, "rb") as source:
            while block := source.read(1 << 20):
                written += len(block)
                if written > allowed:
                    raise UnpackError(
                        f"{archive.name} expands past {allowed} bytes (env.max_unpacked_mb / "
                        "env.max_unpack_ratio)"
                    )
                out.write(block)
        os.chmod(temporary, 0o666 & ~current_umask())
        temporary.replace(destination)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        temporary.unlink(missing_ok=True)
        raise UnpackError(f"{archive.name}: not a readable gz file: {exc}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def check_destination(destination: Path) -> None:
    """Refuse a destination that holds anything but an earlier unpacking of ours."""
    if not os.path.lexists(destination):
        return
    if destination.is_symlink() or not destination.is_dir():
        raise UnpackError(f"destination {destination} exists and is not a folder")
    entries = os.listdir(destination)
    if entries and MARKER not in entries:
        raise UnpackError(
            f"destination {destination} is a folder with {len(entries)} entries that proofyard "
            "did not unpack: choose a new or empty folder"
        )


def _move_into_place(staging: Path, destination: Path) -> None:
    if not os.path.lexists(destination):
        staging.replace(destination)
        return
    old = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.old."))
    destination.replace(old / "previous")
    staging.replace(destination)
    shutil.rmtree(old, ignore_errors=True)


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root + os.sep)


class _Extraction:
    def __init__(self, staging: Path, allowed_bytes: int, limits: UnpackLimits) -> None:
        self.staging = staging
        self.root = os.path.realpath(staging)
        self.allowed_bytes = allowed_bytes
        self.limits = limits
        self.written_bytes = 0
        self.files: set[str] = set()
        self.members = 0

    def run(self, archive: Path, kind: str) -> None:
        try:
            entries = _zip_entries(archive) if kind == "zip" else _tar_entries(archive, kind)
            for member, stream in entries:
                try:
                    self.add(member, stream)
                except OSError as exc:
                    raise UnpackError(
                        f"archive member {member.name!r} cannot be written: {exc.strerror}"
                    ) from None
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zstandard.ZstdError) as exc:
            raise UnpackError(f"{archive.name}: not a readable {kind} archive: {exc}") from None

    def add(self, member: Member, stream: IO[bytes] | None) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise UnpackError(f"archive has more than {self.limits.max_members} members")
        relative = _relative(member.name)
        if relative is None:
            return  # the archive's root folder itself
        target = self._checked_path(member.name, relative)
        if member.kind == "dir":
            if os.path.lexists(target) and not os.path.isdir(target):
                raise UnpackError(f"archive member {member.name!r} replaces a file or link")
            os.makedirs(target, exist_ok=True)
            return
        if os.path.lexists(target):
            raise UnpackError(
                f"archive member {member.name!r} appears twice: it would replace "
                "a file or link written earlier"
            )
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if member.kind == "file":
            assert stream is not None
            self._write(member.name, target, stream, member.executable)
        elif member.kind == "symlink":
            self._symlink(member, target)
        elif member.kind == "hardlink":
            self._copy_hardlink(member, target)
        else:
            raise UnpackError(f"archive member {member.name!r} is a device, FIFO or socket")

    def _checked_path(self, name: str, relative: str) -> str:
        target = os.path.join(self.root, relative)
        parent = os.path.realpath(os.path.dirname(target))
        if not _inside(self.root, parent):
            raise UnpackError(f"archive member {name!r} would be written through a link outside")
        return target

    def _write(self, name: str, target: str, stream: IO[bytes], executable: bool) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        descriptor = os.open(target, flags, 0o777 if executable else 0o666)
        with os.fdopen(descriptor, "wb") as handle:
            while block := stream.read(CHUNK):
                self.written_bytes += len(block)
                if self.written_bytes > self.allowed_bytes:
                    raise UnpackError(
                        f"archive expands past {self.allowed_bytes} bytes (at {name!r}): "
                        "refused as a decompression bomb (env.max_unpacked_mb, "
                        "env.max_unpack_ratio)"
                    )
                handle.write(block)
        self.files.add(os.path.relpath(target, self.root))

    def _symlink(self, member: Member, target: str) -> None:
        link = member.link
        resolved = os.path.realpath(os.path.join(os.path.dirname(target), link))
        if os.path.isabs(link) or not _inside(self.root, resolved):
            raise UnpackError(f"archive link {member.name} -> {link} leaves the destination")
        os.symlink(link, target)

    def _copy_hardlink(self, member: Member, target: str) -> None:
        try:
            source = _relative(member.link)
        except UnpackError:
            raise UnpackError(
                f"archive hard link {member.name} -> {member.link} leaves the destination"
            ) from None
        if source is None or source not in self.files:
            raise UnpackError(
                f"archive hard link {member.name} -> {member.link}: the target is not a file "
                "this archive wrote"
            )
        with open(os.path.join(self.root, source), "rb") as stream:
            self._write(member.name, target, stream, executable=False)


def _relative(name: str) -> str | None:
    """The member's normalised relative path; ``None`` for the archive's root."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith("\\") or "\x00" in name:
        raise UnpackError(f"archive member {name!r} would escape the destination")
    parts = [part for part in path.parts if part != "."]
    return os.path.join(*parts) if parts else None


def _tar_entries(archive: Path, kind: str) -> Iterator[tuple[Member, IO[bytes] | None]]:
    with contextlib.ExitStack() as stack:
        if kind == "tar.zst":  # tarfile has no zstd on 3.11: stream it through zstandard
            raw = stack.enter_context(archive.open("rb"))
            stream = stack.enter_context(zstandard.ZstdDecompressor().stream_reader(raw))
            bundle = stack.enter_context(tarfile.open(fileobj=stream, mode="r|"))
        else:
            bundle = stack.enter_context(tarfile.open(archive))
        yield from _tar_members(bundle)


def _tar_members(bundle: tarfile.TarFile) -> Iterator[tuple[Member, IO[bytes] | None]]:
    for info in bundle:  # streamed: headers are read one at a time
        if info.isdir():
            yield Member(info.name, "dir"), None
        elif info.isreg():
            stream = bundle.extractfile(info)
            yield Member(info.name, "file", executable=bool(info.mode & 0o111)), stream
        elif info.issym():
            yield Member(info.name, "symlink", info.linkname), None
        elif info.islnk():
            yield Member(info.name, "hardlink", info.linkname), None
        else:
            yield Member(info.name, "other"), None


def _zip_entries(archive: Path) -> Iterator[tuple[Member, IO[bytes] | None]]:
    # zip symlink entries are written as small files holding the link text, as zipfile does
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            if info.is_dir():
                yield Member(info.filename, "dir"), None
                continue
            mode = info.external_attr >> 16
            executable = bool(mode & 0o111) and not stat.S_ISLNK(mode)
            with bundle.open(info) as stream:
                yield Member(info.filename, "file", executable=executable), stream


def _refuse_escaping_links(staging: Path) -> None:
    """A last pass: links that resolve outside (through links added after them) refuse all."""
    root = os.path.realpath(staging)
    for folder, subfolders, files in os.walk(staging):
        for name in subfolders + files:
            path = os.path.join(folder, name)
            if os.path.islink(path) and not _inside(root, os.path.realpath(path)):
                relative = os.path.relpath(path, staging)
                raise UnpackError(
                    f"archive link {relative} -> {os.readlink(path)} resolves outside "
                    "the destination"
                )
