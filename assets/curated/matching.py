"""Organisation name normalization and blocked fuzzy matching.

Normalization (vectorized, polars): accents and case folded, punctuation removed, legal-form
suffixes removed using ``cleanco``'s maintained term list (all of them at the end of the name, so
"Co., Ltd." goes too), spaces collapsed.

Matching never compares all pairs. Each name falls in three blocks, the first five and the last five
characters of its normalized form without spaces, so one typo or transposed letter leaves at least
one block shared, and the start of its words sorted, so word order does not keep a pair apart. Within a block every pair is scored, unless the block is larger than
``max_block_size``, where names are sorted and each is compared with its ``neighbourhood_window``
next names. Scores come from ``rapidfuzz.process.cpdist`` on all candidate pairs at once, so the cost
grows with the number of candidate pairs, close to linearly with the number of names.
"""

import re
from functools import cache

import numpy as np
import polars as pl
from cleanco.clean import get_unique_terms, normalize_terms
from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein
from rapidfuzz.process import cpdist

from assets.reference import config

# an acronym written beside a name: in brackets at its end, or before a dash at its start (group 1)
ACRONYM = r"[\p{Lu}\p{N}&]{2,12}"
TRAILING_ACRONYM = rf"\(\s*({ACRONYM})\s*\)\s*$"
LEADING_ACRONYM = r"^\s*(\p{Lu}[\p{Lu}\p{N}&]{3,11})\s+[-\u2013]\s+"

SPELLINGS = ((r"isation(s?)\b", "ization$1"), (r"\bprogrammes?\b", "program"), (r"\bcentres?\b", "center"),
             (r"\blabour\b", "labor"), (r"\bdefence\b", "defense"))


_SCORE_SLICE = 500_000


@cache
def settings() -> dict:
    return config("organizations.yaml")["matching"]


@cache
def _suffix_pattern() -> str:
    """Legal-form terms of ``cleanco`` (Ltd, S.A., GmbH, plc, ...), normalized as names are, as one
    regular expression anchored at the end of the name."""
    extra = settings().get("extra_legal_forms", [])
    terms = sorted({" ".join(t.split()) for t in normalize_terms([*get_unique_terms(), *extra]) if t.strip()},
                   key=lambda t: (-len(t), t))
    alternatives = "|".join(r"\s+".join(re.escape(part) for part in t.split()) for t in terms)
    return rf"(?:\s+(?:{alternatives}|co|company|corp|corporation|inc))+$"


@cache
def _prefix_pattern() -> str:
    """Legal forms written before the name ("PT", "OJSC", "JSC"), from the configuration."""
    terms = sorted(settings().get("leading_legal_forms", []), key=lambda t: (-len(t), t))
    return rf"^(?:{'|'.join(re.escape(t) for t in terms)})\s+" if terms else r"^\b$"


def normalize_expr(column: str, *, strip_legal_forms: bool = True) -> pl.Expr:
    """Vectorized name normalization: accents and case folded, '&' as 'and', punctuation removed,
    legal-form suffixes (cleanco's term list, repeated: 'Co., Ltd.') and a leading 'the' dropped."""
    raw = pl.col(column).str.normalize("NFKC")
    if strip_legal_forms:
        # an acronym beside the name says nothing more: "Roatan Marine Park (RMP)", "ASSOCHAM - The
        # Associated Chambers ..." (all capitals, in brackets at the end or before a dash at the start;
        # "International Maritime Organization (IMO), UNDP" names two organisations and keeps it)
        raw = raw.str.replace(TRAILING_ACRONYM, "").str.replace(LEADING_ACRONYM, "")
    # spaced initials are one word: "S. A." is "S.A.", "S. A. B." is "S.A.B."
    for _ in range(2):
        raw = raw.str.replace_all(r"\b(\p{L})\.\s+(\p{L})\.", "$1.$2.")
    text = (raw.str.normalize("NFKD").str.replace_all(r"\p{Mn}", "").str.to_lowercase()
            .str.replace_all("&", " and ").str.replace_all(r"\b(\p{L})/(\p{L})\b", "$1$2").str.replace_all("/", " ")
            .str.replace_all(r"['\u2019.,-]", "")
            .str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars())
    if not strip_legal_forms:
        return pl.when(text == "").then(None).otherwise(text)
    # British and American spellings of one name ("Organisation", "Programme", "Centre", "Labour")
    for british, american in SPELLINGS:
        text = text.str.replace_all(british, american)
    stripped = ((pl.lit(" ") + text).str.replace(_suffix_pattern(), "").str.replace(r"^\s*(the\s+)?", "")
                .str.replace(_prefix_pattern(), "").str.strip_chars())
    # a name that is nothing but a legal form keeps its text
    return pl.when(stripped == "").then(pl.when(text == "").then(None).otherwise(text)).otherwise(stripped)


