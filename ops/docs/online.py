"""Online checks of external links: concurrent, per-host limits, retries, a TTL cache.

Only successes are cached; 'unreachable' (no HTTP answer) and 'http-error' (an HTTP status
of 400 or more) are distinct outcomes. Redirects are followed to http(s) URLs only.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from ops.atomic import write_atomic
from ops.netpolicy import NetworkBlocked

Outcome = Literal["ok", "http-error", "unreachable", "blocked"]
RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class LinkStatus:
    url: str
    outcome: Outcome
    status: int | None = None
    detail: str = ""
    cached: bool = False


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(
                newurl, code, f"redirect to non-http URL {newurl}", headers, fp
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class LinkCache:
    """Successful checks by URL, kept for ``ttl_s`` seconds; saved atomically."""

    def __init__(self, path: Path, ttl_s: float) -> None:
        self.path = path
        self.ttl_s = ttl_s
        try:
            self.entries: dict[str, dict] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}
        self._lock = threading.Lock()

    def fresh(self, url: str, now: float) -> int | None:
        entry = self.entries.get(url)
        if entry and now - entry["checked"] <= self.ttl_s:
            return int(entry["status"])
        return None

    def remember(self, status: LinkStatus, now: float) -> None:
        if status.outcome == "ok":
            with self._lock:
                self.entries[status.url] = {"status": status.status, "checked": now}

    def save(self) -> None:
        write_atomic(self.path, json.dumps(self.entries, indent=1, sort_keys=True))


def check_urls(
    urls: Iterable[str],
    *,
    cache: LinkCache | None = None,
    timeout_s: float = 10.0,
    concurrency: int = 8,
    per_host: int = 2,
    retries: int = 2,
    backoff_s: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, LinkStatus]:
    """Check each distinct URL once; returns the status of each (``progress(done, total)``
    hears of each one checked)."""
    unique = sorted(set(urls))
    opener = urllib.request.build_opener(_HttpOnlyRedirects)
    host_limits: dict[str, threading.Semaphore] = {}
    limits_lock = threading.Lock()

    def limit_for(url: str) -> threading.Semaphore:
        with limits_lock:
            return host_limits.setdefault(
                urlsplit(url).netloc.lower(), threading.Semaphore(per_host)
            )

    def check(url: str) -> LinkStatus:
        now = time.time()
        cached = cache.fresh(url, now) if cache else None
        if cached is not None:
            return LinkStatus(url, "ok", cached, "cached", cached=True)
        for attempt in range(retries + 1):
            with limit_for(url):
                status = _request(opener, url, timeout_s)
            retryable = status.outcome == "unreachable" or status.status in RETRY_STATUSES
            if not retryable or attempt == retries:
                break
            time.sleep(backoff_s * 2**attempt)
        if cache:
            cache.remember(status, time.time())
        return status

    results = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for url, status in zip(unique, pool.map(check, unique), strict=True):
            results[url] = status
            if progress is not None:
                progress(len(results), len(unique))
    if cache:
        cache.save()
    return results


def _request(opener: urllib.request.OpenerDirector, url: str, timeout_s: float) -> LinkStatus:
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(
            url, method=method, headers={"User-Agent": "proofyard-linkcheck"}
        )
        try:
            with opener.open(request, timeout=timeout_s) as response:
                return LinkStatus(url, "ok", response.status)
        except urllib.error.HTTPError as exc:
            if method == "HEAD" and exc.code in (405, 501):
                continue
            return LinkStatus(url, "http-error", exc.code, f"HTTP {exc.code}")
        except NetworkBlocked as exc:
            return LinkStatus(url, "blocked", None, str(exc))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, NetworkBlocked):
                return LinkStatus(url, "blocked", None, str(reason))
            return LinkStatus(url, "unreachable", None, str(reason))
    return LinkStatus(url, "unreachable", None, "no answer")
