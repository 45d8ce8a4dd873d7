"""Dagster wiring of the networks domain: Global Compact Local Networks and country coverage."""

from assets.networks.local_networks import network_coverage, read_local_networks
from assets.wiring.derived import Built, DerivedTable, Input, Inputs, derived_asset
from assets.wiring.landing import build_landing_asset
from assets.wiring.tables import build_source_asset

GROUP = "networks"

landing_ungc_local_networks = build_landing_asset(
    "ungc_local_networks", group_name=GROUP,
    description="Global Compact Local Networks sheet (CSV export) as fetched.")

local_networks = build_source_asset(name="local_networks_table", source="ungc_local_networks", group=GROUP,
                                    tables=["local_networks"], builder=read_local_networks)


def _coverage(inputs: Inputs, snapshot) -> Built:
    """Joins the day's participants and Local Networks per country."""
    return Built({"network_coverage": network_coverage(inputs["gc_participants"], inputs["local_networks"], snapshot)})


network_coverage_table = derived_asset(DerivedTable(
    name="network_coverage_table", outputs=["network_coverage"],
    inputs=[Input("gc_participants"), Input("local_networks")], build=_coverage, group=GROUP,
    required=("gc_participants", "local_networks")))

networks_assets = [landing_ungc_local_networks, local_networks, network_coverage_table]