def normalize_org_name(name: str | None) -> str | None:
    """'Kaiyo Shipping Co., Ltd.' -> 'kaiyo shipping'; 'Nestlé S.A.' -> 'nestle'."""
    if name is None:
        return None
    return pl.DataFrame({"n": [name]}, schema={"n": pl.Utf8}).select(normalize_expr("n")).item()


def tokens_align(a: str, b: str, minimum: float = 0.75) -> bool:
    """Every word of the shorter name has a close counterpart in the other (Damerau-Levenshtein
    similarity >= ``minimum``): 'Northwnid Beverages' ~ 'Northwind Beverages', but not
    'Sunrise Solar' ~ 'Sunset Solar', whose overall score is just as high."""
    short, long = sorted((_content_words(a), _content_words(b)), key=len)
    if not short:
        return a == b
    return all(max(DamerauLevenshtein.normalized_similarity(t, u) for u in long) >= minimum for t in short)


# words that carry no identity: "Ministry of Foreign Affairs" is "Ministry for Foreign Affairs"
STOPWORDS = frozenset({"of", "the", "for", "and", "de", "del", "des", "du", "la", "le", "el", "y", "et", "und", "von", "on"})


def _content_words(key: str) -> list[str]:
    return [w for w in key.split() if w not in STOPWORDS]


def _comparable_expr(column: str) -> pl.Expr:
    """The key without its stopwords, for scoring."""
    pattern = r"\b(?:" + "|".join(sorted(STOPWORDS)) + r")\b"
    return pl.col(column).str.replace_all(pattern, " ").str.replace_all(r"\s+", " ").str.strip_chars()


