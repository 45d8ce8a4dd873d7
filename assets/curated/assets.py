"""Dagster wiring of the conformed tables: organisations and financing flows."""

from datetime import date

import dagster as dg
import polars as pl

from assets.curated.flows import financing_flows
from assets.curated.organizations import build_organizations, source_records
from assets.tables import (
    RunTotals,
    TableSpec,
    derived_datasets,
    input_fingerprint,
    read_partition,
    remember,
    report,
    table_asset,
    try_reuse,
    validate_and_publish,
)
from pipelines.resources import QualityResource, StorageResource
from schemas.curated import FinancingFlows, Organizations, OrganizationSourceLinks
from schemas.quality import empty_rejects

GROUP = "curated"
ORG_SOURCES = ("gc_participants", "iati_activities", "iati_participating_orgs", "iati_transactions",
               "un_revenue_by_contributor", "partnership_partners")

ORGANIZATIONS = TableSpec("organizations", Organizations,
                          "One row per real-world organisation across all sources, with a stable org_id.",
                          key=lambda f: f["org_id"])
LINKS = TableSpec("organization_source_links", OrganizationSourceLinks,
                  "Every source record of an organisation with match_method (identifier, exact normalized name, fuzzy) and score.",
                  key=lambda f: f.select(pl.format("{}|{}", "source_table", "source_key")).to_series())
FLOWS = TableSpec("financing_flows", FinancingFlows,
                  "Money between partners and the UN (IATI and UN revenue), with the double-counting rule applied.",
                  key=lambda f: f["flow_id"])


@table_asset("organization_tables", [ORGANIZATIONS, LINKS], group=GROUP, deps=[["curated", t] for t in ORG_SOURCES])
def organization_tables(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource):
    """Conforms every organisation mention of the snapshot's curated tables."""
    totals = RunTotals(tables=[ORGANIZATIONS.name, LINKS.name])
    for snapshot_date in context.partition_keys:
        print_ = input_fingerprint(storage, "organizations", list(ORG_SOURCES), snapshot_date)
        if try_reuse("organization_tables", print_, snapshot_date,
                     derived_datasets(storage, [ORGANIZATIONS.name, LINKS.name], "organizations"), storage, totals, context):
            continue
        tables = {t: frame for t in ORG_SOURCES if (frame := read_partition(storage, t, snapshot_date)) is not None}
        if not tables:
            context.log.info(f"{snapshot_date}: no source tables published: skipped")
            continue
        organizations, links = build_organizations(source_records(tables), date.fromisoformat(snapshot_date))
        validate_and_publish({ORGANIZATIONS.name: organizations, LINKS.name: links}, empty_rejects(), [ORGANIZATIONS, LINKS],
                             storage=storage, quality=quality, source="organizations", snapshot_date=snapshot_date, totals=totals)
        remember("organization_tables", print_, snapshot_date, storage, totals)
        methods = dict(links.group_by("match_method").len().iter_rows())
        context.log.info(f"{snapshot_date}: {organizations.height} organisations from {links.height} source records "
                         f"({', '.join(f'{m} {n}' for m, n in sorted(methods.items()))}) over {', '.join(sorted(tables))}")
    yield from report(totals, storage, quality, "organizations")


@table_asset("financing_flows_table", [FLOWS], group=GROUP, deps=[["curated", t] for t in
             ("organization_source_links", "iati_transactions", "un_revenue_by_contributor")])
def financing_flows_table(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource):
    totals = RunTotals(tables=[FLOWS.name])
    excluded_total: dict[str, int] = {}
    for snapshot_date in context.partition_keys:
        inputs = ["organization_source_links", "organizations", "iati_transactions", "iati_activities", "un_revenue_by_contributor"]
        print_ = input_fingerprint(storage, "financing_flows", inputs, snapshot_date)
        if try_reuse("financing_flows_table", print_, snapshot_date, derived_datasets(storage, [FLOWS.name], "financing_flows"),
                     storage, totals, context):
            continue
        links = read_partition(storage, "organization_source_links", snapshot_date)
        organizations = read_partition(storage, "organizations", snapshot_date)
        if links is None or organizations is None:
            context.log.info(f"{snapshot_date}: no organizations: skipped")
            continue
        flows, excluded = financing_flows(read_partition(storage, "iati_transactions", snapshot_date),
                                          read_partition(storage, "iati_activities", snapshot_date),
                                          read_partition(storage, "un_revenue_by_contributor", snapshot_date),
                                          links, organizations, date.fromisoformat(snapshot_date))
        for rule, n in excluded.items():
            excluded_total[rule] = excluded_total.get(rule, 0) + n
        validate_and_publish({FLOWS.name: flows}, empty_rejects(), [FLOWS], storage=storage, quality=quality,
                             source="financing_flows", snapshot_date=snapshot_date, totals=totals)
        remember("financing_flows_table", print_, snapshot_date, storage, totals)
        context.log.info(f"{snapshot_date}: {flows.height} flows; not counted: {excluded}")
    for event in report(totals, storage, quality, "financing_flows"):
        if isinstance(event, dg.MaterializeResult):
            event = dg.MaterializeResult(asset_key=event.asset_key, metadata={
                **event.metadata, **{f"not_counted_{rule}": n for rule, n in excluded_total.items()}})
        yield event


curated_assets = [organization_tables, financing_flows_table]
