"""The analyst's entry point: ``<data_dir>/partnership.duckdb``, one DuckDB file that opens every table.

It holds no data, only views over the published Parquet:

- ``<table>``: every published partition of a table (``snapshot_date`` as a DATE column);
- ``latest_<table>``: the latest partition only, for tables published per snapshot or list date
  (the safe default: summing a table over all its snapshots multiplies the totals);
- ``rejects``: every quarantined record (``source`` and ``snapshot_date`` as columns);
- ``catalog_tables``: per table, its layer, grain, partitioning, latest date and the rows of it;
- ``catalog_info``: the data dir the views read and when the catalog was built.

The catalog is the manifest readers follow. When it is built, the files of every published partition
are pinned: hard-linked (copied where the file system has no hard links) under
``.catalog/<build>/``, and the views read those links. It is then swapped in whole (one rename)
after the tables of a run are published. So what a reader of the catalog sees is the state of the
end of one run, all tables together: a partition that a later run is still writing or replacing is
not in it, and a mart and the facts it reconciles with always come from the same build. The pinned
files of the two newest builds are kept (the current one, and the previous one for readers who
opened it before the swap); older ones are removed. Every table and column carries its description
(``COMMENT ON``, from the Pandera models).

Paths: every view reads ``getvariable('partnership_data_dir')`` where it is set, and the data dir
the catalog was built in otherwise. After moving or copying the data dir, either rebuild the
catalog (``partnership catalog``) or ``SET VARIABLE partnership_data_dir = '<new place>'``.
"""

import json
import os
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.storage.publish import owner_tag, write_json_atomic
from schemas.base import empty_frame
from schemas.catalog import TABLES, WHOLE, column_descriptions
from schemas.quality import Rejects

CATALOG_FILE = "partnership.duckdb"
PINS_FILE = "pins.json"  # in each build's folder, written once the build is the catalog: what it pinned
PINNED = ".catalog"  # <data_dir>/.catalog/<build>/<layer>/<table>/...: the files a catalog build reads
KEEP_BUILDS = 2
ROOT_VARIABLE = "partnership_data_dir"
# Partition values come from the last "name=value" folders of each file's path, not from DuckDB's
# hive partitioning: a data dir whose own path holds "name=value" would otherwise add a column
# "name" to every view.
PARQUET_OPTIONS = "hive_partitioning = false, union_by_name = true"
PARTITION_FILE = "partition_file"  # the file of each row, read by the views and not shown by them


def partition_values(folder: str) -> dict[str, str]:
    """The ``name=value`` segments of a published folder, in order ({} for a whole table's)."""
    return dict(part.split("=", 1) for part in folder.split("/") if "=" in part)


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _files_expr(root: Path, patterns: list[str]) -> str:
    """A list of globs under the data dir, each prefixed by the data dir the reader chooses."""
    prefix = f"coalesce(getvariable('{ROOT_VARIABLE}'), {sql_string(str(root))})"
    return "[" + ", ".join(f"{prefix} || {sql_string('/' + p)}" for p in patterns) + "]"


def _union(root: Path, patterns: list[str], keys: tuple[str, ...] = ("snapshot_date",)) -> str:
    """One read of every partition's files, each row with its partition values, taken from the last
    ``key=value`` folders of its file's path (so not from a data dir whose own path holds ``=``).
    One read, not a SELECT per partition: a view over a year of nightly partitions is created and
    queried in a fraction of the time. A filter on ``snapshot_date`` reads the data of that
    partition's files only (DuckDB prunes files on the path; it still reads every file's footer to
    unify the columns, as the SELECT per partition did)."""
    tail = sql_string("/".join(f"{key}=([^/]*)" for key in keys) + "/[^/]*$")
    values = ", ".join(
        (f"CAST(regexp_extract({PARTITION_FILE}, {tail}, {group}) AS DATE)" if key == "snapshot_date"
         else f"regexp_extract({PARTITION_FILE}, {tail}, {group})") + f" AS {key}"
        for group, key in enumerate(keys, start=1))
    return (f"SELECT * EXCLUDE ({PARTITION_FILE}), {values} FROM read_parquet({_files_expr(root, patterns)}, "
            f"{PARQUET_OPTIONS}, filename = {sql_string(PARTITION_FILE)})")


