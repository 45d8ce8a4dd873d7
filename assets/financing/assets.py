"""Dagster wiring of the financing domain: IATI activities, exchange rates and UN revenue."""

from datetime import date

import dagster as dg

from assets.financing.fx import FxRates, load_rates
from assets.financing.iati import IatiBuild, build_iati_tables
from assets.financing.un_revenue import read_revenue
from assets.wiring.landing import build_landing_asset
from assets.wiring.tables import (
    RunTotals,
    build_source_asset,
    detail,
    inputs_read,
    remember,
    report,
    settle,
    table_asset,
    try_reuse,
)
from pipelines.resources import QualityResource, SourcesResource, StorageResource
from pipelines.storage.reuse import fingerprint
from pipelines.storage.store import DataStore
from schemas.base import polars_schema
from schemas.catalog import IATI_TABLES, TABLES
from schemas.quality import REJECT_SCHEMA

GROUP = "financing"

landing_iati_activities = build_landing_asset(
    "iati_activities", group_name=GROUP,
    description="IATI activity XML files as fetched, with a sha256 manifest, per snapshot date.")
landing_exchange_rates = build_landing_asset(
    "exchange_rates", group_name=GROUP, optional=True,
    description="Optional exchange-rate files (ECB history or IMF annual per-USD) as fetched, per snapshot date.")
landing_un_revenue = build_landing_asset(
    "un_revenue", group_name=GROUP,
    description="UN system revenue by contributor (CEB statistics CSV) as fetched.")

un_revenue_table = build_source_asset(name="un_revenue_table", source="un_revenue", group=GROUP,
                                      tables=["un_revenue_by_contributor"], builder=read_revenue)


@table_asset("iati_curated_tables", list(IATI_TABLES), group=GROUP,
             deps=[landing_iati_activities.key, landing_exchange_rates.key], pool="curated_iati")
def iati_curated_tables(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource,
                        sources: SourcesResource):
    """Read the landed IATI files of each partition, validate, convert to USD, publish four tables."""
    store = storage.store()
    totals = RunTotals(tables=list(IATI_TABLES))
    rates_cache: dict[tuple, FxRates] = {}  # a backfill reuses the rates of identical landed files
    read: set[str] = set()
    for day_number, snapshot_date in enumerate(context.partition_keys, start=1):
        landed = store.landed("iati_activities", snapshot_date)
        if landed is None:
            detail(context, f"no landed IATI files for {snapshot_date}: skipped")
            continue
        rates_landed = store.landed("exchange_rates", snapshot_date)
        read.update(["landing/iati_activities", "landing/exchange_rates"])  # no exchange-rate files: the packaged ECB rates
        rates_files = [path for path, _ in rates_landed.files] if rates_landed else []
        rates_key = tuple(sha for _, sha in rates_landed.digests) if rates_landed else ()
        print_ = fingerprint("iati", landed.digests, rates_key, quality.max_reject_share, sources.max_table_mb)
        reject_sources = ["iati_activities"] + (["exchange_rates"] if rates_key else [])
        if try_reuse("iati_curated_tables", print_, snapshot_date, list(IATI_TABLES), reject_sources, store, totals,
                     context):
            continue
        if rates_key not in rates_cache:
            rates_cache[rates_key] = load_rates(rates_files, max_bytes=sources.max_table_bytes)
        rates = rates_cache[rates_key]
        if rates_files:
            store.publish_rejects("exchange_rates", snapshot_date, rates.rejects)
            if rates.rejects.height:
                context.log.warning(f"{snapshot_date}: {rates.rejects.height} exchange-rate rows unusable; "
                                    f"see {store.rejects_dir('exchange_rates')}/")
        with store.lock(f"iati_activities-{snapshot_date}"):
            build = _publish_snapshot(landed.files, date.fromisoformat(snapshot_date), rates, store, quality, totals,
                                      _progress(context, snapshot_date, day_number, len(context.partition_keys)))
        _log_build(context, snapshot_date, build)
        totals.add(snapshot_date, build.rows, {t: build.rejected_records(t) for t in IATI_TABLES},
                   {t: build.warnings(t) for t in IATI_TABLES}, build.sample,
                   gated={t: build.gated_records(t) for t in IATI_TABLES})
        remember("iati_curated_tables", print_, snapshot_date, store, totals)
    yield from report(totals, store, quality, "iati_activities", extra_metadata=inputs_read(read))


def _progress(context: dg.AssetExecutionContext, snapshot_date: str, day: int, days: int):
    """Files read of files to read: in a run of one date, about every tenth of the files; in a run
    over several dates, once per date (the rest at DEBUG)."""
    def told(done: int, total: int, label: str) -> None:
        step = max(1, total // 10)
        message = f"{snapshot_date}" + (f" (date {day}/{days})" if days > 1 else "") + f": {done}/{total} files read ({label})"
        if (days == 1 and (done % step == 0 or done == total)) or (days > 1 and done == total):
            context.log.info(message)
        else:
            context.log.debug(message)
    return told


def _publish_snapshot(files, snapshot: date, rates: FxRates, store: DataStore, quality: QualityResource,
                      totals: RunTotals, progress=None) -> IatiBuild:
    """Stream the files into the four tables' staging partitions; publish the rejects always and the
    tables only when they pass the same gate as every other table (they are one consistent set)."""
    snapshot_date = snapshot.isoformat()
    writers = {t: store.table_writer(t, snapshot_date) for t in IATI_TABLES}
    reject_writer = store.rejects_writer("iati_activities", snapshot_date)
    try:
        build = build_iati_tables(files, snapshot, rates, writers, reject_writer, progress=progress)
        reject_writer.commit(empty_schema=REJECT_SCHEMA)  # rejects are published even when tables are not
        settle(writers, {t: polars_schema(TABLES[t].model) for t in writers}, build.rows,
               {t: build.gated_records(t) for t in IATI_TABLES}, store=store, quality=quality,
               snapshot_date=snapshot_date, totals=totals)
        return build
    except BaseException:
        for writer in [*writers.values(), reject_writer]:
            writer.abort()
        raise


def _log_build(context: dg.AssetExecutionContext, snapshot_date: str, build: IatiBuild) -> None:
    for outcome in build.files:
        if outcome.quarantined:
            where = f", line {outcome.line}" if outcome.line else ""
            context.log.warning(f"{snapshot_date}: file {outcome.file}{where} quarantined: {outcome.reason}")
    summary = ", ".join(f"{t} {build.rows[t]} rows / {build.rejected_records(t)} rejected" for t in IATI_TABLES)
    detail(context, f"{snapshot_date}: {len(build.files)} files; {summary}")


financing_assets = [landing_iati_activities, landing_exchange_rates, iati_curated_tables, landing_un_revenue,
                    un_revenue_table]
