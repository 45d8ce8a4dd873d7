"""Curated partnership tables: UN Global Compact participants and SDG partnership initiatives."""

import pandera.polars as pa
import polars as pl

from schemas.base import SourceSnapshot, StrictModel

CANONICAL_TYPES = ["company", "SME", "NGO", "academic", "city", "business association", "foundation",
                   "public sector", "other"]
STATUSES = ["Active", "Non-communicating", "Delisted"]


class GcParticipants(SourceSnapshot):
    """One row per UN Global Compact participant per snapshot."""

    participant_id: str = pa.Field(unique=True, str_startswith="gc-", description="Stable id from the normalized name and the country")
    source_participant_id: str = pa.Field(nullable=True, description="The source's own id (legacy database ID), where it has one")
    participant_name: str = pa.Field(str_length={"min_value": 1}, description="Name as published (stray wrapping quotes removed)")
    participant_type: str = pa.Field(nullable=True, description="Organisation type as the source writes it")
    canonical_type: str = pa.Field(isin=CANONICAL_TYPES, description="Canonical type (config/ungc.yaml)")
    sector: str = pa.Field(nullable=True, description="Sector name")
    country_iso3: str = pa.Field(nullable=True, str_length={"min_value": 3, "max_value": 3}, description="Country, ISO 3166-1 alpha-3 (pycountry)")
    joined_on: pl.Date = pa.Field(nullable=True, description="Date the participant joined")
    status: str = pa.Field(isin=STATUSES, description="Active, Non-communicating or Delisted")
    delisted_on: pl.Date = pa.Field(nullable=True, description="Date of delisting")
    delisting_reason: str = pa.Field(nullable=True, description="Reason for delisting")
    employees: pl.Int64 = pa.Field(nullable=True, ge=0, description="Number of employees")
    ownership: str = pa.Field(nullable=True, description="Ownership / listing status (private, public, subsidiary, state-owned)")
    cop_due_on: pl.Date = pa.Field(nullable=True, description="Date the next Communication on Progress is due")
    source_row: pl.Int64 = pa.Field(ge=1, description="Line of the row in its source file")


class GcParticipantStatusHistory(StrictModel):
    """One row per participant per status spell, built from every published snapshot in date order."""

    participant_id: str = pa.Field(description="Participant (gc_participants.participant_id)")
    spell_number: pl.Int32 = pa.Field(ge=1, description="1 for the first spell observed, then 2, 3, ...")
    participant_name: str = pa.Field(description="Name in the latest snapshot of the spell")
    status: str = pa.Field(isin=STATUSES, description="Status during the spell")
    valid_from: pl.Date = pa.Field(nullable=True, description="Start as the source dates it: delisting date for delisted spells, joining date for a first spell, first snapshot showing a later change; null where the source gives no date")
    valid_from_source: str = pa.Field(isin=["delisting date", "joining date", "first snapshot", "unknown"], description="Where valid_from comes from; unknown where the source gives no date (valid_from is null)")
    valid_to: pl.Date = pa.Field(nullable=True, description="Start of the next spell; null while the spell lasts")
    first_observed: pl.Date = pa.Field(description="First snapshot date showing this spell")
    last_observed: pl.Date = pa.Field(description="Last snapshot date showing this spell")
    is_current: bool = pa.Field(description="The spell is the participant's status in the latest snapshot")
    joined_on: pl.Date = pa.Field(nullable=True, description="Joining date")
    days_since_joined: pl.Int32 = pa.Field(nullable=True, description="Days from joining to valid_from (how long before delisting, for delisted spells)")
    delisting_reason: str = pa.Field(nullable=True, description="Reason, for delisted spells")

    @pa.dataframe_check(description="participant_id and spell_number identify a spell")
    def one_row_per_spell(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("participant_id", "spell_number").is_duplicated())


class Partnerships(SourceSnapshot):
    """One row per SDG partnership initiative (SDG Actions platform)."""

    action_id: str = pa.Field(unique=True, str_matches=r"^#(SDGAction|OceanAction)\d+$", description="Platform id such as #SDGAction12345")
    platform: str = pa.Field(isin=["SDGAction", "OceanAction"], description="Which register the id belongs to")
    action_number: pl.Int64 = pa.Field(description="Number part of the id")
    title: str = pa.Field(nullable=True, description="Title as published (scraped text may have lost characters)")
    description: str = pa.Field(nullable=True, description="Description as published")
    lead_entity: str = pa.Field(nullable=True, description="Lead entity as written")
    lead_entity_type: str = pa.Field(nullable=True, description="Lead entity type, where given")
    start_date: pl.Date = pa.Field(nullable=True, description="Start date")
    end_date: pl.Date = pa.Field(nullable=True, description="End date")
    resources_mobilized: str = pa.Field(nullable=True, description="Resources mobilized, as text")
    progress_status: str = pa.Field(nullable=True, description="Progress status, as published")
    url: str = pa.Field(nullable=True, description="Page of the initiative")
    has_duplicate_title: bool = pa.Field(nullable=True, description="Source flag: another initiative has the same title")
    has_duplicate_description: bool = pa.Field(nullable=True, description="Source flag: another initiative has the same description")
    source_row: pl.Int64 = pa.Field(ge=1, description="Row of the initiative in its source file")


class PartnershipPartners(SourceSnapshot):
    """One row per partner of an initiative, the lead entity included."""

    action_id: str = pa.Field(description="Initiative (partnerships.action_id)")
    partner_index: pl.Int32 = pa.Field(ge=0, description="Position among the initiative's partners (0 = lead)")
    role: str = pa.Field(isin=["lead", "partner"], description="lead or partner")
    entity_type: str = pa.Field(nullable=True, description="Entity type where known")
    name_as_written: str = pa.Field(description="Name as the source writes it")
    name_normalized: str = pa.Field(description="Casefolded, accent- and quote-free, single-spaced name")
    source_row: pl.Int64 = pa.Field(ge=1, description="Row of the initiative in its source file")


class PartnershipSdgTargets(SourceSnapshot):
    """One row per SDG goal or target an initiative names."""

    action_id: str = pa.Field(description="Initiative (partnerships.action_id)")
    kind: str = pa.Field(isin=["goal", "target"], description="goal or target")
    code: str = pa.Field(description="Goal number (e.g. 14) or target code (e.g. 14.1, 14.a), checked against the UN list")
    goal: pl.Int32 = pa.Field(ge=1, le=17, description="Goal the row belongs to")
    source_row: pl.Int64 = pa.Field(ge=1, description="Row of the initiative in its source file")
