"""The published copy on object storage: what a run published, readable from ``s3://`` (or ``gs://``,
or ``file://`` for a shared folder) by analysts and services that do not see the data dir.

The data dir stays the working store: landing, staging, locks, run history and reuse need a file
system's renames, hard links and locks, which object storage does not have. After every run the
catalog's consistent set (the files its newest build pinned: every table's partitions and the
rejects, as of the end of one run) is copied to ``<url>``:

- ``objects/<sha256>.parquet``: each Parquet file once, named by its content. A partition that a
  later date reused (the same bytes) is not uploaded again; objects are never overwritten.
- ``catalog/<sha256>.sql``: DuckDB views over the objects (``<table>``, ``latest_<table>``,
  ``rejects``), with the partition values as columns, as in ``partnership.duckdb``.
- ``_published.json``: the manifest, the pointer readers follow: per table its partitions and their
  objects, the rejects', the SQL's name. It is written once every object it names is in place, in
  one PUT (object stores replace an object whole; on a file system, one rename), so a reader sees
  the previous copy or this one, never a mix, and a copy that fails part-way changes nothing a
  reader sees.
- ``_published.previous.json``: the manifest before it. Objects referenced by neither are deleted
  once the new manifest is in place, so a reader who read the previous manifest can still finish.
- ``landing/<sha256>``: every landed source file, once, as fetched; the manifest lists each
  source's snapshots with their files' names, origins and sha256 (the raw bytes behind every
  partition, for audit).
- ``docs/index.html``, ``report/*.html``: the data dictionary and the report pages.

Reading: :func:`open_published` returns a DuckDB connection with the views (through the same
file system), or, in DuckDB itself with its httpfs extension, ``.read`` the SQL named in the
manifest. Polars and pandas read the objects directly from the manifest's lists.
"""

import hashlib
import io
import json
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from pipelines.storage.catalog import PARQUET_OPTIONS, partition_values, sql_string
from pipelines.storage.fetch import redact
from pipelines.storage.landed import sha256_of_file
from schemas.catalog import TABLES, WHOLE

MANIFEST = "_published.json"
PREVIOUS = "_published.previous.json"
OBJECTS, SQL, LANDING = "objects", "catalog", "landing"
FORMAT = 1
URL_VARIABLE = "partnership_published"
SCHEMES = ("s3", "gs", "file")
COPY_CHUNK = 8 << 20


class PublishedCopyError(RuntimeError):
    """The published copy could not be written or read; the message names the place (without
    credentials) and why."""


def check_url(url: str) -> str | None:
    """Why ``url`` cannot be a published copy's place, or None (no network is used)."""
    parts = urlsplit(url)
    shown = redact(url) if parts.username or parts.password or parts.query else url
    if parts.scheme not in SCHEMES:
        return f"{shown} is not an object storage URL ({', '.join(s + '://' for s in SCHEMES)})"
    if parts.scheme != "file" and not parts.hostname:
        return f"{shown} names no bucket"
    return None


def _scrubbed(text: str, url: str) -> str:
    """``text`` without the credentials ``url`` may carry (user:password@)."""
    parts = urlsplit(url)
    for secret in (parts.password, parts.username):
        if secret:
            text = text.replace(secret, "***")
    return text


def _place(url: str):
    """(pyarrow file system, base path, base as readers write it)."""
    import pyarrow.fs as pafs

    if (problem := check_url(url)) is not None:
        raise PublishedCopyError(problem)
    try:
        fs, path = pafs.FileSystem.from_uri(url)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ...
        raise PublishedCopyError(_scrubbed(f"{redact(url)}: {exc}", url)) from None
    path = path.rstrip("/")
    parts = urlsplit(url)
    readable = path if parts.scheme == "file" else f"{parts.scheme}://{path}"
    return fs, path, readable


@dataclass
class CopyResult:
    url: str  # without credentials
    objects: int = 0  # objects the manifest references
    uploaded: int = 0
    uploaded_bytes: int = 0
    deleted: int = 0
    tables: int = 0
    partitions: int = 0
    pages: list[str] = field(default_factory=list)


def _put(fs, path: str, source: BinaryIO, *, atomic_local: bool) -> None:
    """Write ``source`` at ``path``. An object store shows an object once it is whole; a file system
    shows a file while it is written, so there it is written beside its place, then renamed."""
    target = f"{path}.tmp-{uuid.uuid4().hex}" if atomic_local else path
    with fs.open_output_stream(target) as out:
        shutil.copyfileobj(source, out, COPY_CHUNK)
    if atomic_local:
        fs.move(target, path)


