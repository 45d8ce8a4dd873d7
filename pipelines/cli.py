"""Command line: ``partnership run``, ``partnership backfill``, ``partnership summary``,
``partnership docs``, ``partnership describe``, ``partnership refresh-codelists``."""

import argparse
import gc
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

# Dagster, Pandera and Polars take seconds to import: they are imported by the commands that use
# them, so --help, --version and check answer at once.
from pipelines.calendar import PARTITION_RANGE_END, PARTITION_RANGE_START, date_range

__all__ = ["PARTITION_RANGE_END", "PARTITION_RANGE_START", "entry", "execute", "main", "summarize"]

PROJECT = Path(__file__).resolve().parent.parent


def dagster_home(data_dir: Path) -> Path:
    """Where run history is kept: ``$DAGSTER_HOME`` where it is set, else ``<data dir>/.dagster``, so
    that runs over different data dirs never share one history by accident."""
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    from pipelines.instance import ensure_instance_settings

    home = Path(data_dir).resolve() / ".dagster"
    ensure_instance_settings(home)
    return home


def _instance(data_dir: Path):
    import dagster as dg

    home = dagster_home(data_dir)
    os.environ["DAGSTER_HOME"] = str(home)  # for this process: the instance and the code it runs
    return dg.DagsterInstance.get()


def execute(start: str, end: str | None = None, *, raise_on_error: bool = False, data_dir: Path | None = None,
            resources: dict | None = None):
    """Run the nightly job in this process for one partition or, in one run, a date range; run history
    beside ``data_dir`` (an ephemeral instance without one)."""
    import dagster as dg

    from pipelines.console import quiet_library_logs
    from pipelines.definitions import build_definitions

    job = build_definitions(resources).resolve_job_def("nightly_snapshot")
    instance = _instance(data_dir) if data_dir is not None else dg.DagsterInstance.ephemeral()
    level = os.environ.get("PARTNERSHIP_LOG_LEVEL", "INFO")
    quiet_library_logs(level)
    run_config = {"loggers": {"progress": {"config": {"log_level": level, "steps": _ops(job.graph)}}}}
    tags = ({"dagster/partition": start} if end is None or end == start
            else {PARTITION_RANGE_START: start, PARTITION_RANGE_END: end})
    if os.environ.get("PARTNERSHIP_EXECUTOR", "in_process") != "in_process":
        # steps run elsewhere (Celery workers): they load the job from its module, so the run is
        # launched from there too, and its run history must be a persistent instance they share
        if resources or data_dir is None:
            raise ValueError("a run on PARTNERSHIP_EXECUTOR needs the environment's resources and a data dir")
        from dagster._core.definitions.reconstruct import ReconstructableRepository

        recon = ReconstructableRepository.for_module("pipelines.definitions", "defs", working_directory=str(PROJECT)
                                                     ).get_reconstructable_job("nightly_snapshot")
        with dg.execute_job(recon, instance=instance, tags=tags, run_config=run_config,
                            raise_on_error=raise_on_error) as result:
            return result
    if end is None or end == start:
        return job.execute_in_process(partition_key=start, instance=instance, raise_on_error=raise_on_error,
                                      run_config=run_config)
    return job.execute_in_process(tags={PARTITION_RANGE_START: start, PARTITION_RANGE_END: end},
                                  instance=instance, raise_on_error=raise_on_error, run_config=run_config)


def summarize(store, snapshot_dates: list[str]):
    """Rows, rejected records and warnings per published table for the given snapshot dates (a
    DataFrame). A table published under the source's own dates (a sanctions list's dateGenerated)
    shows its latest partition on or before the last date; a whole table shows all of it."""
    import polars as pl

    from assets.validation import count_rejects
    from schemas.catalog import LIST_DATE, SNAPSHOT, TABLES

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


def _outcome(record: dict | None) -> str:
    if record is None:
        return "never run from this data dir (no record of a run for this date)"
    if record["status"] == "succeeded":
        return f"succeeded (run {record['run_id']}, finished {record['finished_at']})"
    return f"FAILED (run {record['run_id']}, finished {record['finished_at']})"


