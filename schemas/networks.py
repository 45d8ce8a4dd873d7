"""Curated Global Compact Local Network tables."""

import pandera.polars as pa
import polars as pl

from schemas.base import Snapshot, SourceSnapshot


class LocalNetworks(SourceSnapshot):
    """One row per Global Compact Local Network."""

    country_iso3: str = pa.Field(unique=True, str_length={"min_value": 3, "max_value": 3}, description="Country, ISO 3166-1 alpha-3")
    country_name: str = pa.Field(description="Country as the sheet writes it")
    network_name: str = pa.Field(description="UN Global Compact Network <country>")
    region: str = pa.Field(nullable=True, description="Region")
    development_stage: str = pa.Field(nullable=True, description="Development stage (e.g. Advanced, Active, Emerging)")
    status: str = pa.Field(nullable=True, description="Expected network status")
    contribution_gco_usd: pl.Float64 = pa.Field(nullable=True, ge=0, description="Contributions to the Global Compact Office, USD")
    contribution_ln_usd: pl.Float64 = pa.Field(nullable=True, ge=0, description="Contributions to the Local Network, USD")
    contribution_total_usd: pl.Float64 = pa.Field(nullable=True, ge=0, description="Combined contributions, USD")
    as_of: pl.Date = pa.Field(description="Date the sheet describes (from its column headers, else the snapshot)")
    source_row: pl.Int64 = pa.Field(ge=1, description="Line in the source file")

    @pa.dataframe_check(description="combined contributions equal GCO plus LN contributions (to the cent) where all are given")
    def total_is_sum(cls, data) -> pl.LazyFrame:
        c = pl.col
        return data.lazyframe.select(
            ((c("contribution_gco_usd") + c("contribution_ln_usd") - c("contribution_total_usd")).abs() < 0.005).fill_null(True))


class NetworkCoverage(Snapshot):
    """One row per country: its Local Network and its Global Compact participants."""

    country_iso3: str = pa.Field(unique=True, description="Country, ISO 3166-1 alpha-3")
    has_local_network: bool = pa.Field(description="A Local Network exists in the country")
    network_name: str = pa.Field(nullable=True, description="Name of the Local Network")
    network_stage: str = pa.Field(nullable=True, description="Development stage of the Local Network")
    network_status: str = pa.Field(nullable=True, description="Status of the Local Network")
    participants_total: pl.Int64 = pa.Field(ge=0, description="Participants in the country")
    participants_active: pl.Int64 = pa.Field(ge=0, description="... Active")
    participants_non_communicating: pl.Int64 = pa.Field(ge=0, description="... Non-communicating")
    participants_delisted: pl.Int64 = pa.Field(ge=0, description="... Delisted")
    participants_company: pl.Int64 = pa.Field(ge=0, description="... of canonical type company")
    participants_sme: pl.Int64 = pa.Field(ge=0, description="... SME")
    participants_ngo: pl.Int64 = pa.Field(ge=0, description="... NGO")
    participants_academic: pl.Int64 = pa.Field(ge=0, description="... academic")
    participants_city: pl.Int64 = pa.Field(ge=0, description="... city")
    participants_business_association: pl.Int64 = pa.Field(ge=0, description="... business association")
    participants_foundation: pl.Int64 = pa.Field(ge=0, description="... foundation")
    participants_public_sector: pl.Int64 = pa.Field(ge=0, description="... public sector")
    participants_other: pl.Int64 = pa.Field(ge=0, description="... other")
    delisted_last_12_months: pl.Int64 = pa.Field(ge=0, description="Participants delisted in the 12 months up to the snapshot date")
    joined_last_12_months: pl.Int64 = pa.Field(ge=0, description="Participants that joined in the 12 months up to the snapshot date")

    @pa.dataframe_check(description="status counts add up to the total")
    def statuses_add_up(cls, data) -> pl.LazyFrame:
        c = pl.col
        return data.lazyframe.select(c("participants_active") + c("participants_non_communicating")
                                     + c("participants_delisted") == c("participants_total"))
