"""Landing: copy or download each source's files into ``landing/<source>/<snapshot_date>/``.

Files are kept exactly as fetched, with ``_manifest.json`` beside them (sha256, bytes, origin,
fetched_at). Landing the same content again changes nothing: same files, same manifest. A landed
snapshot of a past date is reused as it is, so re-running an old partition reads the same bytes.

One copy of the bytes: every landed file is a hard link to ``landing/.objects/<sha256>``, the one
copy of that content, so the same file landed on many dates (or by two sources) takes its space
once. A local file is hashed before it is copied: content already stored is linked, not copied
again. Landed files are read-only for everyone but readable by all (0444); where the file system
has no hard links, each date keeps its own copy.
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

from pipelines.storage.fetch import FetchError, HttpFetcher, redact
from pipelines.storage.publish import clean_orphans, owner_tag, write_json_atomic
from pipelines.storage.settings import SourceSpec

MANIFEST_NAME = "_manifest.json"
OBJECTS = ".objects"
LANDED_MODE = 0o444
_CHUNK = 1 << 20
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class LandingError(RuntimeError):
    """A location could not be fetched; the message names it."""


__all__ = ["LandingError", "LandedFile", "LandingResult", "land_source", "read_manifest", "redact"]


@dataclass(frozen=True)
class LandedFile:
    name: str
    origin: str
    sha256: str
    bytes: int
    fetched_at: str
    path: Path
    etag: str | None = None
    last_modified: str | None = None

    def manifest_entry(self) -> dict:
        entry = asdict(self)
        entry.pop("path")
        # a URL's query may carry a token: the manifest keeps the URL without it
        entry["origin"] = redact(self.origin) if self.origin.startswith(("http://", "https://")) else self.origin
        return {k: v for k, v in entry.items() if v is not None}


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


def sha256_of_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _object_path(landing_root: Path, sha: str) -> Path:
    return landing_root / OBJECTS / sha[:2] / sha


def _store_object(landing_root: Path, tmp: Path, sha: str) -> Path:
    """Move a complete staged file into the object store."""
    obj = _object_path(landing_root, sha)
    obj.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp, LANDED_MODE)
    os.replace(tmp, obj)
    return obj


def _place(obj: Path, target: Path) -> None:
    """Make ``target`` the content of ``obj``, in one rename: a hard link, or a copy where links fail."""
    fd, temporary = tempfile.mkstemp(prefix=".landing-", dir=target.parent)
    os.close(fd)
    os.unlink(temporary)
    try:
        os.link(obj, temporary)
    except OSError:
        shutil.copyfile(obj, temporary)
        os.chmod(temporary, LANDED_MODE)
    os.replace(temporary, target)


def _files_from_manifest(directory: Path, manifest: dict) -> list[LandedFile]:
    return [LandedFile(path=directory / e["name"], **e) for e in manifest["files"]]


def land_source(
    spec: SourceSpec,
    landing_root: Path,
    snapshot_date: str,
    *,
    reuse_existing: bool,
    fetcher: HttpFetcher | None = None,
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
    clean_orphans(staging)  # copies left by killed runs

    taken: set[str] = set()
    landed: list[LandedFile] = []
    changed = previous is None
    for location in locations:
        name = _landed_name(location, taken)
        fd, tmp_name = tempfile.mkstemp(prefix=f"{owner_tag()}-{spec.name}-", dir=staging)
        tmp = Path(tmp_name)
        before = previous_by_name.get(name)
        target = directory / name
        try:
            etag = last_modified = None
            if spec.is_url(location):
                os.close(fd)
                try:
                    fetched = (fetcher or HttpFetcher()).fetch(location, tmp, before if target.is_file() else None)
                except FetchError as exc:
                    raise LandingError(str(exc)) from None
                if fetched.not_modified and before and target.is_file():
                    landed.append(LandedFile(path=target, **before))  # unchanged upstream: nothing downloaded
                    continue
                sha, etag, last_modified = fetched.sha256, fetched.etag, fetched.last_modified
                size = tmp.stat().st_size
            else:
                try:
                    sha = sha256_of_file(location)  # hashed first: content already stored is not copied again
                    size = os.stat(location).st_size
                    if _object_path(landing_root, sha).is_file():
                        os.close(fd)
                    else:
                        digest = hashlib.sha256()
                        with os.fdopen(fd, "wb") as out, open(location, "rb") as src:
                            shutil.copyfileobj(src, _HashingWriter(out, digest), _CHUNK)
                        if digest.hexdigest() != sha:
                            raise LandingError(f"{location}: changed while it was being landed; land it again")
                        size = tmp.stat().st_size
                except OSError as exc:
                    raise LandingError(f"{location}: cannot read: {exc.strerror}") from exc
            if before and before["sha256"] == sha and target.is_file() and target.stat().st_size == size:
                tmp.unlink(missing_ok=True)
                landed.append(LandedFile(path=target, **before))
                continue
            obj = _object_path(landing_root, sha)
            if not obj.is_file():
                _store_object(landing_root, tmp, sha)  # tmp holds the complete content here
            tmp.unlink(missing_ok=True)
            _place(obj, target)
            changed = True
            landed.append(LandedFile(name=name, origin=location, sha256=sha, bytes=size,
                                     fetched_at=now().isoformat(timespec="seconds"), path=target,
                                     etag=etag, last_modified=last_modified))
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
        write_json_atomic(directory / MANIFEST_NAME, {
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
