"""Command line: ``partnership run``, ``partnership backfill``, ``partnership summary``,
``partnership refresh-codelists``."""

import argparse
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from pipelines.settings import data_dir_path, sources_file_path

PARTITION_RANGE_START = "dagster/asset_partition_range_start"
# partitioned by the sanctions list's own dateGenerated, not by the run's snapshot date
LIST_DATE_TABLES = {"sanctioned_entities", "sanctioned_aliases"}
PARTITION_RANGE_END = "dagster/asset_partition_range_end"


def _instance():
    import dagster as dg

    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def execute(start: str, end: str | None = None, *, raise_on_error: bool = False):
    """Run the nightly job in this process for one partition or, in one run, a date range."""
    from pipelines.definitions import build_definitions

    job = build_definitions().resolve_job_def("nightly_snapshot")
    instance = _instance()
    run_config = {"loggers": {"console": {"config": {"log_level": os.environ.get("PARTNERSHIP_LOG_LEVEL", "INFO")}}}}
    if end is None or end == start:
        return job.execute_in_process(partition_key=start, instance=instance, raise_on_error=raise_on_error,
                                      run_config=run_config)
    return job.execute_in_process(tags={PARTITION_RANGE_START: start, PARTITION_RANGE_END: end},
                                  instance=instance, raise_on_error=raise_on_error, run_config=run_config)


def summarize(data_dir: Path, snapshot_dates: list[str]) -> pl.DataFrame:
    """Rows, rejected records and warnings per curated table for the given snapshot dates."""
    rows = []
    rejects = _read_rejects(data_dir, snapshot_dates)
    table_dirs = [p for layer in ("curated", "mart") if (data_dir / layer).is_dir()
                  for p in sorted((data_dir / layer).iterdir()) if p.is_dir()]
    for table_dir in table_dirs:
        if any(table_dir.glob("snapshot_date=*")):
            parts = [table_dir / f"snapshot_date={d}" for d in snapshot_dates if (table_dir / f"snapshot_date={d}").is_dir()]
            if not parts and table_dir.name in LIST_DATE_TABLES:
                parts = sorted(table_dir.glob("snapshot_date=*"))
        else:  # a table rebuilt whole on every run (e.g. the status history)
            parts = [table_dir]
        count = sum(pl.scan_parquet(p / "*.parquet").select(pl.len()).collect().item() for p in parts)
        table_rejects = rejects.filter(pl.col("table") == table_dir.name)
        errors = table_rejects.filter(pl.col("severity") == "error")
        rows.append({
            "table": table_dir.name,
            "rows": count,
            "rejected": errors.select(pl.coalesce("record_key", "file")).n_unique() if errors.height else 0,
            "warnings": table_rejects.filter(pl.col("severity") == "warning").height,
            "path": str(table_dir),
        })
    return pl.DataFrame(rows, schema={"table": pl.Utf8, "rows": pl.Int64, "rejected": pl.Int64,
                                      "warnings": pl.Int64, "path": pl.Utf8})


def _read_rejects(data_dir: Path, snapshot_dates: list[str]) -> pl.DataFrame:
    files = [p for d in snapshot_dates for p in (data_dir / "quality" / "rejects").glob(f"source=*/snapshot_date={d}/*.parquet")]
    if not files:
        return pl.DataFrame(schema={"table": pl.Utf8, "record_key": pl.Utf8, "file": pl.Utf8, "severity": pl.Utf8})
    return pl.concat([pl.read_parquet(f, columns=["table", "record_key", "file", "severity"]) for f in files])


def _print_summary(data_dir: Path, dates: list[str], succeeded: bool) -> None:
    summary = summarize(data_dir, dates)
    label = dates[0] if len(dates) == 1 else f"{dates[0]}..{dates[-1]}"
    print(f"\nSnapshot {label}: {'succeeded' if succeeded else 'FAILED (see the log above)'}")
    print(f"sources: {sources_file_path()}")
    with pl.Config(tbl_rows=50, tbl_width_chars=200, fmt_str_lengths=120, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        print(summary)
    print(f"rejects: {data_dir / 'quality' / 'rejects'} (one row per failed check, with file, record, column, reason)")
    print(f"landing: {data_dir / 'landing'}")


def describe_tables() -> str:
    """Markdown documentation of every curated table and of the rejects table, from the Pandera models."""
    from assets.validation import column_order
    from schemas.catalog import CURATED_TABLES
    from schemas.quality import Rejects

    blocks = []
    for name, model in [*CURATED_TABLES.items(), ("quality/rejects", Rejects)]:
        columns = model.to_schema().columns
        lines = [f"#### `{name}`", "", (model.__doc__ or "").strip().splitlines()[0], "",
                 "| column | type | null | description |", "|---|---|---|---|"]
        for column in column_order(model):
            c = columns[column]
            lines.append(f"| `{column}` | {c.dtype} | {'yes' if c.nullable else 'no'} | {c.description or ''} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _dates(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if last < first:
        raise SystemExit(f"--end {end} is before --start {start}")
    return [date.fromordinal(d).isoformat() for d in range(first.toordinal(), last.toordinal() + 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="partnership", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize every asset for one snapshot date (default: today, UTC)")
    run.add_argument("--date", default=datetime.now(UTC).date().isoformat())
    backfill = commands.add_parser("backfill", help="materialize every asset for a date range, in one run")
    backfill.add_argument("--start", required=True)
    backfill.add_argument("--end", required=True)
    summary = commands.add_parser("summary", help="print rows and rejects per table for a snapshot date")
    summary.add_argument("--date", default=datetime.now(UTC).date().isoformat())
    commands.add_parser("describe", help="print the curated tables' columns as Markdown (the README's Tables section)")
    refresh = commands.add_parser("refresh-codelists", help="rebuild config/iati_codelists.yaml from IATI codelists")
    refresh.add_argument("location", nargs="?", default=os.environ.get("PARTNERSHIP_IATI_CODELISTS"),
                         help="folder or base URL holding <Name>.xml or <Name>.csv codelist files "
                              "(default: $PARTNERSHIP_IATI_CODELISTS)")
    args = parser.parse_args(argv)

    data_dir = data_dir_path()
    if args.command == "describe":
        print(describe_tables())
        return 0
    if args.command == "refresh-codelists":
        from schemas.iati_codelists import fetch_codelists, write_codelists

        if not args.location:
            parser.error("refresh-codelists needs a location (argument or PARTNERSHIP_IATI_CODELISTS)")
        codelists = fetch_codelists(args.location)
        write_codelists(codelists, origin=args.location)
        print(f"wrote {sum(len(v) for v in codelists.values())} codes of {len(codelists)} codelists")
        return 0
    if args.command == "summary":
        _print_summary(data_dir, [args.date], succeeded=True)
        return 0
    dates = [args.date] if args.command == "run" else _dates(args.start, args.end)
    date.fromisoformat(dates[0])
    result = execute(dates[0], dates[-1])
    _print_summary(data_dir, dates, result.success)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
