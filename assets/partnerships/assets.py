"""Dagster wiring of the partnerships domain: Global Compact participants and SDG partnerships."""


from assets.partnerships.sdg_partnerships import TABLES as PARTNERSHIP_TABLES
from assets.partnerships.sdg_partnerships import partnership_batches
from assets.partnerships.ungc_participants import participant_batches, status_history
from assets.wiring.derived import ALL, Built, DerivedTable, Input, Inputs, derived_asset
from assets.wiring.landing import build_landing_asset
from assets.wiring.tables import build_source_asset

GROUP = "partnerships"

landing_ungc_participants = build_landing_asset(
    "ungc_participants", group_name=GROUP,
    description="UN Global Compact participant files (site export, or legacy database tables) as fetched.")
landing_sdg_partnerships = build_landing_asset(
    "sdg_partnerships", group_name=GROUP,
    description="SDG Actions platform partnership records (JSON, CSV or XLSX) as fetched.")

gc_participants = build_source_asset(name="gc_participants_table", source="ungc_participants", group=GROUP,
                                     tables=["gc_participants"], builder=participant_batches)
sdg_partnership_tables = build_source_asset(name="sdg_partnership_tables", source="sdg_partnerships", group=GROUP,
                                            tables=list(PARTNERSHIP_TABLES), builder=partnership_batches)


def _history(inputs: Inputs, _snapshot) -> Built:
    """Rebuilt in full, in snapshot-date order, from every published gc_participants partition, so a
    backfill or a run over old snapshots gives the history nightly runs would have built."""
    snapshots = inputs["gc_participants"].select(
        "participant_id", "participant_name", "status", "joined_on", "delisted_on", "delisting_reason",
        "snapshot_date").collect()
    history = status_history(snapshots)
    return Built({"gc_participant_status_history": history},
                 log=f"{history.height} status spells from {snapshots['snapshot_date'].n_unique()} snapshots")


gc_participant_status_history = derived_asset(DerivedTable(
    name="gc_participant_status_history_table", outputs=["gc_participant_status_history"],
    inputs=[Input("gc_participants", ALL)], build=_history, group=GROUP, required=("gc_participants",),
    pool="curated_ungc_participants"))

partnerships_assets = [landing_ungc_participants, landing_sdg_partnerships, gc_participants,
                       gc_participant_status_history, sdg_partnership_tables]
