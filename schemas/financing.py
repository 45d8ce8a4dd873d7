"""Curated IATI tables. Every child table carries ``iati_identifier`` back to ``iati_activities``.

``snapshot_date`` is stored as the hive partition folder (``snapshot_date=YYYY-MM-DD/``), not inside
the files: read the tables with ``hive_partitioning=true`` (DuckDB) or ``pl.scan_parquet(...)``.
"""

from typing import Annotated

import pandera.polars as pa
import polars as pl

from schemas.base import SourceSnapshot
from schemas.iati_codelists import codes
from schemas.vocabularies import FX_SOURCES, SUPPORTED_IATI_VERSIONS

SECTOR = pl.Struct({"vocabulary": pl.Utf8, "code": pl.Utf8, "percentage": pl.Float64})


def _org_type():
    return pa.Field(nullable=True, isin=codes("OrganisationType"), description="IATI OrganisationType code")


class _Fx(pa.DataFrameModel):
    value_usd: pl.Float64 = pa.Field(nullable=True, description="value converted to US dollars; null where no rate lies within the window")
    fx_rate: pl.Float64 = pa.Field(nullable=True, gt=0, description="US dollars per one unit of currency, as applied")
    fx_rate_date: pl.Date = pa.Field(nullable=True, description="Date of the rate applied (ECB business day, or IMF period end)")
    fx_source: str = pa.Field(nullable=True, isin=list(FX_SOURCES), description="Where the rate comes from")


class IatiActivities(SourceSnapshot):
    """One row per IATI activity (versions 2.01-2.03)."""

    iati_identifier: str = pa.Field(unique=True, str_length={"min_value": 1}, description="Globally unique IATI activity identifier")
    iati_version: str = pa.Field(isin=list(SUPPORTED_IATI_VERSIONS), description="IATI standard version of the activity (its own, else the file's)")
    reporting_org_ref: str = pa.Field(description="IATI organisation identifier of the reporting organisation")
    reporting_org_type_code: str = _org_type()
    reporting_org_type_name: str = pa.Field(nullable=True, description="OrganisationType name")
    reporting_org_name: str = pa.Field(nullable=True, description="Reporting organisation name (English narrative first)")
    title: str = pa.Field(nullable=True, description="Activity title (English narrative first, else the first)")
    activity_status_code: str = pa.Field(nullable=True, isin=codes("ActivityStatus"), description="IATI ActivityStatus code")
    activity_status_name: str = pa.Field(nullable=True, description="ActivityStatus name")
    planned_start_date: pl.Date = pa.Field(nullable=True, description="activity-date type 1")
    actual_start_date: pl.Date = pa.Field(nullable=True, description="activity-date type 2")
    planned_end_date: pl.Date = pa.Field(nullable=True, description="activity-date type 3")
    actual_end_date: pl.Date = pa.Field(nullable=True, description="activity-date type 4")
    default_currency: str = pa.Field(nullable=True, isin=codes("Currency"), description="ISO 4217 default currency of the activity's values")
    humanitarian: bool = pa.Field(nullable=True, description="Humanitarian flag (attribute humanitarian)")
    hierarchy: pl.Int32 = pa.Field(nullable=True, ge=1, description="Position in the publisher's activity hierarchy (1 = top)")
    recipient_country_codes: Annotated[pl.List, pl.Utf8] = pa.Field(description="Recipient country codes as published (ISO 3166-1 alpha-2)")
    recipient_countries_iso3: Annotated[pl.List, pl.Utf8] = pa.Field(description="Recipient countries as ISO 3166-1 alpha-3 (pycountry)")
    recipient_region_codes: Annotated[pl.List, pl.Utf8] = pa.Field(description="Recipient region codes (vocabulary in recipient_region_vocabularies)")
    recipient_region_vocabularies: Annotated[pl.List, pl.Utf8] = pa.Field(description="RegionVocabulary of each recipient region (1 = OECD DAC)")
    sectors: Annotated[pl.List, SECTOR] = pa.Field(description="Sectors: vocabulary (SectorVocabulary), code, percentage")
    sdg_goals: Annotated[pl.List, pl.Int32] = pa.Field(description="SDG goals 1-17 from tag vocabulary 2, sector vocabulary 7, and the goals of listed targets")
    sdg_targets: Annotated[pl.List, pl.Utf8] = pa.Field(description="SDG targets (e.g. 14.1) from tag vocabulary 3 and sector vocabulary 8")
    last_updated_datetime: str = pa.Field(nullable=True, description="last-updated-datetime as published")
    source_line: pl.Int64 = pa.Field(ge=1, description="Line of <iati-activity> in the source file")


