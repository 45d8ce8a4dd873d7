"""Dagster wiring of the financing domain: IATI activities and exchange rates."""

from datetime import date

import dagster as dg

from assets.financing.fx import load_rates
from assets.financing.iati import IatiBuild, build_iati_tables
from assets.financing.iati_reader import IatiBatch
from assets.financing.iati_transform import TABLES, transform_batch
from assets.financing.un_revenue import read_revenue
from assets.landing import build_landing_asset
from assets.tables import (
    RunTotals,
    TableSpec,
    build_source_asset,
    remember,
    report,
    table_asset,
    try_reuse,
)
from pipelines.incremental import fingerprint
from pipelines.landing import read_manifest
from pipelines.locks import partition_lock
from pipelines.publish import PartitionWriter, publish_frame
from pipelines.resources import QualityResource, StorageResource
from schemas.financing import CURATED_MODELS, UnRevenueByContributor
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

UN_REVENUE = TableSpec("un_revenue_by_contributor", UnRevenueByContributor,
                       "One row per UN revenue line: year, entity, donor, canonical contributor type, revenue type, USD.",
                       key=lambda f: f["source_row_ref"])


un_revenue_table = build_source_asset(name="un_revenue_table", source="un_revenue", group=GROUP,
                                      specs=[UN_REVENUE], builder=read_revenue)

_DESCRIPTIONS = {
    "iati_activities": "One row per IATI activity: reporting org, title, status, dates, countries, sectors, SDGs.",
    "iati_transactions": "One row per IATI transaction with codelist names and value_usd at the value date.",
    "iati_participating_orgs": "One row per participating organisation of an IATI activity, with role and type.",
    "iati_budgets": "One row per IATI budget period, with value_usd at the value date.",
}


@table_asset("iati_curated_tables", [TableSpec(t, CURATED_MODELS[t], _DESCRIPTIONS[t], key=lambda f: f["iati_identifier"])
                                     for t in TABLES],
             group=GROUP, deps=[landing_iati_activities.key, landing_exchange_rates.key], pool="curated_iati")
def iati_curated_tables(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource):
    """Read the landed IATI files of each partition, validate, convert to USD, publish four tables."""
    totals = RunTotals(tables=list(TABLES))
    rates_cache: dict[tuple, object] = {}  # a backfill reuses the rates of identical landed files
    for snapshot_date in context.partition_keys:
        manifest = read_manifest(storage.landing / "iati_activities" / snapshot_date)
        if manifest is None:
            context.log.info(f"no landed IATI files for {snapshot_date}: skipped")
            continue
        rates_manifest = read_manifest(storage.landing / "exchange_rates" / snapshot_date) or {"files": []}
        rates_dir = storage.landing / "exchange_rates" / snapshot_date
        rates_key = tuple(f["sha256"] for f in rates_manifest["files"])
        landing_dir = storage.landing / "iati_activities" / snapshot_date
        files = [(landing_dir / f["name"], f["name"]) for f in manifest["files"]]
        snapshot = date.fromisoformat(snapshot_date)

        print_ = fingerprint("iati", [(f["name"], f["sha256"]) for f in manifest["files"]], rates_key,
                             quality.max_reject_share)
        datasets = [(storage.curated / t, {"snapshot_date": "{date}"}) for t in TABLES] + [
            (storage.rejects, {"source": "iati_activities", "snapshot_date": "{date}"})]
        if rates_key:
            datasets.append((storage.rejects, {"source": "exchange_rates", "snapshot_date": "{date}"}))
        if try_reuse("iati_curated_tables", print_, snapshot_date, datasets, storage, totals, context):
            continue
        if rates_key not in rates_cache:
            rates_cache[rates_key] = load_rates([rates_dir / f["name"] for f in rates_manifest["files"]])
        rates = rates_cache[rates_key]
        if rates_manifest["files"]:
            publish_frame(rates.rejects, storage.rejects, {"source": "exchange_rates", "snapshot_date": snapshot_date},
                          storage.staging)
            if rates.rejects.height:
                context.log.warning(f"{snapshot_date}: {rates.rejects.height} exchange-rate rows unusable; "
                                    f"see {storage.rejects}/source=exchange_rates/")
        with partition_lock(storage.root, f"iati_activities-{snapshot_date}"):
            build = _publish_snapshot(files, snapshot, rates, storage, quality, totals)
        _log_build(context, snapshot_date, build)
        totals.add(snapshot_date, build.rows, {t: build.rejected_records(t) for t in TABLES},
                   {t: build.warnings(t) for t in TABLES}, build.sample)
        remember("iati_curated_tables", print_, snapshot_date, storage, totals)
    yield from report(totals, storage, quality, "iati_activities")


def _publish_snapshot(files, snapshot: date, rates, storage: StorageResource, quality: QualityResource,
                      totals: RunTotals) -> IatiBuild:
    """Stream the files into the four tables' staging partitions; publish the rejects always and the
    tables only when every reject share is within the threshold."""
    snapshot_date = snapshot.isoformat()
    writers = {t: PartitionWriter(storage.curated / t, {"snapshot_date": snapshot_date}, storage.staging) for t in TABLES}
    reject_writer = PartitionWriter(storage.rejects, {"source": "iati_activities", "snapshot_date": snapshot_date},
                                    storage.staging)
    try:
        build = build_iati_tables(files, snapshot, rates, writers, reject_writer)
        reject_writer.commit(empty_schema=REJECT_SCHEMA)  # rejects are published even when tables are not
        over = [t for t in TABLES if build.reject_share(t) > quality.max_reject_share]
        if over:
            for w in writers.values():
                w.abort()
            totals.refused[snapshot_date] = [f"{t} {build.reject_share(t):.0%} rejected" for t in over]
        else:
            empty = transform_batch(IatiBatch(), "", snapshot, rates).tables
            for table, writer in writers.items():
                writer.commit(empty_schema=empty[table].schema)
        return build
    except BaseException:
        for w in [*writers.values(), reject_writer]:
            w.abort()
        raise


def _log_build(context: dg.AssetExecutionContext, snapshot_date: str, build: IatiBuild) -> None:
    for outcome in build.files:
        if outcome.quarantined:
            where = f", line {outcome.line}" if outcome.line else ""
            context.log.warning(f"{snapshot_date}: file {outcome.file}{where} quarantined: {outcome.reason}")
    summary = ", ".join(f"{t} {build.rows[t]} rows / {build.rejected_records(t)} rejected" for t in TABLES)
    context.log.info(f"{snapshot_date}: {len(build.files)} files; {summary}")


financing_assets = [landing_iati_activities, landing_exchange_rates, iati_curated_tables, landing_un_revenue,
                    un_revenue_table]
