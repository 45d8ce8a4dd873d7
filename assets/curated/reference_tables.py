"""Reference tables built from maintained packages and the carried codelists, never hand-typed:
countries from pycountry with UN M49 regions from country_converter's data, organisation and
transaction types and SDG goals and targets from the IATI codelists, UN revenue types from the
CEB mapping."""

import importlib.resources

import polars as pl
import pycountry

from assets.reference import config
from schemas.iati_codelists import load_codelists
from schemas.vocabularies import PRIVATE_ORGANISATION_TYPES

# country_converter writes the M49 region of the Americas as "America"
_REGION_NAMES = {"America": "Americas"}


def ref_countries() -> pl.DataFrame:
    iso = pl.DataFrame(
        [(c.alpha_3, c.alpha_2, c.name, getattr(c, "official_name", None)) for c in pycountry.countries]
        + [("XKX", "XK", "Kosovo", "Republic of Kosovo")],
        schema={"country_iso3": pl.Utf8, "country_iso2": pl.Utf8, "country_name": pl.Utf8, "official_name": pl.Utf8},
        orient="row")
    data = importlib.resources.files("country_converter") / "country_data.tsv"
    with importlib.resources.as_file(data) as path:
        m49 = pl.read_csv(path, separator="\t", infer_schema=False).select(
            pl.col("ISO3").alias("country_iso3"),
            pl.col("UNcode").str.zfill(3).alias("m49_code"),
            pl.col("continent").replace(_REGION_NAMES).alias("region"),
            pl.col("UNregion").alias("sub_region"),
        ).unique("country_iso3", keep="first")
    return iso.join(m49, on="country_iso3", how="left").sort("country_iso3")


def ref_organisation_types() -> pl.DataFrame:
    codes = load_codelists()["OrganisationType"]
    return pl.DataFrame({"code": list(codes), "name": list(codes.values())}).with_columns(
        pl.col("code").is_in(PRIVATE_ORGANISATION_TYPES).alias("is_private")).sort("code")


def ref_transaction_types() -> pl.DataFrame:
    iati = load_codelists()["TransactionType"]
    revenue = config("un_revenue.yaml")["revenue_types"]
    return pl.DataFrame({
        "source": ["iati"] * len(iati) + ["un_revenue"] * len(revenue),
        "code": [*iati, *revenue], "name": [*iati.values(), *revenue.values()]}).sort("source", "code")


def ref_sdg_targets() -> pl.DataFrame:
    codelists = load_codelists()
    goals = pl.DataFrame({"code": list(codelists["UNSDG-Goals"]), "title": list(codelists["UNSDG-Goals"].values())})
    targets = pl.DataFrame({"code": list(codelists["UNSDG-Targets"]), "title": list(codelists["UNSDG-Targets"].values())})
    return pl.concat([
        goals.select(pl.lit("goal").alias("kind"), pl.col("code").cast(pl.Int32).alias("goal"),
                     pl.lit(None, pl.Utf8).alias("target"), "title"),
        targets.select(pl.lit("target").alias("kind"), pl.col("code").str.extract(r"^(\d+)\.", 1).cast(pl.Int32).alias("goal"),
                       pl.col("code").alias("target"), "title"),
    ]).sort("goal", "kind", pl.col("target").str.extract(r"\.(\d+)$", 1).cast(pl.Int32, strict=False), "target",
            nulls_last=True)


# The packages whose data the tables hold: a new version of either may change them.
DATA_PACKAGES = ("pycountry", "country_converter")


def data_versions() -> dict[str, str]:
    """The installed version of each package the tables are built from."""
    from importlib.metadata import version

    return {package: version(package) for package in DATA_PACKAGES}


def reference_tables() -> dict[str, pl.DataFrame]:
    return {"ref_countries": ref_countries(), "ref_organisation_types": ref_organisation_types(),
            "ref_transaction_types": ref_transaction_types(), "ref_sdg_targets": ref_sdg_targets()}