class _Pinner:
    """Hard-links the Parquet files of published folders under ``.catalog/<build>/``."""

    def __init__(self, root: Path, build: str):
        self.root, self.build = root, build
        self.pinned: dict[str, list[str]] = {}  # folder -> names of its pinned files

    def pin(self, folder: str) -> str | None:
        """The glob of ``folder``'s pinned files (relative to the data dir), or None where it has none.
        A folder swapped while it was being linked (a run publishing it) is linked again, so the
        pinned files are one version of the partition, never a mix."""
        source, target = self.root / folder, self.root / PINNED / self.build / folder
        for _ in range(10):
            try:
                before = source.stat().st_ino
                names = sorted(n for n in os.listdir(source) if n.endswith(".parquet"))
                shutil.rmtree(target, ignore_errors=True)
                target.mkdir(parents=True)
                for name in names:
                    try:
                        os.link(source / name, target / name)
                    except OSError as error:
                        if isinstance(error, FileNotFoundError):
                            raise
                        shutil.copy2(source / name, target / name)  # no hard links on this file system
                if source.stat().st_ino == before:
                    self.pinned[folder] = names
                    return f"{PINNED}/{self.build}/{folder}/*.parquet" if names else None
            except FileNotFoundError:
                if not source.exists():
                    return None
        raise RuntimeError(f"{source}: replaced continuously while the catalog was built")


def latest_pins(root: Path) -> dict | None:
    """What the newest complete catalog build pinned (see :func:`build_catalog`), or None."""
    folder = Path(root) / PINNED
    builds = sorted(b for b in folder.iterdir() if (b / PINS_FILE).is_file()) if folder.is_dir() else []
    return json.loads((builds[-1] / PINS_FILE).read_text(encoding="utf-8")) if builds else None


def _remove_old_builds(root: Path, keep: str) -> None:
    builds = sorted((root / PINNED).iterdir()) if (root / PINNED).is_dir() else []
    newest = [b.name for b in builds][-KEEP_BUILDS:]
    for build in builds:
        if build.name not in newest and build.name != keep:
            shutil.rmtree(build, ignore_errors=True)


def _comment(con: duckdb.DuckDBPyConnection, kind: str, name: str, grain: str, descriptions: dict[str, str]) -> None:
    con.execute(f"COMMENT ON {kind} {name} IS {sql_string(grain)}")
    present = {r[0] for r in con.execute(f"select column_name from duckdb_columns() where table_name = {sql_string(name)}").fetchall()}
    for column, description in descriptions.items():
        if column in present and description:
            con.execute(f"COMMENT ON COLUMN {name}.{column} IS {sql_string(description)}")
    if "snapshot_date" in present and "snapshot_date" not in descriptions:
        con.execute(f"COMMENT ON COLUMN {name}.snapshot_date IS 'Snapshot date (the hive partition of the file)'")


def _empty_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """A table that nothing was published for still exists, empty, with its columns and types."""
    con.register("_empty", frame.to_arrow())
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM _empty")
    con.unregister("_empty")


