"""Downloading http(s) locations: timeouts, retries with backoff, size limit, completeness and
checksum checks, conditional requests.

* Connection errors, timeouts, bodies cut short, 5xx and 429 are retried with exponential backoff
  (``backoff_seconds * 2**attempt``, capped), honouring ``Retry-After`` (seconds or an HTTP date,
  capped at ``max_retry_after_seconds``). Other 4xx fail at once.
* The body goes to the caller's temporary file; it is complete only when its length equals
  ``Content-Length`` (where sent) and, where the source publishes one, its checksum matches: a
  ``#sha256=<hex>`` fragment on the configured URL, or a ``Digest``/``Repr-Digest`` sha-256 header.
* With the ETag / Last-Modified of the previous download, the request is conditional; a 304 means
  the landed file is still current and nothing is downloaded.
* Messages never contain query strings, credentials or headers, so tokens cannot leak through them.
"""

import base64
import email.utils
import hashlib
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import requests

_CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A download failed for good; the message names the URL (without query) and why."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def redact(url: str) -> str:
    """The URL without credentials, query string or fragment, for messages."""
    parts = urlparse(url)
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc, query="", fragment="").geturl()


@dataclass
class FetchResult:
    not_modified: bool
    attempts: int
    sha256: str | None = None
    bytes: int = 0
    etag: str | None = None
    last_modified: str | None = None


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.reason, self.wait = reason, wait


@dataclass
class HttpFetcher:
    timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    max_retry_after_seconds: float = 300.0
    max_bytes: int = 4 << 30
    bearer_token: str | None = None
    sleep: object = time.sleep

    def fetch(self, url: str, dest: Path, previous: dict | None = None) -> FetchResult:
        shown = redact(url)
        expected_sha = _fragment_sha256(url)
        request_url = url.split("#", 1)[0]
        headers = {"Accept-Encoding": "identity"}
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        if previous:
            if previous.get("etag"):
                headers["If-None-Match"] = previous["etag"]
            if previous.get("last_modified"):
                headers["If-Modified-Since"] = previous["last_modified"]
        last_reason = "no attempt made"
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._attempt(request_url, shown, dest, headers, expected_sha, attempt)
            except _Retry as retry:
                last_reason = retry.reason
                if attempt == self.max_attempts:
                    break
                wait = retry.wait if retry.wait is not None else min(self.backoff_seconds * 2 ** (attempt - 1),
                                                                      self.max_backoff_seconds)
                self.sleep(wait)
        raise FetchError(f"{shown}: failed after {self.max_attempts} attempts: {last_reason}")

    def _attempt(self, url: str, shown: str, dest: Path, headers: dict, expected_sha: str | None,
                 attempt: int) -> FetchResult:
        try:
            response = requests.get(url, stream=True, headers=headers, allow_redirects=True,
                                    timeout=(self.connect_timeout_seconds, self.timeout_seconds))
        except requests.Timeout:
            raise _Retry("timed out") from None
        except requests.ConnectionError:
            raise _Retry("connection failed") from None
        with response:
            status = response.status_code
            if status == 304:
                return FetchResult(not_modified=True, attempts=attempt, etag=response.headers.get("ETag"),
                                   last_modified=response.headers.get("Last-Modified"))
            if status == 429 or status >= 500:
                raise _Retry(f"HTTP {status}", self._retry_after(response.headers.get("Retry-After")))
            if status >= 400:
                raise FetchError(f"{shown}: HTTP {status}", status=status)
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchError(f"{shown}: {declared} bytes is over the {self.max_bytes} byte limit")
            digest = hashlib.sha256()
            received = 0
            try:
                with open(dest, "wb") as out:
                    for chunk in response.iter_content(_CHUNK):
                        received += len(chunk)
                        if received > self.max_bytes:
                            raise FetchError(f"{shown}: larger than the {self.max_bytes} byte limit")
                        digest.update(chunk)
                        out.write(chunk)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, requests.Timeout):
                raise _Retry(f"incomplete body: connection closed after {received} of {declared or '?'} bytes") from None
            if declared is not None and declared.isdigit() and int(declared) != received:
                raise _Retry(f"incomplete body: {received} of {declared} bytes")
            sha = digest.hexdigest()
            published = expected_sha or _header_sha256(response.headers)
            if published and published != sha:
                raise _Retry(f"checksum mismatch: expected sha256 {published[:12]}…, got {sha[:12]}…")
            return FetchResult(not_modified=False, attempts=attempt, sha256=sha, bytes=received,
                               etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified"))

    def _retry_after(self, value: str | None) -> float | None:
        if not value:
            return None
        value = value.strip()
        if value.isdigit():
            return min(float(value), self.max_retry_after_seconds)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, min((when - datetime.now(UTC)).total_seconds(), self.max_retry_after_seconds))


def _fragment_sha256(url: str) -> str | None:
    m = re.search(r"#(?:.*&)?sha256=([0-9a-fA-F]{64})", url)
    return m.group(1).lower() if m else None


def _header_sha256(headers) -> str | None:
    for name in ("Repr-Digest", "Digest"):
        value = headers.get(name)
        if value:
            m = re.search(r"sha-256=:?([A-Za-z0-9+/=]+):?", value)
            if m:
                try:
                    return base64.b64decode(m.group(1)).hex()
                except ValueError:
                    return None
    return None


def read_location(location: str, fetcher: HttpFetcher) -> bytes | None:
    """The bytes of a local path or http(s) URL, or None where there is no such file (a missing
    path, HTTP 404 or 410). Downloads go through ``fetcher``, with its retries, limits and checks."""
    if not location.startswith(("http://", "https://")):
        path = Path(location)
        return path.read_bytes() if path.is_file() else None
    with tempfile.TemporaryDirectory(prefix="partnership-fetch-") as folder:
        target = Path(folder) / "download"
        try:
            fetcher.fetch(location, target)
        except FetchError as exc:
            if exc.status in (404, 410):
                return None
            raise
        return target.read_bytes()
