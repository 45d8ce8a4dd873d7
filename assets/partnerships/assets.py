"""Dagster wiring of the partnerships domain: Global Compact participants and SDG partnerships."""

from datetime import date

import dagster as dg
import polars as pl

from assets.landing import build_landing_asset
from assets.partnerships.sdg_partnerships import read_partnerships
from assets.partnerships.ungc_participants import read_participants, status_history
from assets.tables import (
    RunTotals,
    TableSpec,
    build_source_asset,
    report,
    table_asset,
    validate_and_publish,
)
from pipelines.resources import QualityResource, StorageResource
from schemas.partnerships import (
    GcParticipants,
    GcParticipantStatusHistory,
    PartnershipPartners,
    Partnerships,
    PartnershipSdgTargets,
)
from schemas.quality import empty_rejects

GROUP = "partnerships"

landing_ungc_participants = build_landing_asset(
    "ungc_participants", group_name=GROUP,
    description="UN Global Compact participant files (site export, or legacy database tables) as fetched.")
landing_sdg_partnerships = build_landing_asset(
    "sdg_partnerships", group_name=GROUP,
    description="SDG Actions platform partnership records (JSON, CSV or XLSX) as fetched.")

GC_PARTICIPANTS = TableSpec("gc_participants", GcParticipants,
                            "One row per UN Global Compact participant per snapshot: type, country, status, dates.",
                            key=lambda f: f["participant_id"])


gc_participants = build_source_asset(name="gc_participants_table", source="ungc_participants", group=GROUP,
                                     specs=[GC_PARTICIPANTS], builder=read_participants)

PARTNERSHIP_SPECS = [
    TableSpec("partnerships", Partnerships, "One row per SDG partnership initiative: lead entity, dates, status.",
              key=lambda f: f["action_id"]),
    TableSpec("partnership_partners", PartnershipPartners, "One row per partner of an initiative (lead included).",
              key=lambda f: f.select(pl.format("{}#{}", "action_id", "partner_index")).to_series()),
    TableSpec("partnership_sdg_targets", PartnershipSdgTargets, "One row per SDG goal or target an initiative names.",
              key=lambda f: f.select(pl.format("{} {}", "action_id", "code")).to_series()),
]


def _partnerships(files, fmt, snapshot: date):
    initiatives, partners, sdgs, rejects = read_partnerships(files, fmt, snapshot)
    return {"partnerships": initiatives, "partnership_partners": partners, "partnership_sdg_targets": sdgs}, rejects


sdg_partnership_tables = build_source_asset(name="sdg_partnership_tables", source="sdg_partnerships", group=GROUP,
                                            specs=PARTNERSHIP_SPECS, builder=_partnerships)

HISTORY = TableSpec("gc_participant_status_history", GcParticipantStatusHistory,
                    "One row per participant per status spell (valid_from, valid_to), from every daily snapshot.",
                    key=lambda f: f.select(pl.format("{}#{}", "participant_id", "spell_number")).to_series())


@table_asset("gc_participant_status_history_table", [HISTORY], group=GROUP, deps=[["curated", "gc_participants"]],
             pool="curated_ungc_participants")
def gc_participant_status_history(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource):
    """Rebuilt in full, in snapshot-date order, from every published gc_participants partition, so a
    backfill or a run over old snapshots gives the history nightly runs would have built."""
    source = storage.curated / "gc_participants"
    if not any(source.glob("snapshot_date=*/*.parquet")):
        context.log.info("no gc_participants snapshots published yet: skipped")
        return
    snapshots = (pl.scan_parquet(source / "**" / "*.parquet", hive_partitioning=True)
                 .select("participant_id", "participant_name", "status", "joined_on", "delisted_on", "delisting_reason",
                         pl.col("snapshot_date").cast(pl.Date))
                 .collect())
    history = status_history(snapshots)
    totals = RunTotals(tables=[HISTORY.name])
    latest = max(context.partition_keys)
    validate_and_publish({HISTORY.name: history}, empty_rejects(), [HISTORY], storage=storage, quality=quality,
                         source="gc_participant_status_history", snapshot_date=latest, totals=totals, partition={})
    context.log.info(f"{history.height} status spells from {snapshots['snapshot_date'].n_unique()} snapshots")
    yield from report(totals, storage, quality, "gc_participant_status_history")


partnerships_assets = [landing_ungc_participants, landing_sdg_partnerships, gc_participants,
                       gc_participant_status_history, sdg_partnership_tables]
