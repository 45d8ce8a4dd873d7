"""Partner screening: every organisation against the UN sanctions list, its Global Compact status,
and the exclusion sectors; reviewed decisions override the outcome.

Sanctions matching is blocked on an "anagram key" of each name token (its letters sorted), so case,
punctuation, legal suffixes and a transposed letter all land in the same block; keys shared by many
listed names (common words) are not used. Candidate pairs are scored at once with rapidfuzz.
"""

from pathlib import Path

import numpy as np
import polars as pl
from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein
from rapidfuzz.process import cpdist

from assets.curated.matching import normalize_expr
from assets.due_diligence.sanctions import split_alias
from assets.io import read_csv_strings, require_columns
from assets.reference import config
from schemas.quality import empty_rejects, reject_rows
from schemas.vocabularies import PRIVATE_ORGANISATION_TYPES, RISK_LEVELS

RISK_ORDER = {level: rank for rank, level in enumerate(RISK_LEVELS)}
DECISIONS = {"cleared": "clear", "confirmed": "high", "excluded": "high", "review": "review"}
DECISION_COLUMNS = ["org_id", "decision", "reviewer", "date", "reason"]


def _tokens_keys(frame: pl.DataFrame, id_col: str) -> pl.DataFrame:
    return (frame.select(id_col, token=pl.col("key").str.split(" ")).explode("token")
            .filter(pl.col("token").str.len_chars() >= 3)
            .with_columns(pl.col("token").map_batches(_sorted_letters, return_dtype=pl.Utf8).alias("block"))
            .select(id_col, "block").unique())


def _sorted_letters(s: pl.Series) -> pl.Series:
    return pl.Series([None if t is None else "".join(sorted(t)) for t in s.to_list()], dtype=pl.Utf8)


def sanctions_names(entities: pl.DataFrame, aliases: pl.DataFrame) -> pl.DataFrame:
    """Every listed name and alias, normalized: reference_number, record_type, un_list_type, listed_name, alias, quality, key."""
    # a listed name may pack an acronym or a country ("AFGHAN SUPPORT COMMITTEE (ASC)"): its parts are names too
    primary = (entities.select("reference_number", "record_type", "un_list_type", pl.col("name").alias("listed_name"),
                               pl.col("name").map_elements(lambda n: [f"{p}\x1f{k}" for p, k in split_alias(n)],
                                                           return_dtype=pl.List(pl.Utf8)).alias("_parts"))
               .explode("_parts")
               .with_columns(pl.col("_parts").str.split_exact("\x1f", 1).struct.rename_fields(["_part", "alias_kind"])
                             .alias("_p")).unnest("_p")
               .select("reference_number", "record_type", "un_list_type", "listed_name",
                       pl.when(pl.col("_part") != pl.col("listed_name")).then(pl.col("_part")).alias("alias"),
                       pl.lit(None, pl.Utf8).alias("quality"), "alias_kind"))
    whole = entities.select("reference_number", "record_type", "un_list_type", pl.col("name").alias("listed_name"),
                            pl.lit(None, pl.Utf8).alias("alias"), pl.lit(None, pl.Utf8).alias("quality"),
                            pl.lit("name").alias("alias_kind"))
    if "alias_kind" not in aliases.columns:  # lists published before aliases were split
        aliases = aliases.with_columns(pl.lit("name").alias("alias_kind"))
    listed = entities.select("reference_number", "record_type", "un_list_type", pl.col("name").alias("listed_name"))
    alias_rows = aliases.join(listed, on="reference_number").select(
        "reference_number", "record_type", "un_list_type", "listed_name", pl.col("alias_name").alias("alias"), "quality",
        "alias_kind")
    # the names as listed stay candidates too, so splitting never loses what the whole string matched
    packed = (aliases.filter(pl.col("alias_packed") != pl.col("alias_name")).unique(["reference_number", "alias_packed"])
              .join(listed, on="reference_number")
              .select("reference_number", "record_type", "un_list_type", "listed_name", pl.col("alias_packed").alias("alias"),
                      "quality", pl.lit("name").alias("alias_kind"))
              if "alias_packed" in aliases.columns else alias_rows.clear())
    names = (pl.concat([whole, primary, alias_rows, packed]).with_columns(pl.coalesce("alias", "listed_name").alias("_name"))
             .unique(["reference_number", "_name"], keep="first", maintain_order=True))
    # a person's one-word name or alias ("Dass", "Omari") says nothing about an organisation's name
    return (names.with_columns(normalize_expr("_name").alias("key"),
                               normalize_expr("_name", strip_legal_forms=False).alias("full_key")).drop("_name")
            .filter(pl.col("key").is_not_null()
                    & ((pl.col("record_type") != "individual") | pl.col("key").str.contains(" ")))
            .with_row_index("sid"))


