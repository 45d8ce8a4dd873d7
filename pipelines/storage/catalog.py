"""The analyst's entry point: ``<data_dir>/partnership.duckdb``, one DuckDB file that opens every table.

It holds no data, only views over the published Parquet:

- ``<table>``: every published partition of a table (``snapshot_date`` as a DATE column);
- ``latest_<table>``: the latest partition only, for tables published per snapshot or list date
  (the safe default: summing a table over all its snapshots multiplies the totals);
- ``rejects``: every quarantined record (``source`` and ``snapshot_date`` as columns);
- ``catalog_tables``: per table, its layer, grain, partitioning, latest date and the rows of it;
- ``catalog_info``: the data dir the views read and when the catalog was built.

The catalog is the manifest readers follow: it lists the partitions that were published when it
was built, and it is rebuilt and swapped in whole (one rename) after the tables of a run are
published, so a partition that a later run is still writing is not in it. Every table and column
carries its description (``COMMENT ON``, from the Pandera models).

Paths: every view reads ``getvariable('partnership_data_dir')`` where it is set, and the data dir
the catalog was built in otherwise. After moving or copying the data dir, either rebuild the
catalog (``partnership catalog``) or ``SET VARIABLE partnership_data_dir = '<new place>'``.
"""

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.storage.publish import owner_tag
from schemas.base import empty_frame
from schemas.catalog import TABLES, WHOLE, column_descriptions
from schemas.quality import Rejects

CATALOG_FILE = "partnership.duckdb"
ROOT_VARIABLE = "partnership_data_dir"
_HIVE = "hive_partitioning = true, hive_types = {'snapshot_date': DATE}, hive_types_autocast = false, union_by_name = true"
_REJECTS_HIVE = ("hive_partitioning = true, hive_types = {'source': VARCHAR, 'snapshot_date': DATE}, "
                 "hive_types_autocast = false, union_by_name = true")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _files_expr(root: Path, patterns: list[str]) -> str:
    """A list of globs under the data dir, each prefixed by the data dir the reader chooses."""
    prefix = f"coalesce(getvariable('{ROOT_VARIABLE}'), {_quote(str(root))})"
    return "[" + ", ".join(f"{prefix} || {_quote('/' + p)}" for p in patterns) + "]"


def _partitions(root: Path, folder: str) -> list[str]:
    """The published partition folders of a table (relative to the data dir), in date order."""
    if not (root / folder).is_dir():
        return []
    return [f"{folder}/{p.name}" for p in sorted((root / folder).glob("snapshot_date=*")) if any(p.glob("*.parquet"))]


def _comment(con: duckdb.DuckDBPyConnection, kind: str, name: str, grain: str, descriptions: dict[str, str]) -> None:
    con.execute(f"COMMENT ON {kind} {name} IS {_quote(grain)}")
    present = {r[0] for r in con.execute(f"select column_name from duckdb_columns() where table_name = {_quote(name)}").fetchall()}
    for column, description in descriptions.items():
        if column in present and description:
            con.execute(f"COMMENT ON COLUMN {name}.{column} IS {_quote(description)}")
    if "snapshot_date" in present and "snapshot_date" not in descriptions:
        con.execute(f"COMMENT ON COLUMN {name}.snapshot_date IS 'Snapshot date (the hive partition of the file)'")


def _empty_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """A table that nothing was published for still exists, empty, with its columns and types."""
    con.register("_empty", frame.to_arrow())
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM _empty")
    con.unregister("_empty")


def build_catalog(root: Path, folders: dict[str, str], rejects_folder: str, target: Path) -> dict[str, dict]:
    """Write the catalog of the data dir ``root`` to ``target`` (a new file): ``folders`` gives each
    table's folder and ``rejects_folder`` the rejects' (relative to ``root``). Returns per table
    {layer, partitioning, partitions, latest, latest_rows}."""
    summary: dict[str, dict] = {}
    con = duckdb.connect(str(target))
    try:
        for name, spec in TABLES.items():
            layer_table = folders[name]
            descriptions = column_descriptions(name)
            if spec.partitioning == WHOLE:
                files = [f"{layer_table}/*.parquet"] if any((root / layer_table).glob("*.parquet")) else []
                partitions = []
            else:
                partitions = _partitions(root, layer_table)
                files = [f"{p}/*.parquet" for p in partitions]
            if files:
                options = "union_by_name = true" if spec.partitioning == WHOLE else _HIVE
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_files_expr(root, files)}, {options})")
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
                    con.execute(f"CREATE VIEW {latest_name} AS SELECT * FROM read_parquet("
                                f"{_files_expr(root, [partitions[-1] + '/*.parquet'])}, {_HIVE})")
                else:
                    con.execute(f"CREATE VIEW {latest_name} AS SELECT * FROM {name}")
                _comment(con, "VIEW", latest_name, f"{spec.description} Latest snapshot only ({latest}).", descriptions)
            rows = con.execute(f"SELECT count(*) FROM {'latest_' + name if latest else name}").fetchall()[0][0]
            summary[name] = {"layer": spec.layer, "partitioning": spec.partitioning, "partitions": len(partitions),
                             "latest": latest, "latest_rows": rows}

        rejects = sorted(str(p.relative_to(root)) + "/*.parquet"
                         for p in (root / rejects_folder).glob("source=*/snapshot_date=*") if any(p.glob("*.parquet")))
        if rejects:
            con.execute(f"CREATE VIEW rejects AS SELECT * FROM read_parquet({_files_expr(root, rejects)}, {_REJECTS_HIVE})")
        else:
            _empty_table(con, "rejects", empty_frame(Rejects).with_columns(
                pl.lit(None, pl.Utf8).alias("source"), pl.lit(None, pl.Date).alias("snapshot_date")))
        _comment(con, "VIEW" if rejects else "TABLE", "rejects", "One row per quarantined record and failed check.",
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
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return summary


def write_catalog(root: Path, folders: dict[str, str], rejects_folder: str, staging: Path) -> tuple[Path, dict[str, dict]]:
    """Build the catalog under ``staging`` and swap it into ``<root>/partnership.duckdb`` in one
    rename: an analyst who has the old file open keeps reading it; the next open sees the new one."""
    root = Path(root).resolve()
    staging.mkdir(parents=True, exist_ok=True)
    temporary = staging / f"{owner_tag()}-{uuid.uuid4().hex}-catalog.duckdb"
    try:
        summary = build_catalog(root, folders, rejects_folder, temporary)
        os.chmod(temporary, 0o644)
        target = root / CATALOG_FILE
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
        Path(str(temporary) + ".wal").unlink(missing_ok=True)
    return target, summary
