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
* One attempt has an overall deadline and a minimum average transfer rate, enforced by a watchdog
  that cuts the attempt's sockets: a server that trickles bytes cannot hold a run.
* A response sent with ``Content-Encoding`` (gzip, although identity was asked for) is decoded;
  its ``Content-Length`` is compared with the bytes on the wire.
* Messages never contain query strings, credentials or headers, so tokens cannot leak through them:
  the HTTP library's own messages (which quote the URL) are replaced, and not chained. A bearer
  token with characters a header cannot carry is refused without showing it. Credentials written in
  a URL (``user:password@host``) are that location's own and win: the token is not sent there.
"""

import base64
import contextlib
import email.utils
import hashlib
import re
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A download failed for good; the message names the URL (without query) and why."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def redact(url: str) -> str:
    """The URL without credentials, query string or fragment, for messages (also for URLs that
    do not parse: their credentials and query are cut off as text)."""
    try:
        parts = urlparse(url)
        port = parts.port
        netloc = (parts.hostname or "") + (f":{port}" if port else "")
        return parts._replace(netloc=netloc, query="", fragment="").geturl()
    except ValueError:
        text = url.split("?", 1)[0].split("#", 1)[0]
        scheme, sep, rest = text.partition("://")
        return scheme + sep + rest.rsplit("@", 1)[-1] if sep else text.rsplit("@", 1)[-1]


_TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~+/=]+")  # RFC 6750 b64token


def check_bearer_token(token: str | None) -> str | None:
    """Why a bearer token cannot be sent in a header (the token itself never in the message), or None."""
    if token is None or token == "":
        return None
    if not _TOKEN_CHARACTERS.fullmatch(token):
        return ("PARTNERSHIP_HTTP_TOKEN holds characters a bearer token cannot have (a trailing newline or space, "
                f"quotes or control characters; {len(token)} characters, value not shown)")
    return None


class _Watched:
    """The sockets one download attempt opened, so a watchdog can cut them off at its deadline."""

    def __init__(self):
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def add(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.append(sock)

    def cut(self) -> None:
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _watched_session(watched: _Watched) -> requests.Session:
    """A session whose connections register their sockets with ``watched``."""

    class Connection(HTTPConnection):
        def _new_conn(self):
            sock = super()._new_conn()
            watched.add(sock)
            return sock

    class SecureConnection(HTTPSConnection):
        def _new_conn(self):
            sock = super()._new_conn()
            watched.add(sock)
            return sock

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    adapter = HTTPAdapter(max_retries=0)
    adapter.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": SecurePool}
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.max_redirects = 10
    session.trust_env = False
    return session


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
    # one attempt gives up after this long, or when, past the first ``timeout_seconds``, it has
    # received less than ``min_bytes_per_second`` on average: a server trickling a byte every few
    # seconds (which restarts the read timeout each time) cannot hold a run
    attempt_deadline_seconds: float = 900.0
    min_bytes_per_second: float = 1024.0
    sleep: object = time.sleep
    # told of every retry before its wait: (url shown, attempt that failed, attempts allowed, wait, reason)
    on_retry: object = None

    def fetch(self, url: str, dest: Path, previous: dict | None = None) -> FetchResult:
        shown = redact(url)
        expected_sha = _fragment_sha256(url)
        request_url = url.split("#", 1)[0]
        headers = {"Accept-Encoding": "identity"}
        if (problem := check_bearer_token(self.bearer_token)) is not None:
            raise FetchError(f"{shown}: {problem}")
        # credentials written in the URL (user:password@host) are that location's own and win: the
        # bearer token is not sent to it
        if self.bearer_token and "@" not in urlparse(request_url).netloc:
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
                if self.on_retry is not None:
                    self.on_retry(shown, attempt, self.max_attempts, wait, retry.reason)
                self.sleep(wait)
        raise FetchError(f"{shown}: failed after {self.max_attempts} attempts: {last_reason}")

    def _attempt(self, url: str, shown: str, dest: Path, headers: dict, expected_sha: str | None,
                 attempt: int) -> FetchResult:
        watched = _Watched()
        progress = {"received": 0, "cut": None}
        started = time.monotonic()

        def watchdog() -> None:
            while not stop.wait(0.2):
                elapsed = time.monotonic() - started
                if elapsed > self.attempt_deadline_seconds:
                    progress["cut"] = f"no complete answer within {self.attempt_deadline_seconds:g} s"
                elif elapsed > self.timeout_seconds and progress["received"] < (elapsed - self.timeout_seconds) * self.min_bytes_per_second:
                    progress["cut"] = (f"slower than {self.min_bytes_per_second:g} bytes/s "
                                       f"({progress['received']} bytes in {elapsed:.0f} s)")
                if progress["cut"]:
                    watched.cut()
                    return

        stop = threading.Event()
        guard = threading.Thread(target=watchdog, name="download-watchdog", daemon=True)
        guard.start()
        try:
            with _watched_session(watched) as session:
                result = self._download(session, url, shown, dest, headers, expected_sha, attempt, progress)
            if progress["cut"]:  # a cut connection can look like a short but complete answer
                raise _Retry("cut")
            return result
        except _Retry as retry:
            if progress["cut"]:
                raise _Retry(f"gave up: {progress['cut']}") from None
            raise retry from None
        finally:
            stop.set()

    def _download(self, session: requests.Session, url: str, shown: str, dest: Path, headers: dict,
                  expected_sha: str | None, attempt: int, progress: dict) -> FetchResult:
        try:
            response = session.get(url, stream=True, headers=headers, allow_redirects=True,
                                   timeout=(self.connect_timeout_seconds, self.timeout_seconds))
        except requests.Timeout:
            raise _Retry("timed out") from None
        except requests.TooManyRedirects:
            raise FetchError(f"{shown}: more than {session.max_redirects} redirects (a redirect loop?)") from None
        except (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader) as exc:
            # the library's message quotes the URL with its credentials: only the kind of problem is kept
            raise FetchError(f"{shown}: cannot be requested ({type(exc).__name__}: a redirect to or a URL with an "
                             "unsupported scheme, no host, or an invalid header)") from None
        except requests.ConnectionError:
            raise _Retry("connection failed") from None
        except requests.RequestException as exc:
            raise _Retry(f"request failed ({type(exc).__name__})") from None
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
            encoded = bool(response.headers.get("Content-Encoding", "").strip().lower() not in ("", "identity"))
            try:
                with open(dest, "wb") as out:
                    # decoded as the server encoded it (Content-Encoding: gzip despite our request for
                    # identity); Content-Length counts the bytes on the wire
                    for chunk in response.raw.stream(1 << 16, decode_content=True):
                        received += len(chunk)
                        progress["received"] = response.raw.tell()
                        if received > self.max_bytes:
                            raise FetchError(f"{shown}: larger than the {self.max_bytes} byte limit")
                        digest.update(chunk)
                        out.write(chunk)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise _Retry(f"incomplete body ({type(exc).__name__}) after {response.raw.tell()} of "
                             f"{declared or '?'} bytes") from None
            on_wire = response.raw.tell()
            if declared is not None and declared.isdigit() and int(declared) != on_wire:
                raise _Retry(f"incomplete body: {on_wire} of {declared} bytes")
            sha = digest.hexdigest()
            # a digest header describes the bytes as sent, so it is compared only when they were not encoded
            published = expected_sha or (None if encoded else _header_sha256(response.headers))
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
