"""Landing: copy or download each source's files into ``landing/<source>/<snapshot_date>/``.

Files are kept exactly as fetched, with ``_manifest.json`` beside them (sha256, bytes, origin,
fetched_at). Landing the same content again changes nothing: same files, same manifest. A landed
snapshot of a past date is reused as it is, so re-running an old partition reads the same bytes.
"""

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from pipelines.settings import SourceSpec

MANIFEST_NAME = "_manifest.json"
_CHUNK = 1 << 20
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class LandingError(RuntimeError):
    """A location could not be fetched; the message names it."""


@dataclass(frozen=True)
class LandedFile:
    name: str
    origin: str
    sha256: str
    bytes: int
    fetched_at: str
    path: Path

    def manifest_entry(self) -> dict:
        entry = asdict(self)
        entry.pop("path")
        return entry


@dataclass(frozen=True)
class LandingResult:
    source: str
    snapshot_date: str
    directory: Path
    files: list[LandedFile]
    changed: bool
    reused: bool = False

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)


# A fetcher streams the bytes of one URL into an open binary file; it raises LandingError on failure.
Fetcher = Callable[[str, object], None]


def redact(url: str) -> str:
    """The URL without credentials or query string, for messages."""
    parts = urlparse(url)
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc, query="", fragment="").geturl()


def default_fetcher(url: str, out, *, timeout: float = 60.0, max_bytes: int = 4 << 30,
                    bearer_token: str | None = None) -> None:
    import requests

    shown = redact(url)
    headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else {}
    try:
        with requests.get(url, stream=True, timeout=(10, timeout), headers=headers) as response:
            if response.status_code >= 400:
                raise LandingError(f"{shown}: download failed: HTTP {response.status_code}")
            expected = response.headers.get("Content-Length")
            received = 0
            for chunk in response.iter_content(_CHUNK):
                received += len(chunk)
                if received > max_bytes:
                    raise LandingError(f"{shown}: larger than the {max_bytes} byte limit")
                out.write(chunk)
            if expected is not None and expected.isdigit() and int(expected) != received:
                raise LandingError(f"{shown}: incomplete body, {received} of {expected} bytes")
    except requests.RequestException as exc:
        raise LandingError(f"{shown}: download failed: {exc.__class__.__name__}") from None


def _landed_name(location: str, taken: set[str]) -> str:
    raw = urlparse(location).path if location.startswith(("http://", "https://")) else location
    name = _SAFE_NAME.sub("_", os.path.basename(raw.rstrip("/"))) or "download"
    name = name.lstrip(".") or "download"
    candidate, n = name, 1
    while candidate in taken or candidate == MANIFEST_NAME:
        candidate = f"{n:02d}-{name}"
        n += 1
    taken.add(candidate)
    return candidate


def read_manifest(directory: Path) -> dict | None:
    path = directory / MANIFEST_NAME
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json_atomic(path: Path, document: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def _files_from_manifest(directory: Path, manifest: dict) -> list[LandedFile]:
    return [LandedFile(path=directory / e["name"], **e) for e in manifest["files"]]


def land_source(
    spec: SourceSpec,
    landing_root: Path,
    snapshot_date: str,
    *,
    reuse_existing: bool,
    fetcher: Fetcher | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> LandingResult:
    """Land every location of ``spec`` for ``snapshot_date``.

    With ``reuse_existing`` (a past partition that was landed before) the landed snapshot is
    returned untouched. Otherwise each location is fetched into a staging file next to the landing
    folder, hashed, and moved in only when complete; a file whose content did not change keeps its
    original ``fetched_at``.
    """
    directory = landing_root / spec.name / snapshot_date
    previous = read_manifest(directory)
    if previous is not None and reuse_existing:
        return LandingResult(spec.name, snapshot_date, directory, _files_from_manifest(directory, previous),
                             changed=False, reused=True)

    locations = spec.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    previous_by_name = {e["name"]: e for e in (previous or {}).get("files", [])}
    staging = landing_root / ".staging"
    staging.mkdir(parents=True, exist_ok=True)

    taken: set[str] = set()
    landed: list[LandedFile] = []
    changed = previous is None
    for location in locations:
        name = _landed_name(location, taken)
        fd, tmp_name = tempfile.mkstemp(prefix=f"{spec.name}-", dir=staging)
        tmp = Path(tmp_name)
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:
                hashing = _HashingWriter(out, digest)
                if spec.is_url(location):
                    (fetcher or default_fetcher)(location, hashing)
                else:
                    try:
                        with open(location, "rb") as src:
                            shutil.copyfileobj(src, hashing, _CHUNK)
                    except OSError as exc:
                        raise LandingError(f"{location}: cannot read: {exc.strerror}") from exc
            sha, size = digest.hexdigest(), tmp.stat().st_size
            before = previous_by_name.get(name)
            target = directory / name
            if before and before["sha256"] == sha and target.is_file() and target.stat().st_size == size:
                tmp.unlink()
                landed.append(LandedFile(path=target, **before))
                continue
            os.replace(tmp, target)
            changed = True
            landed.append(LandedFile(name=name, origin=location, sha256=sha, bytes=size,
                                     fetched_at=now().isoformat(timespec="seconds"), path=target))
        finally:
            if tmp.exists():
                tmp.unlink()

    if previous is not None and (set(previous_by_name) != {f.name for f in landed}
                                 or previous.get("format") != spec.format):
        changed = True
    if changed:
        # Files of an earlier landing of this date that the current locations no longer name.
        keep = {f.name for f in landed} | {MANIFEST_NAME}
        for stale in directory.iterdir():
            if stale.is_file() and stale.name not in keep:
                stale.unlink()
        _write_json_atomic(directory / MANIFEST_NAME, {
            "source": spec.name,
            "snapshot_date": snapshot_date,
            "format": spec.format,
            "files": [f.manifest_entry() for f in landed],
        })
    return LandingResult(spec.name, snapshot_date, directory, landed, changed=changed)


class _HashingWriter:
    """File-like wrapper that hashes what passes through it."""

    def __init__(self, out, digest):
        self._out, self._digest = out, digest

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return self._out.write(data)
