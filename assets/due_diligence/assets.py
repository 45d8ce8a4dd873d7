"""Dagster wiring of due diligence: the UN sanctions list, its changes, and partner screening."""

from pathlib import Path

import dagster as dg
import polars as pl

from assets.due_diligence.sanctions import SanctionsList, merge_lists, read_sanctions_list, sanctions_changes
from assets.due_diligence.screening import read_decisions, screen
from assets.io import SourceFileError
from assets.wiring.derived import ALL, AS_OF, Built, DerivedTable, Input, Inputs, derived_asset
from assets.wiring.landing import build_landing_asset
from assets.wiring.tables import (
    RunTotals,
    inputs_read,
    refuse_file,
    remember,
    report,
    table_asset,
    validate_and_publish,
)
from pipelines.resources import QualityResource, StorageResource
from pipelines.storage.reuse import fingerprint
from schemas.base import empty_frame
from schemas.catalog import TABLES
from schemas.quality import rejects_frame

GROUP = "due_diligence"
LIST_TABLES = ["sanctioned_entities", "sanctioned_aliases"]

landing_un_sanctions = build_landing_asset(
    "un_sanctions", group_name=GROUP,
    description="UN Security Council Consolidated List XML files as fetched.")


@table_asset("sanctions_list_tables", LIST_TABLES, group=GROUP, deps=[landing_un_sanctions.key], partitioned=False,
             pool="curated_un_sanctions")
def sanctions_list_tables(context: dg.AssetExecutionContext, storage: StorageResource, quality: QualityResource):
    """One dataset of every list version ever landed, each published under its own dateGenerated, in
    date order: a run over several old lists at once gives the partitions nightly runs would have.
    A list already published (same bytes) is not parsed again."""
    store = storage.store()
    files: dict[str, tuple[Path, str, str]] = {}  # sha256 -> (path, name, landing date), first landing wins
    for day in store.landed_dates("un_sanctions"):
        landed = store.landed("un_sanctions", day)
        for (path, label), (_, sha) in zip(landed.files, landed.digests, strict=True):
            files.setdefault(sha, (path, label, day))
    if not files:
        context.log.info("no landed sanctions lists: skipped")
        return
    totals = RunTotals(tables=list(LIST_TABLES))
    published = store.recorded("sanctions_list_tables")
    parsed: dict[str, SanctionsList] = {}
    known: dict[str, str] = {}  # sha256 -> the date its list is published under
    for sha, (path, label, landed_on) in files.items():
        print_ = fingerprint("un_sanctions", sha)
        day = next((day for day, entry in published.items()
                    if entry["fingerprint"] == print_ and store.has_partition("sanctioned_entities", day)), None)
        if day:
            known[sha] = day
            continue
        try:
            parsed[sha] = read_sanctions_list(path, label)
        except SourceFileError as exc:
            refuse_file(exc, "sanctioned_entities", store=store, source="un_sanctions", snapshot_date=landed_on,
                        totals=totals, context=context)
    # files of one list date are one list: a published one is read again when a new file shares its date
    new_days = {listing.snapshot_date.isoformat() for listing in parsed.values()}
    for sha, day in known.items():
        if day in new_days:
            parsed[sha] = read_sanctions_list(*files[sha][:2])
        elif day not in totals.per_date:
            counts = published[day]["counts"]
            totals.add(day, counts["rows"], counts["rejected"], counts["warnings"], gated=counts.get("gated"))
            context.log.info(f"{files[sha][1]}: list of {day} already published; not parsed again")
    by_day: dict[str, list[str]] = {}
    for sha, listing in parsed.items():
        by_day.setdefault(listing.snapshot_date.isoformat(), []).append(sha)
    for day in sorted(by_day):
        shas = sorted(by_day[day])
        print_ = fingerprint("un_sanctions", *shas)
        try:
            listing = merge_lists([parsed[sha] for sha in shas])
        except SourceFileError as exc:
            refuse_file(exc, "sanctioned_entities", store=store, source="un_sanctions", snapshot_date=day,
                        totals=totals, context=context)
            continue
        provenance = [pl.lit(listing.file).alias("source_file"), pl.lit(listing.snapshot_date).alias("snapshot_date")]
        frames = {"sanctioned_entities": listing.entities.with_columns(provenance),
                  "sanctioned_aliases": listing.aliases.with_columns(provenance)}
        validate_and_publish(frames, rejects_frame(listing.rejects), list(LIST_TABLES), store=store, quality=quality,
                             source="un_sanctions", snapshot_date=day, totals=totals)
        remember("sanctions_list_tables", print_, day, store, totals)
        context.log.info(f"{listing.file}: list of {day}, {listing.entities.height} listings, {listing.aliases.height} aliases")
    yield from report(totals, store, quality, "un_sanctions", extra_metadata=inputs_read([landing_un_sanctions.key.to_user_string()]))


