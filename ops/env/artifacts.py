"""Fetch artifacts (models, datasets): a content-addressed cache, SHA-256 verification,
retries with backoff, resumed partial downloads, atomic placement and safe unpacking.

Written on urllib rather than pooch: pooch neither resumes a partial download with a
Range request nor takes file:// URLs, and the harness must refuse hosts its network
policy does not allow before any connection is made.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from ops.atomic import current_umask, locked
from ops.config.loader import LoadedConfig
from ops.config.schema import Artifact, AuthHeader
from ops.env.unpack import UnpackError, UnpackLimits, check_destination, gunzip, unpack
from ops.netpolicy import decide

log = logging.getLogger("proofyard.env")
CHUNK = 1 << 16
DEFAULT_LIMITS = UnpackLimits(max_bytes=10 << 30, max_ratio=200.0)  # env's defaults


class ArtifactError(Exception):
    """An artifact that cannot be fetched, verified or placed; nothing is left at its
    destination."""


class DeadlineExceeded(ArtifactError):
    """The whole download ran past ``env.deadline_s``; not retried."""


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
        deadline_s: float = 3600.0,
        backoff_s: float = 0.5,
        limits: UnpackLimits = DEFAULT_LIMITS,
        progress: Callable[[str, int, int | None], None] | None = None,
        auth: Sequence[AuthHeader] = (),
        hub_endpoint: str | None = None,
    ) -> None:
        self.cache_dir, self.root = cache_dir, root
        self.auth, self.hub_endpoint = list(auth), hub_endpoint
        self.allow_hosts, self.retries = list(allow_hosts), retries
        self.timeout_s, self.deadline_s, self.backoff_s = timeout_s, deadline_s, backoff_s
        self.limits = limits
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
            deadline_s=section.deadline_s,
            limits=UnpackLimits(
                max_bytes=int(section.max_unpacked_mb * (1 << 20)),
                max_ratio=section.max_unpack_ratio,
            ),
            progress=progress,
            auth=section.auth,
            hub_endpoint=section.hub_endpoint,
        )

    def fetch_all(self, artifacts: Sequence[Artifact], concurrency: int = 4) -> list[Fetched]:
        for artifact in artifacts:
            self.destination(artifact)  # every destination checked before anything is fetched
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

    def destination(self, artifact: Artifact) -> Path:
        """Where ``artifact`` goes: inside the target root, never the root itself, and for an
        archive a new, empty or earlier unpacked folder."""
        root = self.root.resolve()
        destination = (root / artifact.destination).resolve()
        if destination == root or not destination.is_relative_to(root):
            raise ArtifactError(
                f"{artifact.name}: destination {artifact.destination!r} resolves to "
                f"{destination}, not a path inside the target root {root}"
            )
        try:
            if artifact.unpack and artifact.unpack != "gz":
                check_destination(destination)
            elif destination.is_dir():
                raise UnpackError(f"destination {destination} is a folder, not a file path")
        except UnpackError as exc:
            raise ArtifactError(f"{artifact.name}: {exc}") from None
        return destination

    def fetch(self, artifact: Artifact) -> Fetched:
        """Fetch one artifact; artifacts sharing a cache entry (the same content) are
        fetched one at a time, so concurrent fetches never race on one ``.part`` file."""
        cached = cache_path(self.cache_dir, artifact)
        cached.parent.mkdir(parents=True, exist_ok=True)
        with locked(cached):
            return self._fetch(artifact, cached)

    def _fetch(self, artifact: Artifact, cached: Path) -> Fetched:
        destination = self.destination(artifact)
        downloaded, resumed = False, 0
        if cached.is_file() and sha256_file(cached) != artifact.sha256.lower():
            log.warning("%s: cached copy %s is corrupted; fetching again", artifact.name, cached)
            cached.unlink()
        if not cached.is_file():
            resumed = self._download(artifact, cached)
            downloaded = True
        try:
            if artifact.unpack == "gz":
                gunzip(cached, destination, self.limits)
            elif artifact.unpack:
                unpack(cached, destination, artifact.unpack, self.limits)
            else:
                _place(cached, destination)
        except UnpackError as exc:
            raise ArtifactError(f"{artifact.name}: {exc}; nothing was placed") from None
        return Fetched(artifact.name, destination, downloaded, resumed)

    def _download(self, artifact: Artifact, cached: Path) -> int:
        url = self.url_of(artifact)
        parts = urlsplit(url)
        if parts.scheme in ("http", "https"):
            decision = decide(parts.hostname or "", self.allow_hosts)
            if not decision.allowed:
                raise ArtifactError(f"{artifact.name}: {url}: {decision.reason}")
        partial = cached.with_name(cached.name + ".part")
        resumed_from = partial.stat().st_size if partial.exists() else 0
        last_error = ""
        attempts = 0
        deadline = time.monotonic() + self.deadline_s
        for attempt in range(self.retries + 1):
            attempts += 1
            try:
                self._transfer(artifact, url, partial, deadline)
                break
            except DeadlineExceeded as exc:
                last_error = str(exc)
                break
            except (urllib.error.URLError, OSError, ArtifactError) as exc:
                last_error = str(getattr(exc, "reason", exc))
                if isinstance(exc, urllib.error.HTTPError) and exc.code < 500 and exc.code != 429:
                    break
                if attempt < self.retries:
                    time.sleep(min(self.backoff_s * 2**attempt, _left(deadline)))
        if not partial.exists() or not self._complete(artifact, partial):
            raise ArtifactError(
                f"{artifact.name}: download from {url} failed after "
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

    def url_of(self, artifact: Artifact) -> str:
        """The URL to download: an ``hf://`` file resolved by huggingface_hub."""
        if not artifact.url.startswith("hf://"):
            return artifact.url
        return hub_url(artifact.url, self.hub_endpoint, artifact.name)

    def _headers(self, url: str, hub: bool) -> dict[str, str]:
        """Auth headers for ``url``'s host, from the configured variables (and, for a Hub
        file, huggingface_hub's token unless the config sets Authorization itself)."""
        host = (urlsplit(url).hostname or "").lower()
        headers = {}
        for auth in self.auth:
            value = os.environ.get(auth.env)
            if host == auth.host.lower() and value:
                headers[auth.header] = f"{auth.scheme} {value}".strip()
        if hub and not any(name.lower() == "authorization" for name in headers):
            token = _huggingface_hub(url).get_token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
        return headers

    def _transfer(self, artifact: Artifact, url: str, partial: Path, deadline: float) -> None:
        parts = urlsplit(url)
        partial.parent.mkdir(parents=True, exist_ok=True)
        if parts.scheme == "file":
            shutil.copyfile(unquote(parts.path), partial)
            return
        offset = partial.stat().st_size if partial.exists() else 0
        if artifact.size is not None and offset >= artifact.size:
            return
        private = self._headers(url, hub=artifact.url.startswith("hf://"))
        request = urllib.request.Request(url, headers={"User-Agent": "proofyard-env", **private})
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        timeout = max(0.1, min(self.timeout_s, _left(deadline)))
        opener = urllib.request.build_opener(_PolicyRedirects(self.allow_hosts, set(private)))
        with opener.open(request, timeout=timeout) as response:
            append = offset and response.status == 206
            total = artifact.size
            done = offset if append else 0
            with partial.open("ab" if append else "wb") as handle:
                # read1: what has arrived, so a slow drip cannot hold one read past the deadline
                while chunk := response.read1(CHUNK):
                    if _left(deadline) <= 0:
                        raise DeadlineExceeded(
                            f"{artifact.name}: not downloaded within env.deadline_s "
                            f"({self.deadline_s:g} s; {done} bytes arrived)"
                        )
                    handle.write(chunk)
                    done += len(chunk)
                    self.progress(artifact.name, done, total)
        if not self._complete(artifact, partial):
            raise ArtifactError(
                f"{artifact.name}: connection closed after "
                f"{partial.stat().st_size} of {artifact.size} bytes"
            )


