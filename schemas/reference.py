"""Reference tables: what the codes in the other tables stand for."""

import pandera.polars as pa
import polars as pl

from schemas.base import StrictModel

M49_REGIONS = ["Africa", "Americas", "Antarctica", "Asia", "Europe", "Oceania"]


class RefCountries(StrictModel):
    """One row per country or territory of ISO 3166-1 (and Kosovo), with its UN M49 region."""

    country_iso3: str = pa.Field(unique=True, str_length={"min_value": 3, "max_value": 3}, description="ISO 3166-1 alpha-3 (XKX for Kosovo)")
    country_iso2: str = pa.Field(unique=True, str_length={"min_value": 2, "max_value": 2}, description="ISO 3166-1 alpha-2 (XK for Kosovo)")
    country_name: str = pa.Field(description="English short name (pycountry)")
    official_name: str = pa.Field(nullable=True, description="Official name, where ISO gives one (pycountry)")
    m49_code: str = pa.Field(nullable=True, description="UN M49 numeric code; null where the UN lists none (e.g. Taiwan, Kosovo)")
    region: str = pa.Field(nullable=True, isin=M49_REGIONS, description="UN M49 region (country_converter)")
    sub_region: str = pa.Field(nullable=True, description="UN M49 sub-region (country_converter)")


class RefOrganisationTypes(StrictModel):
    """IATI OrganisationType codes, with the private-money rule."""

    code: str = pa.Field(unique=True, description="IATI OrganisationType code")
    name: str = pa.Field(description="English name")
    is_private: bool = pa.Field(description="Counted as private money: foundations (60) and the private sector (70-73)")


class RefTransactionTypes(StrictModel):
    """Transaction types of IATI and revenue types of the UN system's revenue statistics."""

    source: str = pa.Field(isin=["iati", "un_revenue"], description="iati (IATI TransactionType) or un_revenue (CEB revenue type)")
    code: str = pa.Field(description="Code as financing_flows.transaction_type holds it")
    name: str = pa.Field(description="English name")

    @pa.dataframe_check(description="a code is listed once per source")
    def one_row_per_code(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("source", "code").is_duplicated())


class RefSdgTargets(StrictModel):
    """The 17 SDG goals and their targets, with titles (IATI UNSDG codelists)."""

    kind: str = pa.Field(isin=["goal", "target"], description="goal or target")
    goal: pl.Int32 = pa.Field(ge=1, le=17, description="SDG goal")
    target: str = pa.Field(nullable=True, description="Target code (e.g. 14.1); null for a goal row")
    title: str = pa.Field(description="Title")

    @pa.dataframe_check(description="a goal or target is listed once")
    def one_row_per_code(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("kind", "goal", "target").is_duplicated())