def _changes(inputs: Inputs, _snapshot) -> Built:
    """Rebuilt whole from every published list snapshot, in date order."""
    entities = inputs["sanctioned_entities"].collect()
    aliases = inputs["sanctioned_aliases"]
    aliases = aliases.collect() if aliases is not None else empty_frame(TABLES["sanctioned_aliases"].model)
    changes = sanctions_changes(entities, aliases)
    return Built({"sanctions_changes": changes},
                 log=", ".join(f"{c}: {n}" for c, n in changes.group_by("change").len().sort("change").iter_rows()))


sanctions_changes_table = derived_asset(DerivedTable(
    name="sanctions_changes_table", outputs=["sanctions_changes"],
    inputs=[Input("sanctioned_entities", ALL), Input("sanctioned_aliases", ALL)], build=_changes, group=GROUP,
    required=("sanctioned_entities",), pool="curated_un_sanctions"))


def _decisions(context: dg.AssetExecutionContext) -> tuple[tuple, dict]:
    path = Path(context.resources.screening.decisions_file)
    return (path.read_text(encoding="utf-8") if path.is_file() else None,), {"decisions_file": path}


def _screening(inputs: Inputs, snapshot, decisions_file: Path) -> Built:
    """Uses the latest sanctions list generated on or before the snapshot date."""
    organizations = inputs["organizations"]
    participants = inputs["gc_participants"]
    entities, aliases = inputs["sanctioned_entities"], inputs["sanctioned_aliases"]
    list_date = inputs.as_of("sanctioned_entities")
    warning = None if list_date else "no sanctions list generated on or before this date: sanctions not screened"
    decisions, decision_rejects = read_decisions(decisions_file)
    result, unknown = screen(
        organizations,
        entities if entities is not None else empty_frame(TABLES["sanctioned_entities"].model),
        aliases if aliases is not None else empty_frame(TABLES["sanctioned_aliases"].model),
        participants if participants is not None else empty_frame(TABLES["gc_participants"].model),
        decisions, snapshot, inputs["organization_source_links"])
    if unknown.height:
        warning = (f"{warning}; " if warning else "") + \
            f"{unknown.height} reviewed decisions name org_ids that no longer exist: reported in rejects"
    return Built({"partner_screening": result}, rejects=pl.concat([decision_rejects, unknown]), warning=warning,
                 log=f"screened {result.height} organisations against the sanctions list of {list_date}")


partner_screening_table = derived_asset(DerivedTable(
    name="partner_screening_table", outputs=["partner_screening"],
    inputs=[Input("organizations"), Input("organization_source_links"), Input("gc_participants"),
            Input("sanctioned_entities", AS_OF),
            Input("sanctioned_aliases", AS_OF)],
    build=_screening, group=GROUP, required=("organizations",), settings=_decisions,
    resource_keys=frozenset({"screening"}), uses_run_date=False))

due_diligence_assets = [landing_un_sanctions, sanctions_list_tables, sanctions_changes_table, partner_screening_table]