def _write(fs, path: str, data: bytes, *, atomic_local: bool) -> None:
    _put(fs, path, io.BytesIO(data), atomic_local=atomic_local)


def _upload(fs, local: Path, path: str, *, atomic_local: bool) -> None:
    with open(local, "rb") as source:
        _put(fs, path, source, atomic_local=atomic_local)


def _existing(fs, folder: str) -> dict[str, int]:
    """Objects under ``folder``: relative name -> size."""
    import pyarrow.fs as pafs

    infos = fs.get_file_info(pafs.FileSelector(folder, recursive=True, allow_not_found=True))
    return {i.path[len(folder) + 1:]: i.size for i in infos if i.type == pafs.FileType.File}


def _read_json(fs, path: str) -> dict | None:
    import pyarrow.fs as pafs

    if fs.get_file_info(path).type != pafs.FileType.File:
        return None
    with fs.open_input_stream(path) as stream:
        return json.loads(stream.read())


def _referenced(manifest: dict | None) -> set[str]:
    """Every object and SQL file ``manifest`` names."""
    if not manifest:
        return set()
    parts = [*(p for entry in manifest["tables"].values() for p in entry["partitions"]), *manifest["rejects"]]
    landed = (f["object"] for days in manifest["landing"].values() for day in days.values() for f in day["files"])
    return {manifest["catalog_sql"], *(o for part in parts for o in part["objects"]), *landed}


def _select(base: str, part: dict, keys: tuple[str, ...]) -> str:
    files = ", ".join(f"coalesce(getvariable('{URL_VARIABLE}'), {sql_string(base)}) || {sql_string('/' + o)}"
                      for o in part["objects"])
    constants = "".join(
        f", {'DATE ' if key == 'snapshot_date' else ''}{sql_string(part['values'][key])} AS {key}" for key in keys)
    return f"SELECT *{constants} FROM read_parquet([{files}], {PARQUET_OPTIONS})"


def catalog_sql(manifest: dict, base: str) -> str:
    """DuckDB views over the manifest's objects: ``<table>`` (every partition, partition values as
    columns), ``latest_<table>``, ``rejects``. A table with nothing published has no view."""
    statements = [f"-- published copy of {manifest['published_at']}; SET VARIABLE {URL_VARIABLE} = '<url>' to "
                  "read it from another place"]
    for table, entry in manifest["tables"].items():
        parts = [p for p in entry["partitions"] if p["objects"]]
        if not parts:
            continue
        keys = tuple(parts[0]["values"])
        statements.append(f"CREATE OR REPLACE VIEW {table} AS\n" + "\nUNION ALL BY NAME\n".join(
            _select(base, p, keys) for p in parts))
        if entry["partitioning"] != WHOLE:
            statements.append(f"CREATE OR REPLACE VIEW latest_{table} AS {_select(base, parts[-1], keys)}")
        statements.append(f"COMMENT ON VIEW {table} IS {sql_string(TABLES[table].description)}")
    rejects = [p for p in manifest["rejects"] if p["objects"]]
    if rejects:
        statements.append("CREATE OR REPLACE VIEW rejects AS\n" + "\nUNION ALL BY NAME\n".join(
            _select(base, p, ("source", "snapshot_date")) for p in rejects))
    return ";\n".join(statements) + ";\n"


