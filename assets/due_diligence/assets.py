"""Dagster wiring of due diligence: the UN sanctions list, its changes, and partner screening."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from assets.due_diligence.sanctions import read_sanctions_list, sanctions_changes
from assets.due_diligence.screening import read_decisions, screen
from assets.io import SourceFileError
from assets.landing import build_landing_asset
from assets.tables import (
    RunTotals,
    TableSpec,
    derived_datasets,
    file_failure_rejects,
    input_fingerprint,
    read_all_partitions,
    read_partition,
    remember,
    report,
    table_asset,
    try_reuse,
    validate_and_publish,
)
from pipelines.incremental import fingerprint, load_state
from pipelines.landing import read_manifest
from pipelines.publish import publish_frame
from pipelines.resources import QualityResource, ScreeningResource, StorageResource
from schemas.due_diligence import PartnerScreening, SanctionedAliases, SanctionedEntities, SanctionsChanges
from schemas.quality import empty_rejects

GROUP = "due_diligence"

landing_un_sanctions = build_landing_asset(
    "un_sanctions", group_name=GROUP,
    description="UN Security Council Consolidated List XML files as fetched.")

ENTITIES = TableSpec("sanctioned_entities", SanctionedEntities,
                     "One row per UN sanctions listing (individual or entity), per list snapshot (its dateGenerated).",
                     key=lambda f: f["reference_number"])
ALIASES = TableSpec("sanctioned_aliases", SanctionedAliases, "One row per alias of a UN sanctions listing, with its quality.",
                    key=lambda f: f.select(pl.format("{}#{}", "reference_number", "alias_index")).to_series())
CHANGES = TableSpec("sanctions_changes", SanctionsChanges,
                    "Listings added, removed or amended (with the fields) between consecutive list snapshots.",
                    key=lambda f: f.select(pl.format("{} {}", "reference_number", "snapshot_date")).to_series())
SCREENING = TableSpec("partner_screening", PartnerScreening,
                      "Every organisation screened against sanctions, Global Compact status and exclusions: flags, reasons, risk.",
                      key=lambda f: f["org_id"])


@table_asset("sanctions_list_tables", [ENTITIES, ALIASES], group=GROUP, deps=[landing_un_sanctions.key],
             pool="curated_un_sanctions")
def sanctions_list_tables(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource):
    """Each landed list file is published under its own dateGenerated date, in date order, so a run
    over several old lists at once gives the partitions nightly runs would have."""
    files: dict[str, tuple[Path, str]] = {}
    for snapshot_date in context.partition_keys:
        folder = storage.landing / "un_sanctions" / snapshot_date
        manifest = read_manifest(folder)
        for entry in (manifest or {}).get("files", []):
            files.setdefault(entry["sha256"], (folder / entry["name"], entry["name"]))
    if not files:
        context.log.info("no landed sanctions lists for these dates: skipped")
        return
    totals = RunTotals(tables=[ENTITIES.name, ALIASES.name])
    lists = []
    published = load_state(storage.root, "sanctions_list_tables")
    for sha, (path, label) in files.items():
        known = next((day for day, entry in published.items() if entry["fingerprint"] == fingerprint("un_sanctions", sha)
                      and (storage.curated / ENTITIES.name / f"snapshot_date={day}").is_dir()), None)
        if known:  # this very list is already published under its own date
            counts = published[known]["counts"]
            totals.add(known, counts["rows"], counts["rejected"], counts["warnings"], empty_rejects())
            context.log.info(f"{label}: list of {known} already published; not parsed again")
            continue
        try:
            lists.append((sha, read_sanctions_list(path, label)))
        except SourceFileError as exc:
            context.log.error(str(exc))
            day = context.partition_keys[-1]
            publish_frame(file_failure_rejects(exc, ENTITIES.name), storage.rejects,
                          {"source": "un_sanctions", "snapshot_date": day}, storage.staging)
            totals.refused[day] = [f"file {exc}"]
    for sha, listing in sorted(lists, key=lambda item: item[1].generated):
        day = listing.snapshot_date.isoformat()
        frames = {
            ENTITIES.name: listing.entities.with_columns(pl.lit(listing.file).alias("source_file"), pl.lit(listing.snapshot_date).alias("snapshot_date")),
            ALIASES.name: listing.aliases.with_columns(pl.lit(listing.file).alias("source_file"), pl.lit(listing.snapshot_date).alias("snapshot_date")),
        }
        rejects = pl.DataFrame(listing.rejects, schema=empty_rejects().schema) if listing.rejects else empty_rejects()
        validate_and_publish(frames, rejects, [ENTITIES, ALIASES], storage=storage, quality=quality, source="un_sanctions",
                             snapshot_date=day, totals=totals)
        remember("sanctions_list_tables", fingerprint("un_sanctions", sha), day, storage, totals)
        context.log.info(f"{listing.file}: list of {day}, {listing.entities.height} listings, {listing.aliases.height} aliases")
    yield from report(totals, storage, quality, "un_sanctions")


@table_asset("sanctions_changes_table", [CHANGES], group=GROUP, deps=[["curated", ENTITIES.name], ["curated", ALIASES.name]],
             pool="curated_un_sanctions")
def sanctions_changes_table(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource):
    """Rebuilt whole from every published list snapshot, in date order."""
    entities = read_all_partitions(storage, ENTITIES.name)
    aliases = read_all_partitions(storage, ALIASES.name)
    if entities is None:
        context.log.info("no sanctions list published yet: skipped")
        return
    changes = sanctions_changes(entities, aliases if aliases is not None else pl.DataFrame(
        schema={"reference_number": pl.Utf8, "alias_name": pl.Utf8, "snapshot_date": pl.Date}))
    totals = RunTotals(tables=[CHANGES.name])
    validate_and_publish({CHANGES.name: changes}, empty_rejects(), [CHANGES], storage=storage, quality=quality,
                         source="sanctions_changes", snapshot_date=max(context.partition_keys), totals=totals, partition={})
    context.log.info(", ".join(f"{c}: {n}" for c, n in changes.group_by("change").len().sort("change").iter_rows()))
    yield from report(totals, storage, quality, "sanctions_changes")


@table_asset("partner_screening_table", [SCREENING], group=GROUP,
             deps=[["curated", "organizations"], ["curated", ENTITIES.name], ["curated", ALIASES.name]])
def partner_screening_table(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource,
                            screening: ScreeningResource):
    """Uses the latest sanctions list generated on or before the snapshot date."""
    entities_all = read_all_partitions(storage, ENTITIES.name)
    aliases_all = read_all_partitions(storage, ALIASES.name)
    decisions, decision_rejects = read_decisions(Path(screening.decisions_file))
    totals = RunTotals(tables=[SCREENING.name])
    for snapshot_date in context.partition_keys:
        organizations = read_partition(storage, "organizations", snapshot_date)
        if organizations is None:
            context.log.info(f"{snapshot_date}: no organizations: skipped")
            continue
        day = date.fromisoformat(snapshot_date)
        if entities_all is not None and entities_all.filter(pl.col("snapshot_date") <= day).height:
            list_date = entities_all.filter(pl.col("snapshot_date") <= day)["snapshot_date"].max()
            entities = entities_all.filter(pl.col("snapshot_date") == list_date)
            aliases = aliases_all.filter(pl.col("snapshot_date") == list_date) if aliases_all is not None else None
            context.log.info(f"{snapshot_date}: screening against the sanctions list of {list_date}")
        else:
            list_date = None
            context.log.warning(f"{snapshot_date}: no sanctions list generated on or before this date: sanctions not screened")
            entities = pl.DataFrame(schema={"reference_number": pl.Utf8, "record_type": pl.Utf8, "un_list_type": pl.Utf8,
                                            "name": pl.Utf8})
            aliases = None
        if aliases is None:
            aliases = pl.DataFrame(schema={"reference_number": pl.Utf8, "alias_index": pl.Int32, "alias_name": pl.Utf8, "quality": pl.Utf8})
        print_ = input_fingerprint(storage, SCREENING.name, ["organizations", "gc_participants"], snapshot_date,
                                   str(list_date), Path(screening.decisions_file).read_text()
                                   if Path(screening.decisions_file).is_file() else None)
        if try_reuse("partner_screening_table", print_, snapshot_date,
                     derived_datasets(storage, [SCREENING.name], "partner_screening"), storage, totals, context):
            continue
        participants = read_partition(storage, "gc_participants", snapshot_date)
        if participants is None:
            participants = pl.DataFrame(schema={"participant_id": pl.Utf8, "status": pl.Utf8, "delisting_reason": pl.Utf8, "sector": pl.Utf8})
        result, unknown = screen(organizations, entities, aliases, participants, decisions, day)
        if unknown.height:
            context.log.warning(f"{unknown.height} reviewed decisions name org_ids that no longer exist: reported in rejects")
        validate_and_publish({SCREENING.name: result}, pl.concat([decision_rejects, unknown]), [SCREENING], storage=storage,
                             quality=quality, source="partner_screening", snapshot_date=snapshot_date, totals=totals)
        remember("partner_screening_table", print_, snapshot_date, storage, totals)
    yield from report(totals, storage, quality, "partner_screening")


due_diligence_assets = [landing_un_sanctions, sanctions_list_tables, sanctions_changes_table, partner_screening_table]