def _print_summary(resources: dict, dates: list[str], record: dict | None) -> None:
    import polars as pl

    store = resources["storage"].store()
    summary = summarize(store, dates)
    label = dates[0] if len(dates) == 1 else f"{dates[0]}..{dates[-1]}"
    print(f"\nSnapshot {label}: {_outcome(record)}")
    for line in (record or {}).get("failed_steps", []):
        print(f"failed: {line}")
    for line in (record or {}).get("not_published", []):
        print(f"not published: {line}")
    print(f"sources: {resources['sources'].sources_file}")
    with pl.Config(tbl_rows=50, tbl_width_chars=200, fmt_str_lengths=120, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        print(summary)
    print(f"rejects: {store.rejects} (one row per failed check, with file, record, column, reason)")
    print(f"landing: {store.landing}")
    _print_where_to_look(store)


def _print_where_to_look(store) -> None:
    if store.catalog_path.is_file():
        print(f"catalog: {store.catalog_path} (DuckDB: a view per table, latest_<table> for the latest snapshot)")
    for site, what in (("docs", "data dictionary"), ("report", "transparency report")):
        if store.page_path(site, "index.html").is_file():
            print(f"{what}: {store.page_path(site, 'index.html')}")


def build_docs(store) -> None:
    """Rebuild the catalog and the data dictionary from what is published (what the run's
    ``catalog`` asset does), without running anything else."""
    from assets.reporting.publication import rebuild_catalog_and_docs
    from pipelines.definitions import build_definitions

    rebuild_catalog_and_docs(store, build_definitions().get_repository_def().asset_graph)


def describe_tables() -> str:
    """Markdown documentation of every curated table and of the rejects table, from the Pandera models."""
    from schemas.base import column_order
    from schemas.catalog import TABLES
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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("partnership-transparency")
    except PackageNotFoundError:
        return "unknown"


DATE_HELP = "snapshot date, YYYY-MM-DD (UTC)"


def build_parser() -> argparse.ArgumentParser:
    today = datetime.now(UTC).date().isoformat()
    parser = argparse.ArgumentParser(
        prog="partnership", description="Partnership Transparency: land, validate and publish the tables on the "
        "UN's partnerships with the private sector.",
        epilog="Settings come from the environment (PARTNERSHIP_SOURCES, PARTNERSHIP_DATA_DIR, ...: see the README's "
               "Configuration). Every command but describe checks the configuration first.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    run = commands.add_parser("run", help="build every table for one snapshot date (default: today, UTC)")
    run.add_argument("--date", default=today, help=f"{DATE_HELP}; default today ({today})")
    backfill = commands.add_parser("backfill", help="build every table for each date of a range, in one run")
    backfill.add_argument("--start", required=True, help=f"first {DATE_HELP}")
    backfill.add_argument("--end", required=True, help=f"last {DATE_HELP} (included)")
    for command in (run, backfill):
        command.add_argument("--reuse-landed-only", action="store_true",
                             help="build a past date only from the files landed for it before; never fetch today's "
                                  "files for a past date (a date with none is not built)")
    commands.add_parser("check", help="check the configuration (sources file, locations, data dir, settings) "
                                      "without running anything")
    summary = commands.add_parser("summary", help="rows and rejects per table for a snapshot date, and how its "
                                                  "last run ended")
    summary.add_argument("--date", default=today, help=f"{DATE_HELP}; default today ({today})")
    commands.add_parser("docs", help="rebuild <data_dir>/partnership.duckdb and the data dictionary "
                                     "<data_dir>/docs/index.html from what is published (every run does this too)")
    commands.add_parser("describe", help="print the tables' columns as Markdown (the README's Tables section)")
    refresh = commands.add_parser("refresh-codelists", help="rebuild config/iati_codelists.yaml from IATI codelists")
    refresh.add_argument("location", nargs="?", default=os.environ.get("PARTNERSHIP_IATI_CODELISTS"),
                         help="folder or base URL holding <Name>.xml or <Name>.csv codelist files "
                              "(default: $PARTNERSHIP_IATI_CODELISTS)")
    return parser


def _problems_or_none(dates: list[str]) -> int | None:
    """Print every configuration problem, one line each, and return the exit status; None when fine."""
    from pipelines.preflight import preflight

    problems = preflight(dates=dates)
    if not problems:
        return None
    for problem in problems:
        print(f"partnership: {problem}", file=sys.stderr)
    print(f"partnership: {len(problems)} problem{'s' if len(problems) > 1 else ''} found; nothing was run",
          file=sys.stderr)
    return 2


def _ops(graph) -> int:
    """Steps of a run of ``graph``: its ops, those of its graphs of steps (a mapped op counted once)."""
    return sum(_ops(n.definition) if hasattr(n.definition, "nodes") else 1 for n in graph.nodes)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "describe":
        print(describe_tables())
        return 0
    dates = {"run": lambda: [args.date], "summary": lambda: [args.date],
             "backfill": lambda: [args.start, args.end]}.get(args.command, list)()
    if (status := _problems_or_none(dates)) is not None:
        return status
    if args.command == "check":
        print("partnership: configuration ok")
        return 0
    from pipelines.resources import resolved_resources

    resources = resolved_resources()
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
    store = resources["storage"].store()
    if args.command == "summary":
        record = store.run_record(args.date)
        _print_summary(resources, [args.date], record)
        return 0 if record is not None and record["status"] == "succeeded" else 1
    if args.command == "docs":
        build_docs(store)
        _print_where_to_look(store)
        return 0
    if args.command == "backfill":
        if args.end < args.start:
            print(f"partnership: --end {args.end} is before --start {args.start}; nothing was run", file=sys.stderr)
            return 2
        dates = date_range(args.start, args.end)
    overrides = {}
    if args.reuse_landed_only:
        from pipelines.resources import SourcesResource

        current = resources["sources"]
        overrides["sources"] = SourcesResource(sources_file=current.sources_file, max_table_mb=current.max_table_mb,
                                               reuse_landed_only=True)
    result = execute(dates[0], dates[-1], data_dir=store.root, resources=overrides)
    copy_failed = False
    if not _catalog_materialized(result):
        # the catalog step is skipped when a table it follows was skipped (a source not configured):
        # the tables that were published still get their catalog, dictionary and published copy
        from assets.reporting.publication import publish_after_run
        from pipelines.definitions import build_definitions
        from pipelines.storage.objects import PublishedCopyError

        try:
            publish_after_run(store, build_definitions().get_repository_def().asset_graph,
                              resources["storage"].publish_url)
        except PublishedCopyError as error:
            print(f"partnership: {error}", file=sys.stderr)
            copy_failed = True
    from pipelines.sensors import record_outcome

    status = record_outcome(store, dates, result.run_id, result.success, failed_steps(result), refused_checks(result))
    _print_summary(resources, dates, store.run_record(dates[-1]))
    return 0 if status == "succeeded" and not copy_failed else 1


def failed_steps(result) -> list[str]:
    """One line per step that failed: the step and the root cause, once."""
    from pipelines.sensors import failure_lines

    return failure_lines(result.get_step_failure_events())


def _catalog_materialized(result) -> bool:
    from assets.reporting.publication import catalog_materialized

    return catalog_materialized(e.asset_key for e in result.get_asset_materialization_events())


def refused_checks(result) -> list[str]:
    """What a run that succeeded as a whole still refused, one line per check that did not pass."""
    from pipelines.sensors import not_published_lines

    return not_published_lines(result.get_asset_check_evaluations())


def entry() -> int:
    """The ``partnership`` command. The objects a run leaves are not collected one by one at exit
    (gc.freeze): the process ends, and the collection took a second of every command."""
    try:
        return main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    sys.exit(entry())
