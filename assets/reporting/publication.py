"""Dagster wiring of what analysts open first: the DuckDB catalog with the data dictionary, and the
transparency report. Both run last in every run, after the tables they read are published."""

from dataclasses import asdict

import dagster as dg
import polars as pl

from assets.reporting import dictionary
from assets.reporting.assets import GROUP, MARTS
from assets.reporting.cookbook import COOKBOOK
from assets.wiring.tables import INPUTS_READ, asset_key
from pipelines.partitions import daily_snapshot_partitions, nightly_freshness, single_run_backfill
from pipelines.resources import StorageResource
from pipelines.storage.store import DataStore
from schemas.catalog import TABLES

CATALOG_KEY = dg.AssetKey(["mart", "catalog"])
REPORT_KEY = dg.AssetKey(["mart", "transparency_report"])
COPY_KEY = dg.AssetKey(["mart", "published_copy"])
REPORT_TABLES = [*MARTS, "financing_flows"]
COOKBOOK_CHECK = "cookbook_queries_run"


def _asset_graph(context: dg.AssetExecutionContext):
    """The code location's asset graph (every asset, for lineage), or the job's where the run was
    started without a repository (``dg.materialize``)."""
    try:
        return context.repository_def.asset_graph
    except dg.DagsterInvariantViolationError:
        raise
    except Exception:  # noqa: BLE001 - Dagster raises a CheckError when no repository is set
        return context.job_def.asset_layer.asset_graph


def table_facts(asset_graph, summary: dict[str, dict]) -> dict[str, dictionary.TableFacts]:
    facts = {}
    for table, seen in summary.items():
        key = asset_key(table)
        node = asset_graph.get(key) if asset_graph is not None and asset_graph.has(key) else None
        facts[table] = dictionary.TableFacts(
            latest=seen["latest"], latest_rows=seen["latest_rows"], partitions=seen["partitions"],
            group=node.group_name if node else "",
            upstream=tuple(sorted(k.to_user_string() for k in node.parent_keys)) if node else (),
            downstream=tuple(sorted(k.to_user_string() for k in node.child_keys
                                    if k not in (CATALOG_KEY, REPORT_KEY))) if node else ())
    return facts


def build_dictionary_page(store: DataStore, summary: dict[str, dict], asset_graph) -> tuple[str, list[dictionary.Example]]:
    """Run every cookbook query on the catalog just written (one that fails raises: the build
    fails) and render the dictionary."""
    import duckdb

    con = duckdb.connect(str(store.catalog_path), read_only=True)
    try:
        examples = [dictionary.Example(q, con.sql(q.sql).pl().head(10)) for q in COOKBOOK]
        references = {t: con.sql(f"select * from {t}").pl() for t in TABLES if t.startswith("ref_")}
    finally:
        con.close()
    page = dictionary.build_dictionary(table_facts(asset_graph, summary), references, examples, str(store.catalog_path))
    return page, examples


def rebuild_catalog_and_docs(store: DataStore, asset_graph) -> tuple[dict[str, dict], list[dictionary.Example]]:
    """The catalog and the data dictionary of what is published: what the ``catalog`` asset does,
    and what runs whose catalog step was skipped (a source not configured) do after the run."""
    summary = store.write_catalog()
    page, examples = build_dictionary_page(store, summary, asset_graph)
    store.publish_page("docs", "index.html", page)
    return summary, examples


def catalog_materialized(keys) -> bool:
    return CATALOG_KEY in set(keys)


def copy_and_say(store: DataStore, url: str, log) -> dict:
    """The published copy to ``url``, told in one line; returns its figures."""
    result = store.publish_copy(url)
    log(f"published copy {result.url}: {result.tables} tables, {result.partitions} partitions, {result.objects} "
        f"objects ({result.uploaded} uploaded, {result.uploaded_bytes / 1e6:.1f} MB; {result.deleted} no longer "
        f"referenced, deleted), {len(result.pages)} pages")
    return {**asdict(result), "pages": len(result.pages)}


def publish_after_run(store: DataStore, asset_graph, publish_url: str | None, log=print) -> None:
    """What a run whose catalog step was skipped (a table it follows was not built) still gets: the
    catalog and dictionary of the tables that were published, and their published copy."""
    rebuild_catalog_and_docs(store, asset_graph)
    if publish_url:
        copy_and_say(store, publish_url, log)