class _PolicyRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects only to http(s) hosts the network policy allows; auth headers are dropped
    when a redirect leaves the host they were meant for (a Hub file served from a CDN)."""

    def __init__(self, allow_hosts: Sequence[str], private: set[str]) -> None:
        self.allow_hosts, self.private = list(allow_hosts), {h.lower() for h in private}

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        target = urlsplit(newurl)
        if target.scheme not in ("http", "https"):
            raise urllib.error.HTTPError(
                newurl, code, f"redirect to {target.scheme}: refused", headers, fp
            )
        decision = decide(target.hostname or "", self.allow_hosts)
        if not decision.allowed:
            raise urllib.error.HTTPError(
                newurl, code, f"redirect refused: {decision.reason}", headers, fp
            )
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and target.hostname != urlsplit(req.full_url).hostname:
            for name in list(new.headers):
                if name.lower() in self.private:
                    del new.headers[name]
        return new


def _huggingface_hub(what: str):
    try:
        import huggingface_hub
    except ImportError:
        raise ArtifactError(f"{what} needs huggingface_hub: pip install 'proofyard[hub]'") from None
    return huggingface_hub


def hub_url(url: str, endpoint: str | None, name: str) -> str:
    """``hf://[datasets/|spaces/]OWNER/REPO[@REVISION]/PATH`` as the Hub's download URL."""
    huggingface_hub = _huggingface_hub(f"{name}: {url}")
    rest = url[len("hf://") :]
    repo_type = None
    for kind in ("datasets", "spaces"):
        if rest.startswith(kind + "/"):
            repo_type, rest = kind[:-1], rest[len(kind) + 1 :]
    parts = rest.split("/")
    if len(parts) < 3:
        raise ArtifactError(f"{name}: {url}: expected hf://OWNER/REPO[@REVISION]/PATH")
    repo, _, revision = "/".join(parts[:2]).partition("@")
    return huggingface_hub.hf_hub_url(
        repo,
        "/".join(parts[2:]),
        repo_type=repo_type,
        revision=revision or None,
        endpoint=endpoint.rstrip("/") if endpoint else None,
    )


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _place(source: Path, destination: Path) -> None:
    """Copy into place atomically: a temporary file in the destination folder, renamed."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=destination.parent, prefix=f".{destination.name}.", delete=False
    ) as handle:
        temporary = Path(handle.name)
    try:
        shutil.copyfile(source, temporary)
        temporary.chmod(0o666 & ~current_umask())  # NamedTemporaryFile makes 0600
        temporary.replace(destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
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
