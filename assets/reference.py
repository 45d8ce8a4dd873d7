"""Reference data shared by the domains: countries (pycountry plus the project's aliases), the
project's YAML mappings, and the normalization of organisation names for stable identifiers."""

import hashlib
from functools import cache

import polars as pl
import pycountry
import yaml

from schemas.paths import CONFIG_DIR as CONFIG


@cache
def config(name: str) -> dict:
    return yaml.safe_load((CONFIG / name).read_text(encoding="utf-8"))


@cache
def _country_aliases() -> dict[str, str | None]:
    return {k.casefold(): v for k, v in config("countries.yaml")["aliases"].items()}


@cache
def country_iso3(value: str | None) -> str | None:
    """ISO 3166-1 alpha-3 from an alpha-2, alpha-3 or English name; None when unknown."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    key = text.casefold()
    aliases = _country_aliases()
    if key in aliases:
        return aliases[key]
    country = None
    if len(text) == 2:
        country = pycountry.countries.get(alpha_2=text.upper())
    elif len(text) == 3:
        country = pycountry.countries.get(alpha_3=text.upper())
    if country is None:
        try:
            country = pycountry.countries.lookup(text)
        except LookupError:
            return None
    return country.alpha_3


@cache
def country_names() -> dict[str, str]:
    """ISO 3166-1 alpha-3 -> English short name (pycountry), with Kosovo (XKX), which ISO does not list."""
    names = {c.alpha_3: c.name for c in pycountry.countries}
    names["XKX"] = "Kosovo"
    return names


def is_known_non_country(value: str | None) -> bool:
    """Entries such as "Global" that the aliases map to no country on purpose."""
    return value is not None and _country_aliases().get(value.strip().casefold(), "") is None


def iso3_expr(column: str) -> pl.Expr:
    """Vectorized lookup: distinct values are resolved once, then mapped."""
    return pl.col(column).map_batches(
        lambda s: s.replace_strict({v: country_iso3(v) for v in s.unique().drop_nulls().to_list()},
                                   default=None, return_dtype=pl.Utf8),
        return_dtype=pl.Utf8)


def normalize_name_expr(column: str) -> pl.Expr:
    """Case-folded, accent-free, quote-free, single-spaced text (legal forms kept): for identifiers."""
    text = (pl.col(column).str.normalize("NFKD").str.replace_all(r"\p{Mn}", "").str.replace_all("['\"`\u2018\u2019\u201c\u201d]", "")
            .str.replace_all(r"\s+", " ").str.strip_chars().str.to_lowercase())
    return pl.when(text == "").then(None).otherwise(text)


def stable_id(prefix: str, *parts: str | None) -> str:
    digest = hashlib.blake2b("|".join(p or "" for p in parts).encode("utf-8"), digest_size=8).hexdigest()
    return f"{prefix}-{digest}"