@dg.asset(key=CATALOG_KEY, group_name=GROUP, kinds={"duckdb", "html"},
          deps=[asset_key(t) for t in TABLES],
          partitions_def=daily_snapshot_partitions, backfill_policy=single_run_backfill, freshness_policy=nightly_freshness,
          check_specs=[dg.AssetCheckSpec(COOKBOOK_CHECK, asset=CATALOG_KEY,
                                         description="Every cookbook query runs on the catalog.")],
          description="partnership.duckdb (a view per table, latest_<table> views, comments) and docs/index.html, "
                      "the data dictionary; rebuilt after every run.")
def catalog(context: dg.AssetExecutionContext, storage: StorageResource):
    store = storage.store()
    summary, examples = rebuild_catalog_and_docs(store, _asset_graph(context))
    docs = store.page_path("docs", "index.html")
    context.log.info(f"catalog {store.catalog_path}; data dictionary {docs}")
    yield dg.AssetCheckResult(check_name=COOKBOOK_CHECK, asset_key=CATALOG_KEY, passed=True,
                              metadata={e.query.name: e.result.height for e in examples})
    yield dg.MaterializeResult(metadata={
        "catalog": dg.MetadataValue.path(str(store.catalog_path)), "dictionary": dg.MetadataValue.path(str(docs)),
        "tables": len(summary), "tables_with_data": sum(1 for s in summary.values() if s["latest_rows"]),
        INPUTS_READ: dg.MetadataValue.json(sorted(asset_key(t).to_user_string() for t in TABLES))})


def report_page(store: DataStore, snapshot_date: str, other_snapshots: list[str]) -> str | None:
    """The report of one snapshot, or None where none of its tables was published."""
    from assets.reporting import report  # Altair and Vega are loaded by the runs that draw a report only

    tables: dict[str, pl.DataFrame | None] = {t: store.read_partition(t, snapshot_date) for t in REPORT_TABLES}
    if all(frame is None for frame in tables.values()):
        return None
    figures = report.report_figures(tables)
    # the bundled JavaScript takes seconds to assemble: kept in the data dir's cache per library version
    javascript = store.cached_text(f"vega-embed-{report.vega_version()}.js", report.vega_javascript)
    return report.render_report(figures, report.headlines(tables), snapshot_date, javascript, other_snapshots)


@dg.asset(key=REPORT_KEY, group_name=GROUP, kinds={"html"},
          deps=[asset_key(t) for t in REPORT_TABLES],
          partitions_def=daily_snapshot_partitions, backfill_policy=single_run_backfill, freshness_policy=nightly_freshness,
          description="report/<snapshot_date>.html and report/index.html (the latest): the transparency report, "
                      "charts of the marts that render offline.")
def transparency_report(context: dg.AssetExecutionContext, storage: StorageResource):
    store = storage.store()
    written = []
    dates = sorted(set(store.partition_dates(REPORT_TABLES[0])) | set(context.partition_keys))
    for snapshot_date in context.partition_keys:
        page = report_page(store, snapshot_date, dates)
        if page is None:
            context.log.info(f"{snapshot_date}: no mart published: no report")
            continue
        written.append(store.publish_page("report", f"{snapshot_date}.html", page))
    pages = [p for p in store.pages("report") if p != "index.html"]
    if pages:
        latest = pages[-1]
        store.publish_page("report", "index.html", store.page_path("report", latest).read_text(encoding="utf-8"))
    context.log.info(f"report: {len(written)} pages written; index: {pages[-1] if pages else 'none'}")
    return dg.MaterializeResult(metadata={"pages": len(written),
                                          INPUTS_READ: dg.MetadataValue.json(sorted(asset_key(t).to_user_string()
                                                                                    for t in REPORT_TABLES)),
                                          "index": dg.MetadataValue.path(str(store.page_path("report", "index.html")))})


@dg.asset(key=COPY_KEY, group_name=GROUP, kinds={"s3"}, deps=[CATALOG_KEY, REPORT_KEY],
          partitions_def=daily_snapshot_partitions, backfill_policy=single_run_backfill, freshness_policy=nightly_freshness,
          description="The published copy on object storage (PARTNERSHIP_PUBLISH_URL): the catalog's set of tables "
                      "and rejects as content-named Parquet objects, DuckDB views over them and the pages, behind "
                      "one manifest (_published.json) switched once every object it names is in place. Part of the "
                      "graph where the setting is set.")
def published_copy(context: dg.AssetExecutionContext, storage: StorageResource):
    figures = copy_and_say(storage.store(), storage.publish_url, context.log.info)
    # what it reads: the files the catalog pinned, and the report's pages
    yield dg.MaterializeResult(metadata={**figures, INPUTS_READ: dg.MetadataValue.json(
        sorted(k.to_user_string() for k in (CATALOG_KEY, REPORT_KEY)))})


publication_assets = [catalog, transparency_report]  # and published_copy, where its place is set