def build_catalog(root: Path, folders: dict[str, list[str]], rejects: list[str], target: Path,
                  build: str, pins: dict | None = None) -> dict[str, dict]:
    """Write the catalog of the data dir ``root`` to ``target`` (a new file), reading files pinned
    under ``.catalog/<build>/``. ``folders`` gives each table's published folders (its partitions in
    date order, or the folder of a whole table) and ``rejects`` the rejects' partitions, relative to
    ``root``. Returns per table {layer, partitioning, partitions, latest, latest_rows}; ``pins``, where
    given, receives the folders pinned per table and for the rejects, each with its file names."""
    summary: dict[str, dict] = {}
    pinner = _Pinner(root, build)
    con = duckdb.connect(str(target))
    try:
        con.execute("BEGIN TRANSACTION")  # one commit for hundreds of statements (each COMMENT is one)
        for name, spec in TABLES.items():
            descriptions = column_descriptions(name)
            pinned = [(folder, files) for folder in folders[name] if (files := pinner.pin(folder))]
            partitions = [] if spec.partitioning == WHOLE else [folder for folder, _ in pinned]
            files = [files for _, files in pinned]
            if files:
                body = (f"SELECT * FROM read_parquet({_files_expr(root, files)}, {PARQUET_OPTIONS})" if spec.partitioning == WHOLE
                        else _union(root, files))
                con.execute(f"CREATE VIEW {name} AS {body}")
            else:
                frame = empty_frame(spec.model)
                if spec.partitioning != WHOLE and "snapshot_date" not in frame.columns:
                    frame = frame.with_columns(pl.lit(None, pl.Date).alias("snapshot_date"))
                _empty_table(con, name, frame)
            _comment(con, "VIEW" if files else "TABLE", name, spec.description, descriptions)
            latest = partitions[-1].rsplit("=", 1)[1] if partitions else None
            if spec.partitioning != WHOLE:
                latest_name = f"latest_{name}"
                if latest:
                    con.execute(f"CREATE VIEW {latest_name} AS {_union(root, [files[-1]])}")
                else:
                    con.execute(f"CREATE VIEW {latest_name} AS SELECT * FROM {name}")
                _comment(con, "VIEW", latest_name, f"{spec.description} Latest snapshot only ({latest}).", descriptions)
            rows = con.execute(f"SELECT count(*) FROM {'latest_' + name if latest else name}").fetchall()[0][0]
            summary[name] = {"layer": spec.layer, "partitioning": spec.partitioning, "partitions": len(partitions),
                             "latest": latest, "latest_rows": rows}

        reject_files = [files for folder in rejects if (files := pinner.pin(folder))]
        if reject_files:
            con.execute(f"CREATE VIEW rejects AS {_union(root, reject_files, ('source', 'snapshot_date'))}")
        else:
            _empty_table(con, "rejects", empty_frame(Rejects).with_columns(
                pl.lit(None, pl.Utf8).alias("source"), pl.lit(None, pl.Date).alias("snapshot_date")))
        _comment(con, "VIEW" if reject_files else "TABLE", "rejects", "One row per quarantined record and failed check.",
                 {**column_descriptions("rejects"), "source": "Source or table the record belongs to (hive partition)"})

        tables = pl.DataFrame(
            [{"table_name": n, "grain": TABLES[n].description, **s} for n, s in summary.items()],
            schema={"table_name": pl.Utf8, "grain": pl.Utf8, "layer": pl.Utf8, "partitioning": pl.Utf8,
                    "partitions": pl.Int64, "latest": pl.Utf8, "latest_rows": pl.Int64})
        con.register("_tables", tables.with_columns(pl.col("latest").str.to_date()).to_arrow())
        con.execute("CREATE TABLE catalog_tables AS SELECT * FROM _tables")
        con.unregister("_tables")
        _comment(con, "TABLE", "catalog_tables", "One row per published table: what the catalog's views hold.",
                 {"table_name": "Table (view) name", "grain": "What one row is", "layer": "curated or mart",
                  "partitioning": "snapshot_date, list_date (the list's own date) or whole",
                  "partitions": "Published partitions (dates)", "latest": "Date of the latest_<table> view",
                  "latest_rows": "Rows of the latest partition (of the whole table where it has none)"})
        con.execute("CREATE TABLE catalog_info AS SELECT ? AS data_dir, ? AS built_at",
                    [str(root), datetime.now(UTC).replace(microsecond=0).isoformat()])
        _comment(con, "TABLE", "catalog_info", "Where the views read from and when the catalog was built.",
                 {"data_dir": f"Data dir the views read unless the variable {ROOT_VARIABLE} is set",
                  "built_at": "UTC time the catalog was built"})
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if pins is not None:
        pins["tables"] = {t: [[f, pinner.pinned[f]] for f in folders[t] if f in pinner.pinned] for t in TABLES}
        pins["rejects"] = [[f, pinner.pinned[f]] for f in rejects if f in pinner.pinned]
    return summary


def write_catalog(root: Path, folders: dict[str, list[str]], rejects: list[str],
                  staging: Path) -> tuple[Path, dict[str, dict]]:
    """Build the catalog under ``staging`` and swap it into ``<root>/partnership.duckdb`` in one
    rename: an analyst who has the old file open keeps reading it; the next open sees the new one."""
    root = Path(root).resolve()
    staging.mkdir(parents=True, exist_ok=True)
    temporary = staging / f"{owner_tag()}-{uuid.uuid4().hex}-catalog.duckdb"
    build = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"  # sorts by time
    pins: dict = {}
    try:
        summary = build_catalog(root, folders, rejects, temporary, build, pins)
        os.chmod(temporary, 0o644)
        target = root / CATALOG_FILE
        os.replace(temporary, target)
        write_json_atomic(root / PINNED / build / PINS_FILE, {"build": build, **pins}, indent=None)
        _remove_old_builds(root, keep=build)
    except BaseException:
        shutil.rmtree(root / PINNED / build, ignore_errors=True)
        raise
    finally:
        temporary.unlink(missing_ok=True)
        Path(str(temporary) + ".wal").unlink(missing_ok=True)
    return target, summary