def countries_compatible(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def same_organization(name_a: str, country_a: str | None, name_b: str, country_b: str | None) -> tuple[bool, float, str]:
    """The pairwise rule the matcher applies: (match?, score, method)."""
    a, b = normalize_org_name(name_a), normalize_org_name(name_b)
    if a is None or b is None or not countries_compatible(country_a, country_b):
        return False, 0.0, "none"
    if a == b:
        return True, 100.0, "exact normalized name"
    comparable = (" ".join(_content_words(a)), " ".join(_content_words(b)))
    score = 100.0 if a.replace(" ", "") == b.replace(" ", "") else fuzz.token_sort_ratio(*comparable)
    return score >= settings()["fuzzy_threshold"] and tokens_align(a, b), float(score), "fuzzy"


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted in place (``np.unique`` hashes, at many times the memory)."""
    values.sort()
    keep = np.empty(values.size, dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def candidate_pairs(names: pl.DataFrame) -> pl.DataFrame:
    """Pairs (left, right) of row ids worth scoring. ``names``: ``id`` (int), ``key`` (normalized name).

    Three blockings, each built on its own and reduced to id pairs before the next (so only one
    blocking's intermediate frames are held at once): the name's first letters, its last letters,
    and its content words sorted (the same words in another order, "Netherlands Government" and
    "Government of the Netherlands"). Blocks up to ``max_block_size`` give all their pairs; larger
    blocks give each name's ``neighbourhood_window`` neighbours in the block's order."""
    compact = pl.col("key").str.replace_all(" ", "")
    sorted_words = _comparable_expr("key").str.split(" ").list.sort().list.join("")
    blockings = [
        (compact, pl.lit("p") + compact.str.slice(0, 5)),
        (compact.str.reverse(), pl.lit("s") + compact.str.slice(-5, 5)),
        (sorted_words, pl.lit("w") + sorted_words.str.slice(0, 8)),
    ]
    cap, window = settings()["max_block_size"], settings()["neighbourhood_window"]
    ids = names.select(pl.col("id").cast(pl.Int64), "key")
    if ids.height and not (ids["id"].min() >= 0 and ids["id"].max() < 1 << 32):
        raise ValueError("candidate_pairs needs ids in 0 .. 2**32 - 1")
    # each pair is packed into one 64-bit number (left * 2**32 + right) and made unique by sorting in
    # place: a two-column unique in polars held ten times the pairs' size
    packed = np.empty(0, dtype=np.uint64)
    for sort, block in blockings:
        # blocks are joined on a 64-bit hash of their text, not the text, to keep the joins small
        blocks = ids.select("id", sort=sort, block=block.hash()).with_columns(pl.len().over("block").alias("size"))
        small = blocks.filter(pl.col("size") <= cap).select("block", "id")
        found = [small.join(small, on="block", suffix="_r").filter(pl.col("id") < pl.col("id_r")).select("id", "id_r")]
        large = (blocks.filter(pl.col("size") > cap).sort("block", "sort", "id")
                 .select("block", "id", pl.int_range(pl.len()).over("block").alias("rank")))
        del blocks, small
        found.extend(large.join(large.with_columns(pl.col("rank") - k), on=["block", "rank"], suffix="_r").select("id", "id_r")
                     for k in range(1, window + 1))
        del large
        pairs = pl.concat(found).select(
            (pl.min_horizontal("id", "id_r").cast(pl.UInt64) * (1 << 32) + pl.max_horizontal("id", "id_r").cast(pl.UInt64))
            .alias("pair"))
        packed = _sorted_unique(np.concatenate([packed, pairs["pair"].to_numpy()]))
    left, right = packed >> np.uint64(32), packed & np.uint64(0xFFFFFFFF)
    return pl.DataFrame({"left": left.astype(np.int64), "right": right.astype(np.int64)}).filter(
        pl.col("left") != pl.col("right"))


def score_pairs(pairs: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """The candidate pairs whose ``score`` (token_sort_ratio of the normalized names) reaches the
    fuzzy threshold, with both keys. Scored a slice of pairs at a time: only one slice's strings
    (joined keys, their comparable forms, the scorer's Python lists) are held at once, never every
    pair's, so memory follows the slice and the matches, not the candidate count."""
    threshold = settings()["fuzzy_threshold"]
    # a ratio of at least t needs the shorter string to be at least t / (2 - t) of the longer one:
    # pairs further apart in length cannot reach the threshold and are not scored
    t = threshold / 100
    lengths = pl.col("key_l").str.len_chars(), pl.col("key_r").str.len_chars()
    left = names.select(pl.col("id").alias("left"), pl.col("key").alias("key_l"))
    right = names.select(pl.col("id").alias("right"), pl.col("key").alias("key_r"))
    found = [pl.DataFrame(schema={"left": pl.Int64, "right": pl.Int64, "key_l": pl.Utf8, "key_r": pl.Utf8,
                                  "score": pl.Float64})]
    for start in range(0, pairs.height, _SCORE_SLICE):
        keyed = (pairs.slice(start, _SCORE_SLICE).select(pl.col("left").cast(pl.Int64), pl.col("right").cast(pl.Int64))
                 .join(left, on="left").join(right, on="right")
                 .filter(pl.min_horizontal(*lengths) >= (t / (2 - t)) * pl.max_horizontal(*lengths)))
        if keyed.height == 0:
            continue
        part = keyed.select(_comparable_expr("key_l").alias("l"), _comparable_expr("key_r").alias("r"))
        scores = cpdist(part["l"].to_list(), part["r"].to_list(), scorer=fuzz.token_sort_ratio, workers=-1)
        # the same letters spaced differently ("WWF-International" and "WWF International" normalize to
        # "wwfinternational" and "wwf international") are the same name
        same_letters = keyed.select(pl.col("key_l").str.replace_all(" ", "") == pl.col("key_r").str.replace_all(" ", "")
                                    ).to_series().to_numpy()
        keyed = keyed.with_columns(pl.Series("score", np.where(same_letters, 100.0, scores), dtype=pl.Float64))
        found.append(keyed.filter(pl.col("score") >= threshold))
    return pl.concat(found)


def match_names(names: pl.DataFrame) -> pl.DataFrame:
    """Scored matching pairs among ``names``: left, right, score, method.

    ``names``: ``id``, ``key`` (normalized name), ``country``, and optionally ``strict`` (a key that
    matches only where both countries are known and equal). One id may come with several keys (a
    name with and without the country it names); blocking and scoring work on distinct keys, so a key
    shared by many ids (the same ministry name in many countries) fills one place in a neighbourhood."""
    if "strict" not in names.columns:
        names = names.with_columns(pl.lit(False).alias("strict"))
    rows = names.select("id", "key", "country", "strict").filter(pl.col("key").is_not_null())
    keys = rows.select("key").unique().sort("key").with_row_index("kid").with_columns(pl.col("kid").cast(pl.Int64))
    rows = rows.join(keys, on="key")
    kp = score_pairs(candidate_pairs(keys.select(pl.col("kid").alias("id"), "key")),
                     keys.select(pl.col("kid").alias("id"), "key"))
    fuzzy = kp.select(
        pl.col("left").alias("kid"), pl.col("right").alias("kid_r"), "score", "key_l", "key_r")
    side = rows.select("kid", "id", "country", "strict")
    fuzzy = fuzzy.join(side, on="kid").join(side.rename(lambda c: f"{c}_r"), on="kid_r")
    same = (rows.join(rows, on="kid", suffix="_r")
            .select("kid", pl.col("kid").alias("kid_r"), pl.lit(100.0).alias("score"), pl.col("key").alias("key_l"),
                    pl.col("key").alias("key_r"),
                    "id", "country", "strict", "id_r", "country_r", "strict_r"))
    pairs = pl.concat([same, fuzzy.select(same.columns)]).filter(pl.col("id") != pl.col("id_r"))
    either_unknown = pl.col("country").is_null() | pl.col("country_r").is_null()
    equal = pl.col("country") == pl.col("country_r")
    pairs = pairs.filter(pl.when(pl.col("strict") | pl.col("strict_r")).then(equal.fill_null(False))
                         .otherwise(either_unknown | equal))
    distinct = pairs.select("key_l", "key_r").unique()
    aligned = distinct.with_columns(pl.Series("aligned", [a == b or tokens_align(a, b) for a, b in distinct.iter_rows()],
                                              dtype=pl.Boolean))
    return (pairs.join(aligned, on=["key_l", "key_r"]).filter(pl.col("aligned"))
            .select(pl.min_horizontal("id", "id_r").alias("left"), pl.max_horizontal("id", "id_r").alias("right"), "score",
                    pl.when(pl.col("key_l") == pl.col("key_r")).then(pl.lit("exact normalized name"))
                    .otherwise(pl.lit("fuzzy")).alias("method"))
            .sort("left", "right", pl.col("score"), descending=[False, False, True]).unique(["left", "right"], keep="first")
            .sort("left", "right"))
