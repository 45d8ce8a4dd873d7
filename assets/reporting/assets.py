"""Dagster wiring of the marts: each is rebuilt per snapshot from its facts and must reconcile with
them (totals equal to the cent) before it is published."""

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import polars as pl

from assets.reporting import marts
from assets.wiring.derived import Built, DerivedTable, Input, Inputs, derived_asset
from assets.wiring.tables import asset_key

GROUP = "reporting"
RECONCILE_CHECK = "reconciles_with_facts"


@dataclass(frozen=True)
class Mart:
    facts: list[str]  # the tables it reads; the first must be published for the mart to be built
    build: Callable[[Inputs], pl.DataFrame]
    reconcile: Callable[[pl.DataFrame, Inputs], tuple[bool, dict]]  # (totals equal, metadata)


MARTS: dict[str, Mart] = {
    "mart_private_contributions_by_entity_year": Mart(
        ["financing_flows"],
        lambda f: marts.private_contributions_by_entity_year(f["financing_flows"]),
        lambda m, f: marts.reconcile_private_contributions(m, f["financing_flows"]),
    ),
    "mart_partnerships_by_sdg": Mart(
        ["partnership_sdg_targets", "partnership_partners", "partner_screening", "organization_source_links",
         "ref_sdg_targets"],
        lambda f: marts.with_names(
            marts.partnerships_by_sdg(f["partnership_sdg_targets"], f["partnership_partners"], f["partner_screening"],
                                      f["organization_source_links"]),
            _goals(f["ref_sdg_targets"]), "goal", {"title": "goal_title"}, "goal"),
        lambda m, f: marts.reconcile_partnerships_by_sdg(m, f["partnership_sdg_targets"]),
    ),
    "mart_network_coverage_by_country": Mart(
        ["network_coverage", "partner_screening", "ref_countries"],
        lambda f: marts.with_names(marts.network_coverage_by_country(f["network_coverage"], f["partner_screening"]),
                                   f["ref_countries"], "country_iso3",
                                   {"country_name": "country_name", "region": "region", "sub_region": "sub_region"},
                                   "country_iso3"),
        lambda m, f: marts.reconcile_network_coverage(m, f["network_coverage"]),
    ),
    "mart_screening_summary": Mart(
        ["partner_screening", "ref_organisation_types"],
        lambda f: marts.with_names(marts.screening_summary(f["partner_screening"]), f["ref_organisation_types"],
                                   "organization_type_code", {"name": "organization_type_name"}, "code"),
        lambda m, f: marts.reconcile_screening_summary(m, f["partner_screening"]),
    ),
}


def _goals(sdg: pl.DataFrame | None) -> pl.DataFrame | None:
    return sdg.filter(pl.col("kind") == "goal") if sdg is not None else None


def build_mart_asset(name: str) -> dg.AssetsDefinition:
    mart = MARTS[name]

    def build(inputs: Inputs, snapshot) -> Built:
        frame = mart.build(inputs).with_columns(pl.lit(snapshot).alias("snapshot_date"))
        ok, meta = mart.reconcile(frame, inputs)
        return Built({name: frame}, checks={RECONCILE_CHECK: (ok, meta)},
                     refusal=None if ok else f"does not reconcile with {mart.facts[0]}: {meta}")

    return derived_asset(DerivedTable(
        name=f"{name}_table", outputs=[name], inputs=[Input(f) for f in mart.facts], build=build, group=GROUP,
        required=(mart.facts[0],), uses_run_date=False,  # the date is only the partition column
        extra_checks=(dg.AssetCheckSpec(RECONCILE_CHECK, asset=asset_key(name), blocking=True,
                                        description="Totals equal those of the facts it aggregates, to the cent."),)))


reporting_assets = [build_mart_asset(name) for name in MARTS]
