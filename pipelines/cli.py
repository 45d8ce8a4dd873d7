"""Command line: ``partnership run``, ``partnership backfill``, ``partnership summary``,
``partnership docs``, ``partnership describe``, ``partnership refresh-codelists``."""

import argparse
import os
import sys
from datetime import UTC, date, datetime

import polars as pl

from assets.validation import count_rejects
from pipelines.resources import resolved_resources
from pipelines.storage.store import DataStore
from schemas.base import column_order
from schemas.catalog import LIST_DATE, SNAPSHOT, TABLES

PARTITION_RANGE_START = "dagster/asset_partition_range_start"
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


def summarize(store: DataStore, snapshot_dates: list[str]) -> pl.DataFrame:
    """Rows, rejected records and warnings per published table for the given snapshot dates. A table
    published under the source's own dates (a sanctions list's dateGenerated) shows its latest
    partition on or before the last date; a whole table shows all of it."""
    rejects = store.read_rejects(snapshot_dates)
    errors, warnings = count_rejects(rejects)
    rows = []
    for table, spec in TABLES.items():
        if not store.table_dir(table).is_dir():
            continue
        if spec.partitioning == SNAPSHOT:
            parts = [d for d in snapshot_dates if store.has_partition(table, d)]
        elif spec.partitioning == LIST_DATE:
            parts = [d for d in store.partition_dates(table) if d <= max(snapshot_dates)][-1:]
        else:
            parts = [None]
        rows.append({
            "table": table,
            "rows": sum(store.count_rows(table, d) for d in parts),
            "rejected": errors.get(table, 0),
            "warnings": warnings.get(table, 0),
            "path": str(store.table_dir(table)),
        })
    return pl.DataFrame(rows, schema={"table": pl.Utf8, "rows": pl.Int64, "rejected": pl.Int64,
                                      "warnings": pl.Int64, "path": pl.Utf8})


def _print_summary(resources: dict, dates: list[str], succeeded: bool) -> None:
    store = resources["storage"].store()
    summary = summarize(store, dates)
    label = dates[0] if len(dates) == 1 else f"{dates[0]}..{dates[-1]}"
    print(f"\nSnapshot {label}: {'succeeded' if succeeded else 'FAILED (see the log above)'}")
    print(f"sources: {resources['sources'].sources_file}")
    with pl.Config(tbl_rows=50, tbl_width_chars=200, fmt_str_lengths=120, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        print(summary)
    print(f"rejects: {store.rejects} (one row per failed check, with file, record, column, reason)")
    print(f"landing: {store.landing}")
    _print_where_to_look(store)


def _print_where_to_look(store: DataStore) -> None:
    if store.catalog_path.is_file():
        print(f"catalog: {store.catalog_path} (DuckDB: a view per table, latest_<table> for the latest snapshot)")
    for site, what in (("docs", "data dictionary"), ("report", "transparency report")):
        if store.page_path(site, "index.html").is_file():
            print(f"{what}: {store.page_path(site, 'index.html')}")


def build_docs(store: DataStore) -> None:
    """Rebuild the catalog and the data dictionary from what is published (what the run's
    ``catalog`` asset does), without running anything else."""
    from assets.reporting.publication import build_dictionary_page
    from pipelines.definitions import build_definitions

    summary = store.write_catalog()
    page, _ = build_dictionary_page(store, summary, build_definitions().get_repository_def().asset_graph)
    store.publish_page("docs", "index.html", page)


def describe_tables() -> str:
    """Markdown documentation of every curated table and of the rejects table, from the Pandera models."""
    from schemas.quality import Rejects

    blocks = []
    for name, model in [*((n, s.model) for n, s in TABLES.items()), ("quality/rejects", Rejects)]:
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
    commands.add_parser("docs", help="rebuild <data_dir>/partnership.duckdb and the data dictionary <data_dir>/docs/index.html "
                                     "from what is published (every run does this too)")
    refresh = commands.add_parser("refresh-codelists", help="rebuild config/iati_codelists.yaml from IATI codelists")
    refresh.add_argument("location", nargs="?", default=os.environ.get("PARTNERSHIP_IATI_CODELISTS"),
                         help="folder or base URL holding <Name>.xml or <Name>.csv codelist files "
                              "(default: $PARTNERSHIP_IATI_CODELISTS)")
    args = parser.parse_args(argv)

    resources = resolved_resources()
    if args.command == "describe":
        print(describe_tables())
        return 0
    if args.command == "refresh-codelists":
        from pipelines.storage.fetch import read_location
        from schemas.iati_codelists import fetch_codelists, write_codelists

        if not args.location:
            parser.error("refresh-codelists needs a location (argument or PARTNERSHIP_IATI_CODELISTS)")
        fetcher = resources["http"].fetcher()
        codelists = fetch_codelists(args.location, read=lambda ref: read_location(ref, fetcher))
        write_codelists(codelists, origin=args.location)
        print(f"wrote {sum(len(v) for v in codelists.values())} codes of {len(codelists)} codelists")
        return 0
    if args.command == "summary":
        _print_summary(resources, [args.date], succeeded=True)
        return 0
    if args.command == "docs":
        store = resources["storage"].store()
        build_docs(store)
        _print_where_to_look(store)
        return 0
    dates = [args.date] if args.command == "run" else _dates(args.start, args.end)
    date.fromisoformat(dates[0])
    result = execute(dates[0], dates[-1])
    if not _catalog_materialized(result):
        # the catalog step is skipped when a table it follows was skipped (a source not configured):
        # the tables that were published still get their catalog and dictionary
        build_docs(resources["storage"].store())
    refused = refused_checks(result)
    _print_summary(resources, dates, result.success and not refused)
    for line in refused:
        print(f"not published: {line}")
    return 0 if result.success and not refused else 1


def _catalog_materialized(result) -> bool:
    from assets.reporting.publication import CATALOG_KEY

    return any(e.asset_key == CATALOG_KEY for e in result.get_asset_materialization_events())


def refused_checks(result) -> list[str]:
    """What a run that succeeded as a whole still refused (a date of a backfill that failed alone),
    one line per asset check that did not pass."""
    lines = []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            refusals, dates = evaluation.metadata.get("refusals"), evaluation.metadata.get("refused_dates")
            what = "; ".join(refusals.value) if refusals is not None else evaluation.check_name
            when = ", ".join(dates.value) if dates is not None and dates.value else "?"
            lines.append(f"{evaluation.asset_key.to_user_string()} {when}: {what}")
    return sorted(set(lines))


if __name__ == "__main__":
    sys.exit(main())
