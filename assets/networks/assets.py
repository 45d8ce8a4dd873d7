"""Dagster wiring of the networks domain: Global Compact Local Networks and country coverage."""

from datetime import date

import dagster as dg
import polars as pl

from assets.landing import build_landing_asset
from assets.networks.local_networks import network_coverage, read_local_networks
from assets.tables import (
    RunTotals,
    TableSpec,
    build_source_asset,
    report,
    table_asset,
    validate_and_publish,
)
from pipelines.resources import QualityResource, StorageResource
from schemas.networks import LocalNetworks, NetworkCoverage
from schemas.quality import empty_rejects

GROUP = "networks"

landing_ungc_local_networks = build_landing_asset(
    "ungc_local_networks", group_name=GROUP,
    description="Global Compact Local Networks sheet (CSV export) as fetched.")

LOCAL_NETWORKS = TableSpec("local_networks", LocalNetworks,
                           "One row per Global Compact Local Network: stage, status, contributions in USD.",
                           key=lambda f: f["country_iso3"])
COVERAGE = TableSpec("network_coverage", NetworkCoverage,
                     "One row per country: Local Network and Global Compact participants by status and type.",
                     key=lambda f: f["country_iso3"])


local_networks = build_source_asset(name="local_networks_table", source="ungc_local_networks", group=GROUP,
                                    specs=[LOCAL_NETWORKS], builder=read_local_networks)


@table_asset("network_coverage_table", [COVERAGE], group=GROUP, deps=[["curated", "gc_participants"], ["curated", "local_networks"]])
def network_coverage_table(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource):
    """Joins the day's participants and Local Networks per country."""
    totals = RunTotals(tables=[COVERAGE.name])
    for snapshot_date in context.partition_keys:
        parts = {t: storage.curated / t / f"snapshot_date={snapshot_date}" for t in ("gc_participants", "local_networks")}
        if not all(p.is_dir() for p in parts.values()):
            context.log.info(f"{snapshot_date}: participants or Local Networks not published for this date: skipped")
            continue
        participants = pl.read_parquet(parts["gc_participants"] / "*.parquet")
        networks = pl.read_parquet(parts["local_networks"] / "*.parquet")
        coverage = network_coverage(participants, networks, date.fromisoformat(snapshot_date))
        validate_and_publish({COVERAGE.name: coverage}, empty_rejects(), [COVERAGE], storage=storage, quality=quality,
                             source="network_coverage", snapshot_date=snapshot_date, totals=totals)
    yield from report(totals, storage, quality, "network_coverage")


networks_assets = [landing_ungc_local_networks, local_networks, network_coverage_table]
