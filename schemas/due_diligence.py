"""Curated due-diligence tables: the UN sanctions list, its changes, and partner screening."""

from typing import Annotated

import pandera.polars as pa
import polars as pl

from schemas.base import Snapshot, StrictModel
from schemas.vocabularies import RISK_LEVELS


class ListSnapshot(StrictModel):
    """A table published under the list's own ``dateGenerated``, not the run's snapshot date."""

    source_file: str = pa.Field(description="List file the row was read from")
    snapshot_date: pl.Date = pa.Field(description="The list's dateGenerated date; the hive partition folder")


class SanctionedEntities(ListSnapshot):
    """One row per listing (individual or entity) of the UN Security Council Consolidated List."""

    reference_number: str = pa.Field(unique=True, description="UN reference number (e.g. QDe.069)")
    data_id: str = pa.Field(nullable=True, description="DATAID of the listing")
    version_number: pl.Int32 = pa.Field(nullable=True, description="VERSIONNUM of the listing")
    record_type: str = pa.Field(isin=["individual", "entity"], description="individual or entity")
    name: str = pa.Field(description="Name (first to fourth name joined)")
    name_original_script: str = pa.Field(nullable=True, description="Name in original script")
    un_list_type: str = pa.Field(nullable=True, description="Sanctions regime (Al-Qaida, Taliban, DPRK, ...)")
    listed_on: pl.Date = pa.Field(nullable=True, description="Date of listing")
    nationality_countries: Annotated[pl.List, pl.Utf8] = pa.Field(description="Nationalities, ISO 3166-1 alpha-3")
    address_countries: Annotated[pl.List, pl.Utf8] = pa.Field(description="Countries of known addresses, ISO alpha-3")
    last_updated: pl.Date = pa.Field(nullable=True, description="Latest LAST_DAY_UPDATED")
    comments: str = pa.Field(nullable=True, description="COMMENTS1")
    titles: Annotated[pl.List, pl.Utf8] = pa.Field(description="Titles of an individual (e.g. Mullah), as listed")
    designations: Annotated[pl.List, pl.Utf8] = pa.Field(description="Designations of an individual (functions held), as listed")
    dates_of_birth: Annotated[pl.List, pl.Utf8] = pa.Field(description="Dates of birth of an individual: a date, a year or a range, with the list's qualifier (approximately, between)")
    places_of_birth: Annotated[pl.List, pl.Utf8] = pa.Field(description="Places of birth of an individual: city, province, country")
    addresses: Annotated[pl.List, pl.Utf8] = pa.Field(description="Known addresses: street, city, province, postcode, country, note")


class SanctionedAliases(ListSnapshot):
    """One row per alias of a listing."""

    reference_number: str = pa.Field(description="Listing (sanctioned_entities.reference_number)")
    alias_index: pl.Int32 = pa.Field(ge=0, description="Position of the alias within the listing")
    part_index: pl.Int32 = pa.Field(ge=0, description="Position of the name within the listed alias string (several names are often packed in one)")
    alias_name: str = pa.Field(description="One name of the listed alias string")
    alias_kind: str = pa.Field(isin=["name", "acronym", "original_script"], description="name, acronym, or original_script (a form in its original script, marked as such by the list or written in a non-Latin script)")
    alias_packed: str = pa.Field(description="The alias string as listed, for provenance")
    quality: str = pa.Field(nullable=True, description="Alias quality as listed (Good, Low, a.k.a., f.k.a.)")


class SanctionsChanges(StrictModel):
    """Listings added, removed or amended between consecutive list snapshots."""

    reference_number: str = pa.Field(description="Listing")
    previous_snapshot_date: pl.Date = pa.Field(description="Earlier list's date")
    snapshot_date: pl.Date = pa.Field(description="Later list's date")
    change: str = pa.Field(isin=["added", "removed", "amended"], description="added, removed or amended")
    changed_fields: Annotated[pl.List, pl.Utf8] = pa.Field(description="For amended listings, the fields that changed")
    name: str = pa.Field(description="Name (latest known)")
    record_type: str = pa.Field(description="individual or entity")
    un_list_type: str = pa.Field(nullable=True, description="Sanctions regime")


class PartnerScreening(Snapshot):
    """One row per organisation: flags, reasons and risk level, with any reviewed decision."""

    org_id: str = pa.Field(unique=True, description="Organisation (organizations.org_id)")
    canonical_name: str = pa.Field(nullable=True, description="Organisation name")
    country_iso3: str = pa.Field(nullable=True, description="Country, ISO alpha-3")
    organization_type_code: str = pa.Field(nullable=True, description="IATI OrganisationType code")
    risk_level: str = pa.Field(isin=list(RISK_LEVELS), description="clear, review or high, after any reviewed decision")
    screened_risk_level: str = pa.Field(isin=list(RISK_LEVELS), description="Risk level from the flags alone")
    flags: Annotated[pl.List, pl.Utf8] = pa.Field(description="sanctions_match, gc_delisted, gc_non_communicating, excluded_sector, exclusion_keyword")
    reasons: Annotated[pl.List, pl.Utf8] = pa.Field(description="Why, one line per flag (and the decision)")
    sanctions_match_name: str = pa.Field(nullable=True, description="Listed name matched")
    sanctions_match_alias: str = pa.Field(nullable=True, description="Alias matched, where the match was on an alias")
    sanctions_alias_quality: str = pa.Field(nullable=True, description="Quality of that alias")
    sanctions_reference_number: str = pa.Field(nullable=True, description="Listing matched")
    sanctions_list_type: str = pa.Field(nullable=True, description="Sanctions regime of the listing")
    sanctions_record_type: str = pa.Field(nullable=True, description="individual or entity")
    sanctions_score: pl.Float64 = pa.Field(nullable=True, ge=0, le=100, description="Name similarity (0-100)")
    sanctions_alias_kind: str = pa.Field(nullable=True, isin=["name", "acronym", "original_script"], description="Kind of the listed name or alias matched")
    sanctions_words_found: Annotated[pl.List, pl.Utf8] = pa.Field(nullable=True, description="Words of the listed name found in the organisation's name")
    sanctions_words_missing: Annotated[pl.List, pl.Utf8] = pa.Field(nullable=True, description="Words of the listed name not found in it")
    sanctions_coverage: pl.Float64 = pa.Field(nullable=True, ge=0, le=1, description="Share of the listed name's weight (words weighted by rarity) found; a match needs the configured minimum")
    sanctions_country_agreement: str = pa.Field(nullable=True, isin=["agrees", "differs", "unknown"], description="Organisation's country against the listing's nationalities and addresses")
    gc_status: str = pa.Field(nullable=True, description="Global Compact status, for participants")
    gc_delisting_reason: str = pa.Field(nullable=True, description="Global Compact delisting reason")
    gc_sector: str = pa.Field(nullable=True, description="Global Compact sector")
    decision: str = pa.Field(nullable=True, description="Reviewed decision (cleared, confirmed, excluded, review)")
    decision_reviewer: str = pa.Field(nullable=True, description="Reviewer")
    decision_date: str = pa.Field(nullable=True, description="Date of the decision")
    decision_reason: str = pa.Field(nullable=True, description="Reason given by the reviewer")
