"""Dagster wiring of the conformed tables: organisations, financing flows, funders, reference tables."""

from datetime import UTC, datetime

import dagster as dg

from assets.curated.flows import financing_flows
from assets.curated.funders import activity_funders
from assets.curated.organizations import build_organizations, source_records
from assets.curated.reference_tables import data_versions, reference_tables
from assets.wiring.derived import Built, DerivedTable, Input, Inputs, derived_asset
from assets.wiring.tables import (
    RunTotals,
    inputs_read,
    remember,
    report,
    table_asset,
    try_reuse,
    validate_and_publish,
)
from pipelines.resources import QualityResource, StorageResource
from pipelines.storage.reuse import fingerprint
from schemas.quality import empty_rejects

GROUP = "curated"
ORG_SOURCES = ("gc_participants", "iati_activities", "iati_participating_orgs", "iati_transactions",
               "un_revenue_by_contributor", "partnership_partners")


def _organizations(inputs: Inputs, snapshot) -> Built:
    """Conforms every organisation mention of the snapshot's curated tables."""
    tables = {t: frame for t in ORG_SOURCES if (frame := inputs[t]) is not None}
    organizations, links = build_organizations(source_records(tables), snapshot)
    methods = dict(links.group_by("match_method").len().iter_rows())
    return Built({"organizations": organizations, "organization_source_links": links},
                 log=f"{organizations.height} organisations from {links.height} source records "
                     f"({', '.join(f'{m} {n}' for m, n in sorted(methods.items()))}) over {', '.join(sorted(tables))}")


organization_tables = derived_asset(DerivedTable(
    name="organization_tables", outputs=["organizations", "organization_source_links"],
    inputs=[Input(t) for t in ORG_SOURCES], build=_organizations, group=GROUP, required="any",
    uses_run_date=False))


def _flows(inputs: Inputs, snapshot) -> Built:
    flows, excluded = financing_flows(inputs["iati_transactions"], inputs["iati_activities"],
                                      inputs["un_revenue_by_contributor"], inputs["organization_source_links"],
                                      inputs["organizations"], snapshot, inputs["iati_participating_orgs"])
    return Built({"financing_flows": flows}, counters={f"not_counted_{rule}": n for rule, n in excluded.items()},
                 log=f"{flows.height} flows; not counted: {excluded}")


financing_flows_table = derived_asset(DerivedTable(
    name="financing_flows_table", outputs=["financing_flows"],
    inputs=[Input("organization_source_links"), Input("organizations"), Input("iati_transactions"),
            Input("iati_activities"), Input("iati_participating_orgs"), Input("un_revenue_by_contributor")],
    build=_flows, group=GROUP, required=("organization_source_links", "organizations"),
    uses_run_date=False))


def _funders(inputs: Inputs, snapshot) -> Built:
    funders = activity_funders(inputs["iati_participating_orgs"], inputs["iati_transactions"], inputs["iati_activities"],
                               inputs["organization_source_links"], snapshot)
    return Built({"activity_funders": funders},
                 log=f"{funders.height} private or foundation funders, {(funders['transactions'] == 0).sum()} "
                     "without a transaction of their own")


activity_funders_table = derived_asset(DerivedTable(
    name="activity_funders_table", outputs=["activity_funders"],
    inputs=[Input("iati_participating_orgs"), Input("iati_transactions"), Input("iati_activities"),
            Input("organization_source_links")],
    build=_funders, group=GROUP, required=("iati_participating_orgs", "iati_activities"),
    uses_run_date=False))

REFERENCE_TABLES = ["ref_countries", "ref_organisation_types", "ref_transaction_types", "ref_sdg_targets"]


@table_asset("reference_tables", REFERENCE_TABLES, group=GROUP, deps=[], partitioned=False)
def reference_tables_asset(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource):
    """What the codes stand for: countries with UN M49 regions, organisation, transaction and revenue
    types, SDG goals and targets with titles; built whole from the packages and carried codelists, and
    kept as they are while neither the code, the configuration nor the packages' versions change."""
    store = storage.store()
    totals = RunTotals(tables=list(REFERENCE_TABLES))
    label = datetime.now(UTC).date().isoformat()  # reference tables are one dataset; rejects go under the run day
    print_ = fingerprint("reference_tables", data_versions(), quality.max_reject_share)
    if not try_reuse("reference_tables", print_, label, list(REFERENCE_TABLES), ["reference"], store, totals, context):
        validate_and_publish(reference_tables(), empty_rejects(), list(REFERENCE_TABLES), store=store, quality=quality,
                             source="reference", snapshot_date=label, totals=totals)
        remember("reference_tables", print_, label, store, totals)
    yield from report(totals, store, quality, "reference", extra_metadata=inputs_read([]))


curated_assets = [organization_tables, financing_flows_table, activity_funders_table, reference_tables_asset]
