"""Dagster wiring of the marts: each is rebuilt per snapshot from its facts and must reconcile with
them (totals equal to the cent) before it is published."""

from collections.abc import Callable
from datetime import date

import dagster as dg
import polars as pl

from assets.reporting import marts
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
from schemas.quality import empty_rejects
from schemas.reporting import (
    MartNetworkCoverageByCountry,
    MartPartnershipsBySdg,
    MartPrivateContributionsByEntityYear,
    MartScreeningSummary,
)

GROUP = "reporting"
RECONCILE_CHECK = "reconciles_with_facts"

# mart -> (model, description, facts it reads, build(facts) -> mart, reconcile(mart, facts) -> (ok, metadata))
Build = Callable[[dict[str, pl.DataFrame | None]], pl.DataFrame | None]
Reconcile = Callable[[pl.DataFrame, dict[str, pl.DataFrame | None]], tuple[bool, dict]]
MARTS: dict[str, tuple] = {
    "mart_private_contributions_by_entity_year": (
        MartPrivateContributionsByEntityYear,
        "Counted contributions from the private sector and foundations to each UN entity, per year.",
        ["financing_flows"],
        lambda f: marts.private_contributions_by_entity_year(f["financing_flows"]),
        lambda m, f: marts.reconcile_private_contributions(m, f["financing_flows"]),
    ),
    "mart_partnerships_by_sdg": (
        MartPartnershipsBySdg,
        "SDG partnership initiatives per goal, with private-sector and high-risk leads.",
        ["partnership_sdg_targets", "partnership_partners", "partner_screening", "organization_source_links"],
        lambda f: marts.partnerships_by_sdg(f["partnership_sdg_targets"], f["partnership_partners"], f["partner_screening"],
                                            f["organization_source_links"]),
        lambda m, f: marts.reconcile_partnerships_by_sdg(m, f["partnership_sdg_targets"]),
    ),
    "mart_network_coverage_by_country": (
        MartNetworkCoverageByCountry,
        "Global Compact Local Networks, participants and screening outcome per country.",
        ["network_coverage", "partner_screening"],
        lambda f: marts.network_coverage_by_country(f["network_coverage"], f["partner_screening"]),
        lambda m, f: marts.reconcile_network_coverage(m, f["network_coverage"]),
    ),
    "mart_screening_summary": (
        MartScreeningSummary,
        "Organisations by screening risk level and type, with flag counts.",
        ["partner_screening"],
        lambda f: marts.screening_summary(f["partner_screening"]),
        lambda m, f: marts.reconcile_screening_summary(m, f["partner_screening"]),
    ),
}


def build_mart_asset(name: str) -> dg.AssetsDefinition:
    model, description, facts, build, reconcile = MARTS[name]
    spec = TableSpec(name, model, description, key=lambda f: pl.Series([str(i) for i in range(f.height)]))

    @table_asset(f"{name}_table", [spec], group=GROUP, deps=[["curated", f] for f in facts], layer="mart",
                 extra_checks=(dg.AssetCheckSpec(RECONCILE_CHECK, asset=["mart", name], blocking=True,
                                                 description="Totals equal those of the facts it aggregates, to the cent."),))
    def _mart(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource):
        totals = RunTotals(tables=[name])
        reconciled: list[tuple[str, bool, dict]] = []
        for snapshot_date in context.partition_keys:
            print_ = input_fingerprint(storage, name, facts, snapshot_date)
            if try_reuse(f"{name}_table", print_, snapshot_date, derived_datasets(storage, [name], name, layer="mart"),
                         storage, totals, context):
                reconciled.append((snapshot_date, True, {"reused": True}))
                continue
            inputs = {f: read_partition(storage, f, snapshot_date) for f in facts}
            if inputs[facts[0]] is None:
                context.log.info(f"{snapshot_date}: {facts[0]} not published: skipped")
                continue
            mart = build(inputs).with_columns(pl.lit(date.fromisoformat(snapshot_date)).alias("snapshot_date"))
            ok, meta = reconcile(mart, inputs)
            reconciled.append((snapshot_date, ok, meta))
            if not ok:
                totals.refused[snapshot_date] = [f"{name} does not reconcile with {facts[0]}: {meta}"]
                totals.add(snapshot_date, {}, {}, {}, empty_rejects())
                continue
            validate_and_publish({name: mart}, empty_rejects(), [spec], storage=storage, quality=quality, source=name,
                                 snapshot_date=snapshot_date, totals=totals, layer="mart")
            remember(f"{name}_table", print_, snapshot_date, storage, totals)
        if not totals.processed:
            return
        yield dg.AssetCheckResult(asset_key=["mart", name], check_name=RECONCILE_CHECK,
                                  passed=all(ok for _, ok, _ in reconciled),
                                  metadata={d: dg.MetadataValue.json(m) for d, _, m in reconciled[-5:]})
        yield from report(totals, storage, quality, name, layer="mart")

    return _mart


reporting_assets = [build_mart_asset(name) for name in MARTS]
