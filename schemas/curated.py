"""Conformed organisations and the financing fact table."""

from typing import Annotated

import pandera.polars as pa
import polars as pl

from schemas.base import Snapshot
from schemas.vocabularies import PRIVATE_ORGANISATION_TYPES


class Organizations(Snapshot):
    """One row per real-world organisation seen in any source."""

    org_id: str = pa.Field(unique=True, str_startswith="org-", description="Stable id from the strongest identifier (IATI ref, Global Compact id, else normalized name and country)")
    canonical_name: str = pa.Field(nullable=True, description="Name from the most authoritative source")
    name_normalized: str = pa.Field(nullable=True, description="Normalized name (no legal form, accents, case or punctuation)")
    organization_type_code: str = pa.Field(nullable=True, description="IATI OrganisationType code")
    organization_type_name: str = pa.Field(nullable=True, description="IATI OrganisationType name")
    source_types: Annotated[pl.List, pl.Utf8] = pa.Field(description="Organisation types as the sources write them")
    country_iso3: str = pa.Field(nullable=True, description="Country, ISO alpha-3")
    iati_org_ref: str = pa.Field(nullable=True, description="IATI organisation identifier")
    gc_participant_id: str = pa.Field(nullable=True, description="Global Compact participant id")
    sources: Annotated[pl.List, pl.Utf8] = pa.Field(description="Curated tables the organisation appears in")
    source_records: pl.Int32 = pa.Field(ge=1, description="Number of source records linked")


class OrganizationSourceLinks(Snapshot):
    """Every source record of an organisation, and how it was matched."""

    org_id: str = pa.Field(description="Organisation")
    source: str = pa.Field(description="Curated table of the record")
    source_table: str = pa.Field(description="Table and role (e.g. iati_transactions.provider_org)")
    source_key: str = pa.Field(description="Key of the record in its table (ref, id or name)")
    source_name: str = pa.Field(nullable=True, description="Name as written in the source")
    source_type: str = pa.Field(nullable=True, description="Organisation type as the source writes it")
    match_method: str = pa.Field(isin=["identifier", "exact normalized name", "fuzzy"], description="How the record joined the organisation")
    match_score: pl.Float64 = pa.Field(ge=0, le=100, description="100 for identifiers and exact names; the fuzzy score otherwise")

    @pa.dataframe_check(description="a source record belongs to one organisation")
    def one_org_per_record(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("source_table", "source_key").is_duplicated())


PROVIDER_TYPE_METHODS = [
    "transaction", "participating-org ref", "participating-org name", "reporting-org", "conformed organisation", "unknown",
    "CEB contributor type (code)", "CEB contributor type (label)", "CEB contributor type (donor history)",
    "CEB contributor type (donor mapping)",
]


class FinancingFlows(Snapshot):
    """Money between partners and the UN, from IATI and UN revenue statistics."""

    flow_id: str = pa.Field(unique=True, description="Stable id of the flow (from its source reference)")
    source: str = pa.Field(isin=["iati", "un_revenue"], description="iati or un_revenue")
    direction: str = pa.Field(isin=["to_un", "from_un"], description="to_un or from_un")
    reported_by: str = pa.Field(isin=["UN entity", "partner"], description="Who reported the flow: the UN entity, or the private or foundation partner")
    year: pl.Int32 = pa.Field(nullable=True, description="Year of the flow")
    date: pl.Date = pa.Field(nullable=True, description="Value date (IATI)")
    provider_org_id: str = pa.Field(nullable=True, description="Provider organisation")
    provider_org_name: str = pa.Field(nullable=True, description="Provider organisation's name (organizations.canonical_name)")
    provider_country_iso3: str = pa.Field(nullable=True, description="Provider organisation's country, ISO alpha-3")
    provider_country_name: str = pa.Field(nullable=True, description="Provider organisation's country, English short name (pycountry)")
    recipient_org_id: str = pa.Field(nullable=True, description="Recipient organisation")
    recipient_org_name: str = pa.Field(nullable=True, description="Recipient organisation's name")
    provider_type_code: str = pa.Field(nullable=True, description="IATI OrganisationType of the provider")
    provider_type_name: str = pa.Field(nullable=True, description="OrganisationType name")
    provider_type_method: str = pa.Field(isin=PROVIDER_TYPE_METHODS, description="Where provider_type_code comes from: the transaction, the same activity's participating-org (ref or name), the reporting-org (for money the reporter pays), the CEB contributor type of the row (code, label, donor history or donor mapping), the conformed organisation (only where the source says nothing), or unknown")
    un_entity: str = pa.Field(nullable=True, description="UN entity receiving or paying")
    amount_original: pl.Float64 = pa.Field(description="Amount in the original currency")
    currency: str = pa.Field(nullable=True, description="Original currency")
    amount_usd: pl.Float64 = pa.Field(nullable=True, description="Amount in USD (null where no rate)")
    transaction_type: str = pa.Field(description="IATI TransactionType code, or CEB revenue type code")
    transaction_type_name: str = pa.Field(nullable=True, description="TransactionType name (IATI), or revenue type name (CEB)")
    sdg_goals: Annotated[pl.List, pl.Int32] = pa.Field(nullable=True, description="SDG goals of the activity, where known")
    iati_identifier: str = pa.Field(nullable=True, description="IATI activity, for IATI flows")
    is_counted: bool = pa.Field(description="False where the double-counting rule excludes the row from totals")
    double_count_reason: str = pa.Field(nullable=True, description="Why the row is not counted")
    source_ref: str = pa.Field(description="Reference of the source row")


class ActivityFunders(Snapshot):
    """One row per private or foundation funder (a funding participating-org of type 60 or 70-73) of
    an IATI activity, with or without a transaction of its own."""

    iati_identifier: str = pa.Field(description="Activity (iati_activities.iati_identifier)")
    org_index: pl.Int32 = pa.Field(ge=0, description="Position of the participating-org within the activity")
    org_id: str = pa.Field(nullable=True, description="Conformed organisation (organizations.org_id)")
    org_ref: str = pa.Field(nullable=True, description="IATI organisation identifier of the funder")
    org_name: str = pa.Field(nullable=True, description="Funder's name as the activity gives it")
    org_type_code: str = pa.Field(isin=list(PRIVATE_ORGANISATION_TYPES), description="IATI OrganisationType (60 foundation, 70-73 private sector)")
    org_type_name: str = pa.Field(nullable=True, description="OrganisationType name")
    reporting_org_ref: str = pa.Field(nullable=True, description="Organisation reporting the activity")
    reporting_org_name: str = pa.Field(nullable=True, description="Name of the reporting organisation")
    reporting_org_type_code: str = pa.Field(nullable=True, description="OrganisationType of the reporting organisation (40: multilateral, as UN entities)")
    reporting_org_type_name: str = pa.Field(nullable=True, description="OrganisationType name of the reporting organisation")
    transactions: pl.Int32 = pa.Field(ge=0, description="Incoming commitments and funds of the activity from this funder")
    committed_usd: pl.Float64 = pa.Field(nullable=True, description="Sum of those incoming commitments (type 11) in USD; null where there is none")
    received_usd: pl.Float64 = pa.Field(nullable=True, description="Sum of those incoming funds (type 1) in USD; null where there is none")
    amount_rule: str = pa.Field(description="How the amounts were obtained; none is ever inferred")

    @pa.dataframe_check(description="a participating-org is listed once")
    def one_row_per_funder(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("iati_identifier", "org_index").is_duplicated())