def _token_weights(*keys: pl.Series) -> dict[str, float]:
    """Inverse document frequency of each name token over every organisation and listed name: a word
    many names share ("international", "bank", "group") weighs little, a rare one much."""
    names = pl.concat([s.drop_nulls().alias("key") for s in keys]).to_frame().with_row_index("name")
    total = names.height
    frequency = (names.select("name", pl.col("key").str.split(" ").alias("token")).explode("token")
                 .unique().group_by("token").len())
    return dict(frequency.select("token", ((total + 1) / (pl.col("len") + 1)).log() + 1.0).iter_rows())


def _token_match(a: str, b: str) -> bool:
    """The same word, allowing a transposed letter, and for words of four letters or more, a typo."""
    if a == b:
        return True
    distance = DamerauLevenshtein.distance(a, b)
    if min(len(a), len(b)) < 4:
        return distance == 1 and (len(a) == len(b) == 3 or sorted(a) == sorted(b))
    return distance == 1 or max(fuzz.ratio(a, b), DamerauLevenshtein.normalized_similarity(a, b) * 100) >= 80


def _with_distinctive_coverage(scored: pl.DataFrame, orgs: pl.DataFrame, listed: pl.DataFrame) -> pl.DataFrame:
    """The share of the listed name's weight (its distinctive tokens) found in the organisation's name,
    with the tokens found and missing: "Drake International" does not carry the distinctive part of
    "The International Brigade"."""
    weights = _token_weights(orgs["key"], listed["key"])
    coverage, matched, missing = [], [], []
    for org_key, listed_key in zip(scored["key"].to_list(), scored["listed_key"].to_list(), strict=True):
        org_tokens = org_key.split()
        found, lost = [], []
        for token in dict.fromkeys(listed_key.split()):
            (found if any(_token_match(token, o) for o in org_tokens) else lost).append(token)
        total = sum(weights.get(tok, 1.0) for tok in found + lost)
        coverage.append(sum(weights.get(tok, 1.0) for tok in found) / total if total else 0.0)
        matched.append(found)
        missing.append(lost)
    return scored.with_columns(pl.Series("coverage", coverage, dtype=pl.Float64),
                               pl.Series("matched_tokens", matched, dtype=pl.List(pl.Utf8)),
                               pl.Series("missing_tokens", missing, dtype=pl.List(pl.Utf8)))