class IatiTransactions(SourceSnapshot, _Fx):
    """One row per transaction; currency and value date fall back to the activity's default currency
    and the transaction date, and flow/finance/aid types to the activity defaults."""

    iati_identifier: str = pa.Field(description="Activity the transaction belongs to")
    transaction_index: pl.Int32 = pa.Field(ge=0, description="Position of the transaction within its activity")
    transaction_ref: str = pa.Field(nullable=True, description="Publisher's transaction reference")
    transaction_type_code: str = pa.Field(isin=codes("TransactionType"), description="IATI TransactionType code")
    transaction_type_name: str = pa.Field(description="TransactionType name")
    transaction_date: pl.Date = pa.Field(description="transaction-date iso-date")
    value: pl.Float64 = pa.Field(description="Value in currency, as published")
    currency: str = pa.Field(nullable=True, isin=codes("Currency"), description="ISO 4217 currency of value (value/@currency, else activity default); null where neither is given (flagged as a warning)")
    currency_from_default: bool = pa.Field(description="True where currency came from the activity's default-currency")
    value_date: pl.Date = pa.Field(description="value/@value-date, else the transaction date; the date the rate is taken at")
    humanitarian: bool = pa.Field(nullable=True, description="Humanitarian flag of the transaction, else of the activity")
    provider_org_ref: str = pa.Field(nullable=True, description="Provider organisation identifier")
    provider_org_type_code: str = _org_type()
    provider_org_type_name: str = pa.Field(nullable=True, description="Provider OrganisationType name")
    provider_org_name: str = pa.Field(nullable=True, description="Provider organisation name")
    provider_org_activity_id: str = pa.Field(nullable=True, description="Provider's own activity identifier")
    receiver_org_ref: str = pa.Field(nullable=True, description="Receiver organisation identifier")
    receiver_org_type_code: str = _org_type()
    receiver_org_type_name: str = pa.Field(nullable=True, description="Receiver OrganisationType name")
    receiver_org_name: str = pa.Field(nullable=True, description="Receiver organisation name")
    receiver_org_activity_id: str = pa.Field(nullable=True, description="Receiver's own activity identifier")
    flow_type_code: str = pa.Field(nullable=True, isin=codes("FlowType"), description="FlowType (transaction, else activity default)")
    finance_type_code: str = pa.Field(nullable=True, isin=codes("FinanceType"), description="FinanceType (transaction, else activity default)")
    aid_type_code: str = pa.Field(nullable=True, description="AidType, vocabulary 1 (transaction, else activity default)")
    description: str = pa.Field(nullable=True, description="Transaction description")


class IatiParticipatingOrgs(SourceSnapshot):
    """One row per participating organisation of an activity."""

    iati_identifier: str = pa.Field(description="Activity the organisation participates in")
    org_index: pl.Int32 = pa.Field(ge=0, description="Position within the activity")
    role_code: str = pa.Field(isin=codes("OrganisationRole"), description="IATI OrganisationRole code (1 funding, 2 accountable, 3 extending, 4 implementing)")
    role_name: str = pa.Field(description="OrganisationRole name")
    org_ref: str = pa.Field(nullable=True, description="IATI organisation identifier")
    org_type_code: str = _org_type()
    org_type_name: str = pa.Field(nullable=True, description="OrganisationType name")
    org_name: str = pa.Field(nullable=True, description="Organisation name (English narrative first)")
    org_activity_id: str = pa.Field(nullable=True, description="The organisation's own identifier for the activity")
    crs_channel_code: str = pa.Field(nullable=True, description="OECD CRS channel code")


class IatiBudgets(SourceSnapshot, _Fx):
    """One row per budget period of an activity."""

    iati_identifier: str = pa.Field(description="Activity the budget belongs to")
    budget_index: pl.Int32 = pa.Field(ge=0, description="Position within the activity")
    budget_type_code: str = pa.Field(isin=codes("BudgetType"), description="BudgetType code (1 original, 2 revised); default 1")
    budget_type_name: str = pa.Field(description="BudgetType name")
    budget_status_code: str = pa.Field(isin=codes("BudgetStatus"), description="BudgetStatus code (1 indicative, 2 committed); default 1")
    budget_status_name: str = pa.Field(description="BudgetStatus name")
    period_start: pl.Date = pa.Field(description="Budget period start")
    period_end: pl.Date = pa.Field(description="Budget period end (not before period_start)")
    value: pl.Float64 = pa.Field(description="Budget value as published; negative values are allowed by the IATI schema (published, flagged as a warning)")
    currency: str = pa.Field(nullable=True, isin=codes("Currency"), description="ISO 4217 currency (value/@currency, else activity default); null where neither is given (flagged as a warning)")
    value_date: pl.Date = pa.Field(description="value/@value-date, else period start")

    @pa.dataframe_check(description="period_end is not before period_start")
    def period_end_after_start(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("period_end") >= pl.col("period_start"))


CURATED_MODELS = {
    "iati_activities": IatiActivities,
    "iati_transactions": IatiTransactions,
    "iati_participating_orgs": IatiParticipatingOrgs,
    "iati_budgets": IatiBudgets,
}


class UnRevenueByContributor(SourceSnapshot):
    """One row per UN system revenue line (CEB statistics) by contributor."""

    year: pl.Int32 = pa.Field(ge=1945, le=2100, description="Calendar year")
    un_entity: str = pa.Field(description="UN entity receiving the revenue")
    donor: str = pa.Field(nullable=True, description="Contributor as written")
    contributor_type_code: str = pa.Field(description="Canonical contributor type (config/un_revenue.yaml)")
    contributor_type_name: str = pa.Field(description="Name of the contributor type")
    contributor_type_method: str = pa.Field(isin=["code", "label", "donor history", "donor mapping", "unclassified"],
                                            description="How the type was obtained")
    contributor_type_source: str = pa.Field(nullable=True, description="contrib_type as written")
    revenue_type_code: str = pa.Field(description="Revenue type code (R01...)")
    revenue_type_name: str = pa.Field(description="Name of the revenue type")
    revenue_type_source: str = pa.Field(nullable=True, description="rev_type as written")
    amount_usd: pl.Float64 = pa.Field(description="Amount in US dollars")
    source_row_ref: str = pa.Field(unique=True, description="<file>:<line> of the source row")
