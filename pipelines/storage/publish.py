"""Atomic publication of hive-partitioned Parquet datasets.

A partition (``<table>/snapshot_date=YYYY-MM-DD/``) is written in full under ``<data_dir>/.staging/``
(never where readers look), then swapped into place. On Linux the swap is one ``renameat2`` call
with ``RENAME_EXCHANGE``, so readers see either the old partition or the new one, never a mix and
never a half-written file. Re-running a partition replaces it; the same rows give the same bytes
(deterministic part names, no timestamps in the files).
"""

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "statistics": True}
_STALE_STAGING_SECONDS = 6 * 3600
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _load_renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _load_renameat2()


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths; False where the platform cannot."""
    if _renameat2 is None:
        return False
    rc = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def partition_dirname(partition: dict[str, str]) -> str:
    return "/".join(f"{k}={v}" for k, v in partition.items())


def swap_into_place(staging: Path, target: Path) -> None:
    """Publish the finished folder ``staging`` at ``target`` in one step: readers see the old folder
    or the new one, never a mix. The previous version, if any, is removed afterwards."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        if _exchange(staging, target):
            shutil.rmtree(staging)  # now holds the previous version
        else:
            trash = staging.with_name(staging.name + "-previous")
            os.rename(target, trash)
            os.rename(staging, target)
            shutil.rmtree(trash)
    else:
        os.rename(staging, target)


