"""Marts for transparency reporting."""

import pandera.polars as pa
import polars as pl

from schemas.base import Snapshot
from schemas.vocabularies import RISK_LEVELS


class MartPrivateContributionsByEntityYear(Snapshot):
    """Counted contributions to UN entities from the private sector and foundations, per year."""

    un_entity: str = pa.Field(description="UN entity")
    year: pl.Int32 = pa.Field(description="Year (0 where unknown)")
    contributor_group: str = pa.Field(isin=["private sector", "foundation"], description="private sector (70-73) or foundation (60)")
    amount_usd: pl.Float64 = pa.Field(description="Sum of counted financing_flows.amount_usd")
    flows: pl.Int64 = pa.Field(ge=1, description="Number of flows")
    contributors: pl.Int64 = pa.Field(ge=0, description="Distinct contributing organisations")


class MartPartnershipsBySdg(Snapshot):
    """SDG partnership initiatives per goal."""

    goal: pl.Int32 = pa.Field(ge=1, le=17, unique=True, description="SDG goal")
    goal_title: str = pa.Field(nullable=True, description="Title of the goal (ref_sdg_targets)")
    initiatives: pl.Int64 = pa.Field(ge=0, description="Initiatives naming the goal")
    initiatives_with_private_lead: pl.Int64 = pa.Field(ge=0, description="... led by a private-sector or foundation organisation")
    initiatives_with_high_risk_lead: pl.Int64 = pa.Field(ge=0, description="... whose lead is screened high risk")
    partners: pl.Int64 = pa.Field(ge=0, description="Partner rows (lead excluded)")


class MartNetworkCoverageByCountry(Snapshot):
    """Global Compact presence and screening outcome per country."""

    country_iso3: str = pa.Field(unique=True, description="Country")
    country_name: str = pa.Field(nullable=True, description="Country name (ref_countries)")
    region: str = pa.Field(nullable=True, description="UN M49 region (ref_countries)")
    sub_region: str = pa.Field(nullable=True, description="UN M49 sub-region (ref_countries)")
    has_local_network: bool = pa.Field(description="A Local Network exists")
    network_stage: str = pa.Field(nullable=True, description="Stage of the Local Network")
    participants_total: pl.Int64 = pa.Field(ge=0, description="Participants")
    participants_active: pl.Int64 = pa.Field(ge=0, description="Active participants")
    participants_non_communicating: pl.Int64 = pa.Field(ge=0, description="Non-communicating participants")
    participants_delisted: pl.Int64 = pa.Field(ge=0, description="Delisted participants")
    delisted_last_12_months: pl.Int64 = pa.Field(ge=0, description="Delisted in the 12 months to the snapshot")
    joined_last_12_months: pl.Int64 = pa.Field(ge=0, description="Joined in the 12 months to the snapshot")
    high_risk_organizations: pl.Int64 = pa.Field(ge=0, description="Organisations of the country screened high risk")
    review_organizations: pl.Int64 = pa.Field(ge=0, description="Organisations of the country screened for review")


class MartScreeningSummary(Snapshot):
    """Organisations by risk level and type, with flag counts."""

    risk_level: str = pa.Field(isin=list(RISK_LEVELS), description="Risk level")
    organization_type_code: str = pa.Field(description="IATI OrganisationType code, or (unknown)")
    organization_type_name: str = pa.Field(nullable=True, description="OrganisationType name (ref_organisation_types)")
    organizations: pl.Int64 = pa.Field(ge=1, description="Organisations")
    flag_sanctions_match: pl.Int64 = pa.Field(ge=0, description="... with a sanctions match")
    flag_gc_delisted: pl.Int64 = pa.Field(ge=0, description="... delisted from the Global Compact")
    flag_gc_non_communicating: pl.Int64 = pa.Field(ge=0, description="... non-communicating participants")
    flag_excluded_sector: pl.Int64 = pa.Field(ge=0, description="... in an excluded sector")
    flag_exclusion_keyword: pl.Int64 = pa.Field(ge=0, description="... with an exclusion keyword in the name")
