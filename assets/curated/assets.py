"""Dagster wiring of the conformed tables: organisations and financing flows."""

from assets.curated.flows import financing_flows
from assets.curated.funders import activity_funders
from assets.curated.organizations import build_organizations, source_records
from assets.wiring.derived import Built, DerivedTable, Input, Inputs, derived_asset

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
    inputs=[Input(t) for t in ORG_SOURCES], build=_organizations, group=GROUP, required="any"))


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
    build=_flows, group=GROUP, required=("organization_source_links", "organizations")))

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
    build=_funders, group=GROUP, required=("iati_participating_orgs", "iati_activities")))

curated_assets = [organization_tables, financing_flows_table, activity_funders_table]