def match_sanctions(organizations: pl.DataFrame, listed: pl.DataFrame) -> pl.DataFrame:
    """Best sanctions match per organisation above the review score: org_id, match columns, score."""
    rules = config("screening.yaml")["sanctions"]
    orgs = organizations.select("org_id", key=pl.col("name_normalized"),
                                full_key=normalize_expr("canonical_name", strip_legal_forms=False)).filter(pl.col("key").is_not_null())
    org_keys = _tokens_keys(orgs, "org_id")
    listed_keys = _tokens_keys(listed, "sid")
    frequent = listed_keys.group_by("block").len().filter(pl.col("len") > rules["max_key_frequency"])["block"]
    listed_keys = listed_keys.filter(~pl.col("block").is_in(frequent.implode()))
    pairs = org_keys.join(listed_keys, on="block").select("org_id", "sid").unique()
    pairs = (pairs.join(orgs, on="org_id").join(listed.select("sid", pl.col("key").alias("listed_key"),
                                                              pl.col("full_key").alias("listed_full_key"),
                                                              pl.col("alias_kind").alias("_kind")), on="sid")
             # an acronym is evidence only when the organisation's whole name is that acronym
             .filter((pl.col("_kind") != "acronym") | (pl.col("key").str.replace_all(" ", "") == pl.col("listed_key"))))
    if pairs.height == 0:
        return pl.DataFrame(schema={"org_id": pl.Utf8, "sid": pl.UInt32, "score": pl.Float64, "coverage": pl.Float64,
                                    "matched_tokens": pl.List(pl.Utf8), "missing_tokens": pl.List(pl.Utf8)})
    # the best of word-order-free and transposition-aware similarity, with and without legal forms
    # (a typo in "Corporation" stops it being recognised as a legal form on one side only)
    scores = [
        cpdist(pairs[a].to_list(), pairs[b].to_list(), scorer=scorer, workers=-1) * factor
        for a, b in (("key", "listed_key"), ("full_key", "listed_full_key"))
        for scorer, factor in ((fuzz.token_sort_ratio, 1.0), (DamerauLevenshtein.normalized_similarity, 100.0))
    ]
    best = np.maximum.reduce(scores)
    # the same letters in another order (a transposed acronym such as AFD/ADF) is always worth a review
    anagram = pairs.select(pl.col("key").str.replace_all(" ", "").map_batches(_sorted_letters, return_dtype=pl.Utf8)
                           == pl.col("listed_key").str.replace_all(" ", "").map_batches(_sorted_letters, return_dtype=pl.Utf8)
                           ).to_series().to_numpy()
    # (for short acronyms only one transposed letter: IBM/MIB or CFAO/FOCA are noise, not evidence)
    short = pairs.select(pl.col("listed_key").str.replace_all(" ", "").str.len_chars() < 5).to_series().to_numpy()
    transposed = cpdist(pairs["key"].str.replace_all(" ", "").to_list(), pairs["listed_key"].str.replace_all(" ", "").to_list(),
                        scorer=DamerauLevenshtein.distance, workers=-1) <= 1
    best = np.where(anagram & (~short | transposed), np.maximum(best, rules["review_score"]), best)
    scored = pairs.with_columns(pl.Series("score", best, dtype=pl.Float64)).filter(pl.col("score") >= rules["review_score"])
    scored = _with_distinctive_coverage(scored, orgs, listed).filter(
        pl.col("coverage") >= rules["min_distinctive_coverage"])
    return (scored.sort("org_id", "score", "sid", descending=[False, True, False])
            .unique(subset=["org_id"], keep="first", maintain_order=True)
            .select("org_id", "sid", "score", "coverage", "matched_tokens", "missing_tokens"))


