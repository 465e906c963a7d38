"""Fetch artifacts (models, datasets): a content-addressed cache, SHA-256 verification,
retries with backoff, resumed partial downloads, atomic placement and safe unpacking.

Written on urllib rather than pooch: pooch neither resumes a partial download with a
Range request nor takes file:// URLs, and the harness must refuse hosts its network
policy does not allow before any connection is made.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from ops.config.loader import LoadedConfig
from ops.config.schema import Artifact
from ops.netpolicy import decide

log = logging.getLogger("proofyard.env")
CHUNK = 1 << 16


class ArtifactError(Exception):
    """An artifact that cannot be fetched, verified or placed; nothing is left at its
    destination."""


@dataclass(frozen=True)
class Fetched:
    name: str
    path: Path
    downloaded: bool  # False when the cache already held it
    resumed_from: int = 0


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_path(cache_dir: Path, artifact: Artifact) -> Path:
    name = PurePosixPath(unquote(urlsplit(artifact.url).path)).name or artifact.name
    return cache_dir / f"{artifact.sha256.lower()[:16]}-{name}"


class Fetcher:
    def __init__(
        self,
        cache_dir: Path,
        root: Path,
        *,
        allow_hosts: Sequence[str] = (),
        retries: int = 3,
        timeout_s: float = 60.0,
        backoff_s: float = 0.5,
        progress: Callable[[str, int, int | None], None] | None = None,
    ) -> None:
        self.cache_dir, self.root = cache_dir, root
        self.allow_hosts, self.retries = list(allow_hosts), retries
        self.timeout_s, self.backoff_s = timeout_s, backoff_s
        self.progress = progress or (lambda name, done, total: None)

    @classmethod
    def for_config(
        cls, loaded: LoadedConfig, progress: Callable[[str, int, int | None], None] | None = None
    ) -> Fetcher:
        """The fetcher ``env`` configures: its cache, retries, timeout and allowed hosts."""
        section = loaded.config.env
        return cls(
            loaded.resolve(section.cache_dir),
            loaded.target_root,
            allow_hosts=loaded.config.network.allow_hosts,
            retries=section.retries,
            timeout_s=section.timeout_s,
            progress=progress,
        )

    def fetch_all(self, artifacts: Sequence[Artifact], concurrency: int = 4) -> list[Fetched]:
        self.check_space(artifacts)
        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            return list(pool.map(self.fetch, artifacts))

    def check_space(self, artifacts: Sequence[Artifact]) -> None:
        """At least 1.2x the bytes still to download must be free, before anything starts."""
        needed = sum(a.size or 0 for a in artifacts if not self._cached_ok(a))
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.cache_dir).free
        if needed and free < 1.2 * needed:
            raise ArtifactError(
                f"not enough disk space in {self.cache_dir}: {free} bytes free, "
                f"{needed} to download (1.2x margin: {int(1.2 * needed)})"
            )

    def _cached_ok(self, artifact: Artifact) -> bool:
        path = cache_path(self.cache_dir, artifact)
        return path.is_file() and sha256_file(path) == artifact.sha256.lower()

    def fetch(self, artifact: Artifact) -> Fetched:
        cached = cache_path(self.cache_dir, artifact)
        downloaded, resumed = False, 0
        if cached.is_file() and sha256_file(cached) != artifact.sha256.lower():
            log.warning("%s: cached copy %s is corrupted; fetching again", artifact.name, cached)
            cached.unlink()
        if not cached.is_file():
            resumed = self._download(artifact, cached)
            downloaded = True
        destination = self.root / artifact.destination
        if artifact.unpack:
            _unpack(cached, destination, artifact.unpack)
        else:
            _place(cached, destination)
        return Fetched(artifact.name, destination, downloaded, resumed)

    def _download(self, artifact: Artifact, cached: Path) -> int:
        parts = urlsplit(artifact.url)
        if parts.scheme in ("http", "https"):
            decision = decide(parts.hostname or "", self.allow_hosts)
            if not decision.allowed:
                raise ArtifactError(f"{artifact.name}: {artifact.url}: {decision.reason}")
        partial = cached.with_name(cached.name + ".part")
        resumed_from = partial.stat().st_size if partial.exists() else 0
        last_error = ""
        attempts = 0
        for attempt in range(self.retries + 1):
            attempts += 1
            try:
                self._transfer(artifact, partial)
                break
            except (urllib.error.URLError, OSError, ArtifactError) as exc:
                last_error = str(getattr(exc, "reason", exc))
                if isinstance(exc, urllib.error.HTTPError) and exc.code < 500 and exc.code != 429:
                    break
                if attempt < self.retries:
                    time.sleep(self.backoff_s * 2**attempt)
        if not partial.exists() or not self._complete(artifact, partial):
            raise ArtifactError(
                f"{artifact.name}: download from {artifact.url} failed after "
                f"{attempts} attempt(s): {last_error or 'incomplete'}"
            )
        digest = sha256_file(partial)
        if digest != artifact.sha256.lower():
            partial.unlink()
            raise ArtifactError(
                f"{artifact.name}: checksum mismatch: expected sha256 "
                f"{artifact.sha256.lower()}, got {digest}; nothing was placed"
            )
        partial.replace(cached)
        return resumed_from

    @staticmethod
    def _complete(artifact: Artifact, partial: Path) -> bool:
        return artifact.size is None or partial.stat().st_size >= artifact.size

    def _transfer(self, artifact: Artifact, partial: Path) -> None:
        parts = urlsplit(artifact.url)
        partial.parent.mkdir(parents=True, exist_ok=True)
        if parts.scheme == "file":
            shutil.copyfile(unquote(parts.path), partial)
            return
        offset = partial.stat().st_size if partial.exists() else 0
        if artifact.size is not None and offset >= artifact.size:
            return
        request = urllib.request.Request(artifact.url, headers={"User-Agent": "proofyard-env"})
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            append = offset and response.status == 206
            total = artifact.size
            done = offset if append else 0
            with partial.open("ab" if append else "wb") as handle:
                while chunk := response.read(CHUNK):
                    handle.write(chunk)
                    done += len(chunk)
                    self.progress(artifact.name, done, total)
        if not self._complete(artifact, partial):
            raise ArtifactError(
                f"{artifact.name}: connection closed after "
                f"{partial.stat().st_size} of {artifact.size} bytes"
            )


def _place(source: Path, destination: Path) -> None:
    """Copy into place atomically: a temporary file in the destination folder, renamed."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=destination.parent, prefix=f".{destination.name}.", delete=False
    ) as handle:
        temporary = Path(handle.name)
    try:
        shutil.copyfile(source, temporary)
        temporary.replace(destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _safe_member(name: str, folder: Path) -> Path:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise ArtifactError(f"archive member {name!r} would escape the destination")
    return folder / path


def _unpack(archive: Path, destination: Path, kind: str) -> None:
    """Extract into a temporary folder beside ``destination`` (refusing absolute paths,
    ``..`` and links that leave it), then rename it into place."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}."))
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as bundle:
                for info in bundle.infolist():
                    _safe_member(info.filename, staging)
                bundle.extractall(staging)
        else:
            with tarfile.open(archive) as bundle:
                for member in bundle.getmembers():
                    _safe_member(member.name, staging)
                    if member.issym() or member.islnk():
                        target = (staging / member.name).parent / member.linkname
                        if member.linkname.startswith("/") or not target.resolve().is_relative_to(
                            staging.resolve()
                        ):
                            raise ArtifactError(
                                f"archive link {member.name} -> "
                                f"{member.linkname} leaves the destination"
                            )
                    if member.isdev():
                        raise ArtifactError(f"archive member {member.name} is a device file")
                bundle.extractall(staging)
        if destination.exists():
            shutil.rmtree(destination) if destination.is_dir() else destination.unlink()
        staging.replace(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


class ProgressLine:
    """One status line on a terminal (nothing when stderr is not one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[int, int | None]] = {}

    def __call__(self, name: str, done: int, total: int | None) -> None:
        if not sys.stderr.isatty():
            return
        with self._lock:
            self._state[name] = (done, total)
            text = "  ".join(
                f"{n} {d * 100 // t if t else d // 1024}{'%' if t else ' KiB'}"
                for n, (d, t) in sorted(self._state.items())
            )
            sys.stderr.write("\r" + text[-200:])
            sys.stderr.flush()