def write_text_atomic(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and one rename; the
    file is readable by everyone (``mode``), as published outputs are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, document: dict, *, indent: int = 2) -> None:
    """Write ``document`` to ``path`` through a temporary file in the same folder and one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=indent, sort_keys=True)
            fh.write("\n")
        os.chmod(tmp, 0o644)  # readable by all, as every published file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Descriptions:
    """What a table and its columns mean, written into every Parquet file of the table: each
    column's description as Arrow field metadata (``pyarrow.parquet.read_schema(f).field(c).metadata``)
    and the table's grain and column descriptions as file key-value metadata
    (``polars.read_parquet_metadata(f)``, DuckDB's ``parquet_kv_metadata``)."""

    table: str
    grain: str
    columns: dict[str, str]


def _write_parquet(frame: pl.DataFrame, path: Path, descriptions: Descriptions | None) -> None:
    if descriptions is None:
        frame.write_parquet(path, **PARQUET_OPTIONS)
        return
    arrow = frame.head(0).to_arrow().schema
    fields = [f.with_metadata({"description": descriptions.columns[f.name]}) if descriptions.columns.get(f.name) else f
              for f in arrow]
    metadata = {"partnership.table": descriptions.table, "partnership.grain": descriptions.grain,
                "partnership.columns": json.dumps({c: d for c, d in descriptions.columns.items() if c in frame.columns},
                                                  ensure_ascii=False, sort_keys=True)}
    frame.write_parquet(path, arrow_schema=pa.schema(fields), metadata=metadata, **PARQUET_OPTIONS)


class PartFolder:
    """The part files of one dataset partition, written into ``folder``: by a :class:`PartitionWriter`
    in its staging folder, or ahead of it by a step that may run in another process or on another
    machine (a spool), for the writer to :meth:`PartitionWriter.adopt` later.

    ``write`` adds a part file; ``discard(prefix)`` removes the parts of an input that turned out
    to be unreadable; ``parts`` are the part names written, with their rows.
    """

    def __init__(self, folder: Path, partition: dict[str, str], descriptions: Descriptions | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.partition = partition
        self.descriptions = descriptions
        self._parts: dict[str, int] = {}
        self._schema: pl.Schema | None = None

    @property
    def rows(self) -> int:
        return sum(self._parts.values())

    @property
    def parts(self) -> dict[str, int]:
        return dict(self._parts)

    def write(self, frame: pl.DataFrame, part_name: str) -> None:
        if part_name in self._parts:
            raise ValueError(f"part {part_name} written twice")
        # partition values live in the folder names (hive layout), not in the files
        frame = frame.drop([c for c in self.partition if c in frame.columns])
        self._schema = frame.schema
        if frame.height == 0:
            return
        _write_parquet(frame, self.folder / f"{part_name}.parquet", self.descriptions)
        self._parts[part_name] = frame.height

    def discard(self, prefix: str) -> int:
        """Remove the parts whose name starts with ``prefix``; returns the rows removed."""
        removed = 0
        for name in [n for n in self._parts if n.startswith(prefix)]:
            (self.folder / f"{name}.parquet").unlink()
            removed += self._parts.pop(name)
        return removed


class PartitionWriter(PartFolder):
    """Writes the part files of one dataset partition, then publishes them in one step.

    ``commit`` swaps the finished partition into place; ``abort`` leaves the published partition
    untouched.
    """

    def __init__(self, dataset_dir: Path, partition: dict[str, str], staging_root: Path,
                 descriptions: Descriptions | None = None):
        self.dataset_dir = Path(dataset_dir)
        self.target = self.dataset_dir / partition_dirname(partition)
        staging_root = Path(staging_root)
        staging_root.mkdir(parents=True, exist_ok=True)
        clean_orphans(staging_root)
        self._staging = staging_root / f"{owner_tag()}-{uuid.uuid4().hex}-{self.dataset_dir.name}"
        self._staging.mkdir(parents=True)
        super().__init__(self._staging, partition, descriptions)

    def adopt(self, folder: Path, parts: dict[str, int], prefix: str) -> None:
        """Take the ``parts`` (name: rows) written in ``folder`` (a :class:`PartFolder`'s) as parts
        ``<prefix><name>`` of this partition: hard links, so that ``folder`` stays whole until the
        partition is committed (a copy where the file system has no hard links)."""
        for name, rows in parts.items():
            if prefix + name in self._parts:
                raise ValueError(f"part {prefix + name} written twice")
            source, target = Path(folder) / f"{name}.parquet", self._staging / f"{prefix}{name}.parquet"
            try:
                os.link(source, target)
            except OSError as exc:
                if not source.is_file():
                    raise FileNotFoundError(f"part file {source} is gone: the step that wrote it must run again") \
                        from exc
                shutil.copyfile(source, target)
            self._parts[prefix + name] = rows

    def commit(self, empty_schema: pl.Schema | dict | None = None) -> Path:
        """Publish the partition. An empty partition still gets one empty file carrying the schema,
        so that readers of the table find its columns."""
        staging, target = self.finish(empty_schema)
        swap_into_place(staging, target)
        return target

    def finish(self, empty_schema: pl.Schema | dict | None = None) -> tuple[Path, Path]:
        """Complete the staged partition without publishing it: (staged folder, target), for
        :func:`publish_set`."""
        if not self._parts:
            schema = empty_schema if empty_schema is not None else self._schema
            if schema is None:
                raise ValueError(f"{self.dataset_dir.name}: nothing written and no schema for an empty partition")
            empty = pl.DataFrame(schema=schema)
            _write_parquet(empty.drop([c for c in self.partition if c in empty.columns]),
                           self._staging / "part-00000-00000.parquet", self.descriptions)
        for leftover in self._staging.iterdir():
            if not leftover.name.endswith(".parquet"):
                leftover.unlink()
        return self._staging, self.target

    def abort(self) -> None:
        shutil.rmtree(self._staging, ignore_errors=True)


def _start_ticks(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None when it does not
    exist; with the pid it tells a process apart from a later one that reuses its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def owner_tag() -> str:
    """The prefix of staging entries this process creates: ``p<pid>.<start ticks>``."""
    return f"p{os.getpid()}.{_start_ticks(os.getpid()) or 0}"


def _owner_alive(name: str) -> bool | None:
    """Whether the process that created a staging entry still runs; None for entries without a tag."""
    if not name.startswith("p") or "." not in name.split("-", 1)[0]:
        return None
    pid_text, _, ticks = name.split("-", 1)[0][1:].partition(".")
    if not pid_text.isdigit():
        return None
    current = _start_ticks(int(pid_text))
    if current is None:
        if not Path("/proc/self/stat").exists():  # no /proc: ask the kernel whether the pid exists
            try:
                os.kill(int(pid_text), 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        return False
    return ticks in ("0", current)


SETS = "sets"  # <staging root>/sets/: journals of sets of partitions being published together


def publish_set(pairs: list[tuple[Path, Path]], staging_root: Path, _after_swap=None) -> None:
    """Publish several finished partitions (staged folder, target) as one set: the tables of one
    source, or the outputs of one derived table, for one date.

    Each partition swaps in one rename, and a journal written first lists the set: when the
    process dies between two swaps, the next publication or landing in this data dir (see
    :func:`clean_orphans`) completes the set before anything else, so the tables never stay out of
    step. A hidden marker in each staged folder tells, after a crash, which swaps were done."""
    if len(pairs) <= 1:
        for staging, target in pairs:
            swap_into_place(staging, target)
        return
    journals = Path(staging_root) / SETS
    journals.mkdir(parents=True, exist_ok=True)
    set_id = f"{owner_tag()}-{uuid.uuid4().hex}"
    marker = f".set-{set_id}"
    for staging, _ in pairs:
        (staging / marker).touch()
    journal = journals / f"{set_id}.json"
    write_json_atomic(journal, {"marker": marker, "pairs": [[str(s), str(t)] for s, t in pairs]})
    for staging, target in pairs:
        swap_into_place(staging, target)
        if _after_swap is not None:
            _after_swap()
    _finish_set(journal, [(Path(s), Path(t)) for s, t in pairs], marker)


def _finish_set(journal: Path, pairs: list[tuple[Path, Path]], marker: str) -> None:
    for _, target in pairs:
        (target / marker).unlink(missing_ok=True)
    journal.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # another set may be under way
        journal.parent.rmdir()


def recover_sets(staging_root: Path) -> int:
    """Complete the sets that a process which no longer runs began to publish; returns how many."""
    journals = Path(staging_root) / SETS
    recovered = 0
    for journal in sorted(journals.glob("*.json")) if journals.is_dir() else []:
        if _owner_alive(journal.name) is not False:
            continue
        try:
            document = json.loads(journal.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            journal.unlink(missing_ok=True)
            continue
        marker = document["marker"]
        pairs = [(Path(s), Path(t)) for s, t in document["pairs"]]
        for staging, target in pairs:
            if (target / marker).exists():
                continue  # swapped before the process died
            if (staging / marker).exists():
                swap_into_place(staging, target)
        _finish_set(journal, pairs, marker)
        recovered += 1
    return recovered


def clean_orphans(staging_root: Path) -> int:
    """Remove what killed runs left in a staging folder: entries whose creating process no longer
    runs (at once), and untagged entries older than six hours, after completing the sets such a
    process began to publish. Returns how many entries were removed."""
    recover_sets(staging_root)
    removed = 0
    cutoff = time.time() - _STALE_STAGING_SECONDS
    for entry in Path(staging_root).iterdir() if Path(staging_root).is_dir() else []:
        if entry.name == SETS:
            continue
        try:
            alive = _owner_alive(entry.name)
            if alive is False or (alive is None and entry.stat().st_mtime < cutoff):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def publish_frame(frame: pl.DataFrame, dataset_dir: Path, partition: dict[str, str], staging_root: Path,
                  descriptions: Descriptions | None = None) -> Path:
    """Publish one frame as a whole partition."""
    writer = PartitionWriter(dataset_dir, partition, staging_root, descriptions)
    try:
        writer.write(frame, "part-00000-00000")
        return writer.commit(empty_schema=frame.schema)
    except BaseException:
        writer.abort()
        raise