def read_decisions(path: Path | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Reviewed decisions (org_id, decision, reviewer, date, reason) and rejects for bad rows."""
    schema = {c: pl.Utf8 for c in DECISION_COLUMNS} | {"line": pl.Int64}
    if path is None or not Path(path).is_file():
        return pl.DataFrame(schema=schema), empty_rejects()
    frame = read_csv_strings(Path(path), Path(path).name)
    require_columns(frame, DECISION_COLUMNS, Path(path).name, "reviewed decisions")
    if frame.height == 0:
        return pl.DataFrame(schema=schema), empty_rejects()
    frame = frame.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64)).with_columns(
        pl.col(c).str.strip_chars() for c in DECISION_COLUMNS).with_columns(pl.col("decision").str.to_lowercase())
    bad = frame.filter(~pl.col("decision").is_in(list(DECISIONS)) | pl.col("org_id").is_null())
    rejects = reject_rows(bad, table="partner_screening", key=pl.col("org_id"), column="decision", check="isin",
                          value=pl.col("decision"), reason=f"decision must be one of {', '.join(DECISIONS)}",
                          file=pl.lit(Path(path).name), line=pl.col("line"))
    # the latest decision per organisation wins
    good = (frame.filter(~pl.col("line").is_in(bad["line"].implode())).sort("date", "line")
            .unique(subset=["org_id"], keep="last", maintain_order=True))
    return good.select(DECISION_COLUMNS + ["line"]), rejects


def _gc_status(organizations: pl.DataFrame, participants: pl.DataFrame, links: pl.DataFrame | None,
               rules: dict) -> pl.DataFrame:
    """The Global Compact status of each organisation over every registration it holds (an old
    delisted registration and a later one are one organisation): the most severe status wins."""
    registrations = organizations.select("org_id", pl.col("gc_participant_id").alias("participant_id")).drop_nulls()
    if links is not None:
        registrations = pl.concat([registrations, links.filter(pl.col("source_table") == "gc_participants")
                                   .select("org_id", pl.col("source_key").alias("participant_id"))]).unique()
    delisting = rules["gc_delisting"]
    severity = (pl.when(pl.col("status") == "Delisted").then(
                    pl.col("delisting_reason").replace_strict(delisting, default="clear").replace_strict(
                        {"high": 3, "review": 2, "clear": 1}, default=1, return_dtype=pl.Int32))
                .when(pl.col("status") == "Non-communicating").then(pl.lit(2, pl.Int32)).otherwise(pl.lit(0, pl.Int32)))
    return (registrations.join(participants.select("participant_id", "status", "delisting_reason", "sector"),
                               on="participant_id", how="inner")
            .with_columns(severity.alias("_severity"))
            .sort("org_id", "_severity", "participant_id", descending=[False, True, False])
            .group_by("org_id", maintain_order=True)
            .agg(pl.col("status").first().alias("gc_status"), pl.col("delisting_reason").first().alias("gc_delisting_reason"),
                 pl.col("sector").drop_nulls().first().alias("gc_sector")))


def screen(organizations: pl.DataFrame, entities: pl.DataFrame, aliases: pl.DataFrame, participants: pl.DataFrame,
           decisions: pl.DataFrame, snapshot, links: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(partner_screening, rejects): one row per organisation with flags, reasons and a risk level."""
    rules = config("screening.yaml")
    listed = sanctions_names(entities, aliases)
    best = match_sanctions(organizations, listed).join(listed, on="sid", how="left")
    countries = [c for c in ("nationality_countries", "address_countries") if c in entities.columns]
    listed_countries = (entities.select("reference_number", pl.concat_list(countries).list.unique().alias("_listed_countries"))
                        if countries else entities.select("reference_number", pl.lit([], pl.List(pl.Utf8)).alias("_listed_countries")))
    best = best.join(listed_countries, on="reference_number", how="left")
    # ... and only where the countries do not disagree
    org_country = organizations.select("org_id", pl.col("country_iso3").alias("_org_country"))
    best = best.join(org_country, on="org_id", how="left").filter(
        (pl.col("alias_kind") != "acronym") | pl.col("_org_country").is_null()
        | (pl.col("_listed_countries").list.len() == 0) | pl.col("_listed_countries").list.contains(pl.col("_org_country")))
    high = rules["sanctions"]["high_score"]
    # high: an entity listing matched strongly on a full name; a low-quality alias or an acronym is weak
    # evidence (review), and so is any individual's name without corroboration
    strong = (pl.col("sanctions_alias_quality").fill_null("").str.to_lowercase() != "low") & (pl.col("alias_kind") != "acronym")
    sanction_risk = (pl.when((pl.col("sanctions_record_type") == "entity") & (pl.col("sanctions_score") >= high) & strong)
                     .then(pl.lit("high")).otherwise(pl.lit("review")))
    base = organizations.select("org_id", "canonical_name", "country_iso3", "organization_type_code", "gc_participant_id",
                                "name_normalized")
    out = base.join(best.select("org_id", pl.col("listed_name").alias("sanctions_match_name"),
                                pl.col("alias").alias("sanctions_match_alias"), pl.col("quality").alias("sanctions_alias_quality"),
                                pl.col("reference_number").alias("sanctions_reference_number"),
                                pl.col("un_list_type").alias("sanctions_list_type"),
                                pl.col("record_type").alias("sanctions_record_type"), pl.col("score").alias("sanctions_score"),
                                "alias_kind", "coverage", "matched_tokens", "missing_tokens", "_listed_countries"),
                    on="org_id", how="left")
    out = out.with_columns(
        pl.col("alias_kind").alias("sanctions_alias_kind"), pl.col("matched_tokens").alias("sanctions_words_found"),
        pl.col("missing_tokens").alias("sanctions_words_missing"), pl.col("coverage").alias("sanctions_coverage"),
        pl.when(pl.col("sanctions_score").is_null()).then(None)
        .when(pl.col("country_iso3").is_null() | (pl.col("_listed_countries").list.len() == 0)).then(pl.lit("unknown"))
        .when(pl.col("_listed_countries").list.contains(pl.col("country_iso3"))).then(pl.lit("agrees"))
        .otherwise(pl.lit("differs")).alias("sanctions_country_agreement"))
    out = out.join(_gc_status(organizations, participants, links, rules), on="org_id", how="left")
    delisting = rules["gc_delisting"]
    sectors = {s.casefold(): v for s, v in rules["exclusions"]["sectors"].items()}
    sector = pl.col("gc_sector").str.to_lowercase()
    activity_pattern = "|".join(rules["exclusions"]["activity_keywords"])
    keyword_pattern = "|".join(rules["exclusions"]["name_keywords"])
    named = pl.col("name_normalized").str.contains(rf"\b({activity_pattern})\b")
    # direct evidence for a business; a trade union or NGO named after an industry is not that industry
    business = pl.col("organization_type_code").is_null() | pl.col("organization_type_code").is_in(
        list(PRIVATE_ORGANISATION_TYPES[1:]))
    activity = named & business

    flags = {
        "sanctions_match": (pl.col("sanctions_score").is_not_null(), sanction_risk,
                            pl.format("name matches UN sanctions list {} '{}' ({}, {} list, score {}; matched {} {}, alias quality {})",
                                      pl.col("sanctions_record_type"), pl.coalesce("sanctions_match_alias", "sanctions_match_name"),
                                      pl.col("sanctions_reference_number"), pl.col("sanctions_list_type"),
                                      pl.col("sanctions_score").round(1),
                                      pl.when(pl.col("sanctions_match_alias").is_null()).then(pl.lit("the listed name"))
                                      .otherwise(pl.lit("an alias")), pl.col("alias_kind").fill_null("name"),
                                      pl.col("sanctions_alias_quality").fill_null("-"))
                            + pl.format("; words found: {}; words missing: {}; distinctive coverage {}; country {}",
                                        pl.col("matched_tokens").list.join(" "), pl.col("missing_tokens").list.join(" "),
                                        pl.col("coverage").round(2), pl.col("sanctions_country_agreement"))),
        "gc_delisted": (pl.col("gc_status").eq("Delisted") & pl.col("gc_delisting_reason").is_in(list(delisting)),
                        pl.col("gc_delisting_reason").replace_strict(delisting, default="review"),
                        pl.format("delisted from the UN Global Compact: {}", pl.col("gc_delisting_reason"))),
        "gc_non_communicating": (pl.col("gc_status").eq("Non-communicating"), pl.lit(rules["gc_non_communicating"]),
                                 pl.lit("Global Compact participant not communicating progress")),
        "excluded_sector": (sector.is_in(list(sectors)),
                            sector.replace_strict({s: v["risk"] for s, v in sectors.items()}, default="review"),
                            pl.format("Global Compact sector {}: {}", pl.col("gc_sector"),
                                      sector.replace_strict({s: v["reason"] for s, v in sectors.items()}, default=""))),
        "exclusion_keyword": (named | pl.col("name_normalized").str.contains(rf"\b({keyword_pattern})\b"),
                              pl.when(activity).then(pl.lit("high")).otherwise(pl.lit("review")),
                              pl.when(activity).then(pl.lit("name names an activity excluded by UN partnership guidelines "
                                                            "(landmines, cluster munitions, tobacco)"))
                              .otherwise(pl.lit("name suggests an activity worth checking (weapons, or an excluded "
                                                "industry in the name of an organisation that is not a business)"))),
    }
    out = out.with_columns(*[
        pl.struct(flag=pl.lit(name), risk=risk, reason=reason).alias(f"_f_{name}")
        for name, (cond, risk, reason) in flags.items()
    ], *[cond.fill_null(False).alias(f"_c_{name}") for name, (cond, _, _) in flags.items()])
    out = out.with_columns(
        pl.concat_list([pl.when(pl.col(f"_c_{n}")).then(pl.col(f"_f_{n}")) for n in flags]).list.drop_nulls().alias("_flags"))
    out = out.with_columns(
        pl.col("_flags").list.eval(pl.element().struct.field("flag")).alias("flags"),
        pl.col("_flags").list.eval(pl.element().struct.field("reason")).alias("reasons"),
        pl.col("_flags").list.eval(pl.element().struct.field("risk").replace_strict(RISK_ORDER, default=0)).list.max()
        .fill_null(0).alias("_risk"),
    ).with_columns(pl.col("_risk").replace_strict({v: k for k, v in RISK_ORDER.items()}, return_dtype=pl.Utf8).alias("screened_risk_level"))

    decided = decisions.select("org_id", pl.col("decision"), pl.col("reviewer").alias("decision_reviewer"),
                               pl.col("date").alias("decision_date"), pl.col("reason").alias("decision_reason"))
    out = out.join(decided, on="org_id", how="left").with_columns(
        pl.when(pl.col("decision").is_not_null()).then(pl.col("decision").replace_strict(DECISIONS, default=None))
        .otherwise(pl.col("screened_risk_level")).alias("risk_level"),
        pl.when(pl.col("decision").is_not_null()).then(pl.col("reasons").list.concat(pl.concat_list(pl.format(
            "reviewed decision '{}' by {} on {}: {}", "decision", "decision_reviewer", "decision_date", "decision_reason"))))
        .otherwise(pl.col("reasons")).alias("reasons"),
        pl.lit(snapshot).alias("snapshot_date"),
    )
    unknown = decisions.join(organizations.select("org_id"), on="org_id", how="anti")
    rejects = reject_rows(unknown, table="partner_screening", key=pl.col("org_id"), column="org_id", check="org_exists",
                          value=pl.col("decision"), severity="warning", file=pl.lit("reviewed decisions"), line=pl.col("line"),
                          reason="decision for an org_id that no longer exists; kept in the file, not applied")
    columns = ["org_id", "canonical_name", "country_iso3", "organization_type_code", "risk_level", "screened_risk_level",
               "flags", "reasons", "sanctions_match_name", "sanctions_match_alias", "sanctions_alias_quality",
               "sanctions_reference_number", "sanctions_list_type", "sanctions_record_type", "sanctions_score",
               "sanctions_alias_kind", "sanctions_words_found", "sanctions_words_missing", "sanctions_coverage",
               "sanctions_country_agreement", "gc_status", "gc_delisting_reason", "gc_sector", "decision", "decision_reviewer", "decision_date",
               "decision_reason", "snapshot_date"]
    return out.select(columns).sort("org_id"), rejects