def publish_copy(root: Path, pins: dict, url: str, pages: list[Path], landed: list = ()) -> CopyResult:
    """Copy what ``pins`` (a catalog build's pinned folders, under ``root``) holds, the ``pages`` and
    the ``landed`` snapshots (:class:`~pipelines.storage.store.LandedSnapshot`) to ``url``, then
    switch the manifest; see the module's description."""
    fs, base, readable = _place(url)
    local = urlsplit(url).scheme == "file"
    result = CopyResult(url=redact(url))
    switched = False
    try:
        for folder in (OBJECTS, SQL, LANDING, *sorted({p.parent.name for p in pages})):
            fs.create_dir(f"{base}/{folder}", recursive=True)
        present = {f"{OBJECTS}/{k}": n for k, n in _existing(fs, f"{base}/{OBJECTS}").items()}
        present.update({f"{LANDING}/{k}": n for k, n in _existing(fs, f"{base}/{LANDING}").items()})

        def put(file: Path, key: str) -> str:
            size = file.stat().st_size
            if present.get(key) != size:  # absent, or a copy cut short by a crash
                _upload(fs, file, f"{base}/{key}", atomic_local=local)
                present[key] = size
                result.uploaded += 1
                result.uploaded_bytes += size
            return key

        def objects(folder: str, names: list[str]) -> list[str]:
            files = [root / ".catalog" / pins["build"] / folder / name for name in names]
            return [put(file, f"{OBJECTS}/{sha256_of_file(file)}.parquet") for file in files]

        landing: dict[str, dict] = {}
        for snapshot in landed:  # landed files are immutable; the manifest gives their sha256
            files = [{**{k: entry[k] for k in ("name", "origin", "sha256", "bytes") if k in entry},
                      "object": put(snapshot.folder / entry["name"], f"{LANDING}/{entry['sha256']}")}
                     for entry in snapshot.manifest["files"]]
            landing.setdefault(snapshot.source, {})[snapshot.snapshot_date] = {
                "files": files, **({"format": snapshot.format} if snapshot.format else {})}

        tables = {}
        for table, folders in pins["tables"].items():
            spec = TABLES[table]
            tables[table] = {"layer": spec.layer, "partitioning": spec.partitioning, "partitions": [
                {"values": partition_values(folder), "objects": objects(folder, names)} for folder, names in folders]}
            result.tables += bool(folders)
            result.partitions += len(folders)
        rejects = [{"values": partition_values(folder), "objects": objects(folder, names)}
                   for folder, names in pins["rejects"]]
        manifest = {"format": FORMAT, "published_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                    "build": pins["build"], "tables": tables, "rejects": rejects, "landing": landing}
        sql = catalog_sql(manifest, readable).encode("utf-8")
        manifest["catalog_sql"] = f"{SQL}/{hashlib.sha256(sql).hexdigest()}.sql"
        _write(fs, f"{base}/{manifest['catalog_sql']}", sql, atomic_local=local)

        previous = _read_json(fs, f"{base}/{MANIFEST}")
        if previous is not None:
            _write(fs, f"{base}/{PREVIOUS}", json.dumps(previous).encode(), atomic_local=local)
        _write(fs, f"{base}/{MANIFEST}", json.dumps(manifest, indent=1).encode(), atomic_local=local)
        switched = True
        for page in pages:  # the pages of what the manifest now names
            relative = f"{page.parent.name}/{page.name}"
            _write(fs, f"{base}/{relative}", page.read_bytes(), atomic_local=local)
            result.pages.append(relative)

        keep = _referenced(manifest) | _referenced(previous)
        result.objects = len(_referenced(manifest)) - 1  # not the SQL
        for folder in (OBJECTS, SQL, LANDING):
            for name in _existing(fs, f"{base}/{folder}"):
                if f"{folder}/{name}" not in keep:
                    fs.delete_file(f"{base}/{folder}/{name}")
                    result.deleted += 1
    except PublishedCopyError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow raises OSError and its own errors
        what = ("the manifest was switched, but the pages or the removal of unneeded objects failed" if switched
                else "the published copy was not switched")
        raise PublishedCopyError(_scrubbed(f"{redact(url)}: {what}: {exc}", url)) from None
    return result


def read_manifest(url: str) -> dict:
    fs, base, _ = _place(url)
    manifest = _read_json(fs, f"{base}/{MANIFEST}")
    if manifest is None:
        raise PublishedCopyError(f"{redact(url)}: no {MANIFEST}: nothing was published there")
    return manifest


def open_published(url: str):
    """An in-memory DuckDB connection with the published copy's views, reading the objects through
    pyarrow's file system for ``url`` (the environment's credentials, as for the copy)."""
    import duckdb
    from fsspec.implementations.arrow import ArrowFSWrapper

    fs, base, readable = _place(url)
    manifest = read_manifest(url)
    con = duckdb.connect()
    scheme = urlsplit(url).scheme
    if scheme != "file":
        wrapper = type("PublishedFileSystem", (ArrowFSWrapper,), {"protocol": scheme, "root_marker": ""})
        con.register_filesystem(wrapper(fs))
    with fs.open_input_stream(f"{base}/{manifest['catalog_sql']}") as stream:
        sql = stream.read().decode("utf-8")
    con.execute(f"SET VARIABLE {URL_VARIABLE} = {sql_string(readable)}")
    con.execute(sql)
    return con
