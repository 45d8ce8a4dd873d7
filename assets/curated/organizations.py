"""One list of organisations across every source, with stable ids.

Every mention of an organisation (Global Compact participant, IATI reporting / participating /
provider / receiver organisation, UN revenue donor, partnership lead or partner) becomes a source
record. Records are linked when they share an identifier (IATI organisation ref, Global Compact
participant id), when their normalized names are equal, when the names match fuzzily (see
:mod:`assets.curated.matching`), with or without the country a name names, or when an acronym
written alone is the one the sources write beside a name, in each case only where their countries
agree or one is unknown, and never when both carry different identifiers of the same kind. Linked
records form one organisation.

``org_id`` comes from the cluster's strongest identifier: the smallest IATI ref, else the smallest
Global Compact participant id, else the smallest normalized name and country. It does not depend on
row order or on unrelated organisations.
"""

import csv
import importlib.resources
from functools import cache

import numpy as np
import polars as pl
import pycountry
from rapidfuzz import fuzz

from assets.curated.matching import ACRONYM, LEADING_ACRONYM, TRAILING_ACRONYM, match_names, normalize_expr
from assets.reference import config, stable_id
from schemas.iati_codelists import load_codelists
from schemas.vocabularies import ALPHA2_TO_ALPHA3

RECORD_SCHEMA = {"source": pl.Utf8, "source_table": pl.Utf8, "source_key": pl.Utf8, "source_name": pl.Utf8,
                 "iati_ref": pl.Utf8, "gc_participant_id": pl.Utf8, "country_iso3": pl.Utf8, "source_type": pl.Utf8,
                 "iati_type_code": pl.Utf8}
# which source's name and type win for the canonical row (lower first)
_SOURCE_RANK = {"gc_participants": 0, "iati_activities": 1, "iati_participating_orgs": 2, "iati_transactions": 3,
                "un_revenue_by_contributor": 4, "partnership_partners": 5}


def _records(frame: pl.DataFrame, **columns) -> pl.DataFrame:
    exprs = [(columns[c] if c in columns else pl.lit(None, pl.Utf8)).cast(pl.Utf8).alias(c) for c in RECORD_SCHEMA]
    return frame.select(exprs)


def source_records(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every organisation mention of the given curated tables, one row per distinct mention."""
    mapping = config("organizations.yaml")
    parts = []
    if (gc := tables.get("gc_participants")) is not None:
        parts.append(_records(gc, source=pl.lit("gc_participants"), source_table=pl.lit("gc_participants"),
                              source_key=pl.col("participant_id"), source_name=pl.col("participant_name"),
                              gc_participant_id=pl.col("participant_id"), country_iso3=pl.col("country_iso3"),
                              source_type=pl.col("participant_type"),
                              iati_type_code=pl.col("canonical_type").replace_strict(mapping["gc_canonical_types"], default=None)))
    if (acts := tables.get("iati_activities")) is not None:
        parts.append(_records(acts, source=pl.lit("iati_activities"), source_table=pl.lit("iati_activities"),
                              source_key=pl.col("reporting_org_ref"), source_name=pl.col("reporting_org_name"),
                              iati_ref=pl.col("reporting_org_ref"), source_type=pl.col("reporting_org_type_code"),
                              iati_type_code=pl.col("reporting_org_type_code")))
    if (orgs := tables.get("iati_participating_orgs")) is not None:
        parts.append(_records(orgs, source=pl.lit("iati_participating_orgs"), source_table=pl.lit("iati_participating_orgs"),
                              source_key=pl.coalesce("org_ref", "org_name"), source_name=pl.col("org_name"),
                              iati_ref=pl.col("org_ref"), source_type=pl.col("org_type_code"),
                              iati_type_code=pl.col("org_type_code")))
    if (tx := tables.get("iati_transactions")) is not None:
        for side in ("provider", "receiver"):
            parts.append(_records(tx, source=pl.lit("iati_transactions"), source_table=pl.lit(f"iati_transactions.{side}_org"),
                                  source_key=pl.coalesce(f"{side}_org_ref", f"{side}_org_name"),
                                  source_name=pl.col(f"{side}_org_name"), iati_ref=pl.col(f"{side}_org_ref"),
                                  source_type=pl.col(f"{side}_org_type_code"), iati_type_code=pl.col(f"{side}_org_type_code")))
    if (rev := tables.get("un_revenue_by_contributor")) is not None:
        parts.append(_records(rev, source=pl.lit("un_revenue_by_contributor"), source_table=pl.lit("un_revenue_by_contributor"),
                              source_key=pl.col("donor"), source_name=pl.col("donor"),
                              source_type=pl.col("contributor_type_code"),
                              iati_type_code=pl.col("contributor_type_code").replace_strict(mapping["un_contributor_types"], default=None)))
    if (partners := tables.get("partnership_partners")) is not None:
        keywords = mapping["partnership_entity_keywords"]
        entity = pl.col("entity_type").str.to_lowercase()
        code = pl.lit(None, pl.Utf8)
        for word, iati_code in reversed(list(keywords.items())):
            code = pl.when(entity.str.contains(word, literal=True)).then(pl.lit(iati_code)).otherwise(code)
        parts.append(_records(partners, source=pl.lit("partnership_partners"), source_table=pl.lit("partnership_partners"),
                              source_key=pl.col("name_as_written"), source_name=pl.col("name_as_written"),
                              source_type=pl.col("entity_type"), iati_type_code=code))
    if not parts:
        return pl.DataFrame(schema=RECORD_SCHEMA)
    records = pl.concat(parts).filter(pl.col("source_name").is_not_null() | pl.col("iati_ref").is_not_null())
    # IATI organisation identifiers start with their registration agency, whose first two letters
    # are a country code (GB-COH-..., NZ-1, KE-RCO-...) except for international agencies (XM, XI)
    prefix = pl.col("iati_ref").str.strip_chars().str.to_uppercase().str.extract(r"^([A-Z]{2})-", 1)
    records = records.with_columns(pl.coalesce(
        "country_iso3",
        prefix.replace_strict(_ALPHA2, default=None, return_dtype=pl.Utf8)).alias("country_iso3"))
    # one record per distinct mention; the type and country seen most often win
    return (records.with_columns(pl.col("iati_ref").str.strip_chars().str.to_uppercase())
            .group_by("source", "source_table", "source_key", maintain_order=True)
            .agg(pl.col("source_name").drop_nulls().mode().sort().first(), pl.col("iati_ref").drop_nulls().first(),
                 pl.col("gc_participant_id").drop_nulls().first(), pl.col("country_iso3").drop_nulls().first(),
                 pl.col("source_type").drop_nulls().mode().sort().first(), pl.col("iati_type_code").drop_nulls().mode().sort().first())
            .sort("source", "source_table", "source_key"))


def _match_methods(records: pl.DataFrame) -> pl.DataFrame:
    """How each record was tied to its organisation: its own identifier, the same normalized name
    as the organisation's anchor (or an identified member), or a fuzzy match (with the score)."""
    has_id = pl.col("iati_ref").is_not_null() | pl.col("gc_participant_id").is_not_null()
    own_name_id = pl.lit("name:") + pl.concat_str([pl.col("name_key"), pl.col("country_iso3").fill_null("")], separator="|")
    anchors = (records.filter(has_id | (pl.col("_identity") == own_name_id))
               .group_by("cluster").agg(pl.col("name_key").drop_nulls().unique().alias("_anchor_keys")))
    records = records.join(anchors, on="cluster", how="left").with_columns(
        pl.col("_anchor_keys").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))))
    # only a record whose name is none of its anchors' is scored (in Python): the others score 100
    scored = (pl.col("name_key").is_not_null() & (pl.col("_anchor_keys").list.len() > 0)
              & ~pl.col("_anchor_keys").list.contains(pl.col("name_key")).fill_null(False))
    fuzzy = records.select(pl.arg_where(scored).alias("row"), pl.col("name_key").filter(scored),
                           pl.col("_anchor_keys").filter(scored))
    scores = np.full(records.height, 100.0)
    scores[fuzzy["row"].to_numpy()] = [max(fuzz.token_sort_ratio(key, a) for a in anchor)
                                       for key, anchor in fuzzy.select("name_key", "_anchor_keys").iter_rows()]
    records = records.with_columns(pl.Series("match_score", scores, dtype=pl.Float64))
    return records.with_columns(
        pl.when(has_id).then(pl.lit("identifier"))
        .when(pl.col("match_score") >= 100.0).then(pl.lit("exact normalized name"))
        .otherwise(pl.lit("fuzzy")).alias("match_method"),
        pl.when(has_id).then(pl.lit(100.0)).otherwise(pl.col("match_score")).alias("match_score"),
    ).drop("_anchor_keys")


_ALPHA2 = ALPHA2_TO_ALPHA3


def _joined(a, b):
    """Two members' values (None, one value, or a frozenset of several) as one."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    return (a if isinstance(a, frozenset) else frozenset((a,))) | (b if isinstance(b, frozenset) else frozenset((b,)))


def _disjoint(a, b) -> bool:
    """Both known and sharing no value."""
    if a is None or b is None:
        return False
    return (a if isinstance(a, frozenset) else frozenset((a,))).isdisjoint(b if isinstance(b, frozenset) else (b,))


class _Clusters:
    """Union-find over source records that keeps, for each cluster, the countries and identifiers of
    its members, so that a link is refused when it would put two known different countries, or two
    different identifiers of one kind, into one organisation. The check is on the whole cluster, so
    a country-less mention cannot chain a GBR Ltd and a USA Inc together.

    A cluster's countries (and identifiers of each kind) are None, one value, or a frozenset of
    several: a set per record would cost hundreds of MB at a million records."""

    def __init__(self, countries: list, iati: list, gc: list):
        self.parent = list(range(len(countries)))
        shared: dict[str, str] = {}  # one string object per distinct value
        self.countries = [shared.setdefault(c, c) if c else None for c in countries]
        self.iati = [shared.setdefault(i, i) if i else None for i in iati]
        self.gc = [shared.setdefault(g, g) if g else None for g in gc]

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def add_country(self, i: int, country: str) -> None:
        root = self.find(i)
        self.countries[root] = _joined(self.countries[root], country)

    def conflict(self, a: int, b: int, *, same_registration: bool = False) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if _disjoint(self.countries[ra], self.countries[rb]):
            return True
        # two registrations of one organisation (same normalized name, same country) are joined on
        # that direct evidence; otherwise two different identifiers of one kind stay apart
        return not same_registration and (_disjoint(self.iati[ra], self.iati[rb]) or _disjoint(self.gc[ra], self.gc[rb]))

    def union(self, a: int, b: int, *, same_registration: bool = False, identifier: bool = False) -> bool:
        """Join the clusters of ``a`` and ``b`` unless they conflict; a shared ``identifier`` is
        evidence enough whatever countries the members' names suggest."""
        if not identifier and self.conflict(a, b, same_registration=same_registration):
            return False
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        keep, drop = min(ra, rb), max(ra, rb)
        self.parent[drop] = keep
        for values in (self.countries, self.iati, self.gc):
            values[keep] = _joined(values[keep], values[drop])
            values[drop] = None
        return True


@cache
def _country_names() -> dict[str, str]:
    """Country names as names are normalized (lower case, no accents or punctuation) -> alpha-3:
    pycountry's short, common and official names, and country_converter's short and official names
    ("Republic of Korea", "Russia")."""
    written = [(name, c.alpha_3) for c in pycountry.countries
               for name in (c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)) if name]
    with (importlib.resources.files("country_converter") / "country_data.tsv").open(encoding="utf-8") as table:
        written += [(row[name], row["ISO3"]) for row in csv.DictReader(table, delimiter="\t")
                    for name in ("name_short", "name_official") if row[name] and len(row["ISO3"]) == 3]
    keys = pl.DataFrame({"name": [n for n, _ in written]}, schema={"name": pl.Utf8}).select(normalize_expr("name"))
    names = {}
    for key, (_, iso) in zip(keys.to_series().to_list(), written, strict=True):
        if key:
            names.setdefault(key, iso)
    return names


_CONNECTORS = {"of", "the", "for", "in", "de", "du", "del", "des", "la", "government"}


@cache
def _public_body_country_words() -> dict[str, str]:
    return {str(word): iso for word, iso in config("organizations.yaml")["public_body_country_words"].items()}


def _country_in_name(key: str | None, *, public_body: bool = False) -> tuple[str | None, str | None]:
    """(the one country a normalized name names as whole words, the name without it), or (None, key):
    "ministry of foreign affairs of japan" -> ("JPN", "ministry of foreign affairs"). A public body's
    name may also name it by adjective ("norwegian ministry of defence")."""
    if not key:
        return None, key
    words = key.split()
    adjectives = _public_body_country_words() if public_body else {}
    spans = [(i, i + n, iso) for n in range(5, 0, -1) for i in range(len(words) - n + 1)
             if (iso := _country_names().get(" ".join(words[i:i + n])) or adjectives.get(" ".join(words[i:i + n])))]
    found = {iso for *_, iso in spans}
    if len(found) != 1:
        return None, key
    keep = [True] * len(words)
    for start, end, _ in spans:
        keep[start:end] = [False] * (end - start)
    rest = [w for w, k in zip(words, keep, strict=True) if k]
    while rest and rest[-1] in _CONNECTORS:
        rest.pop()
    while rest and rest[0] in _CONNECTORS:
        rest.pop(0)
    return found.pop(), " ".join(rest) or key


def _acronym_expansions(records: pl.DataFrame) -> dict[str, str]:
    """Acronym -> the one normalized name it stands for, from names that write both: "International
    Maritime Organization (IMO)", "ASSOCHAM - The Associated Chambers of ...". The acronym's letters
    must follow the name's (in order, starting with its first letter); an acronym written for two
    different names stands for neither."""
    pairs = records.select(
        pl.coalesce(pl.col("source_name").str.extract(TRAILING_ACRONYM, 1),
                    pl.col("source_name").str.extract(LEADING_ACRONYM, 1)).str.to_lowercase().alias("acronym"),
        "name_key",
    ).filter(pl.col("acronym").is_not_null() & pl.col("name_key").is_not_null()).unique()
    expansions: dict[str, set[str]] = {}
    for acronym, key in pairs.iter_rows():
        letters = key.replace(" ", "")
        if acronym[0] != letters[0] or acronym == letters:
            continue
        position = 0
        for ch in acronym:
            position = letters.find(ch, position) + 1
            if position == 0:
                break
        else:
            expansions.setdefault(acronym, set()).add(key)
    return {acronym: keys.pop() for acronym, keys in expansions.items() if len(keys) == 1}


# Names that say what a public body does, not who it is: they never join by name without a country
# ("Ministry of the Environment" is Finland's in one source and Estonia's in another).
GENERIC_PUBLIC_BODY = (r"\b(ministry|ministere|ministerio|ministerium|department|government|national (office|agency|"
                       r"commission|council)|office of the|secretariat|embassy)\b")


def build_organizations(records: pl.DataFrame, snapshot) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(organizations, organization_source_links) from source records."""
    records = records.with_columns(
        normalize_expr("source_name").alias("name_key"),
    ).with_row_index("rid")
    n = records.height
    iati, gc = records["iati_ref"].to_list(), records["gc_participant_id"].to_list()
    uf = _Clusters(records["country_iso3"].to_list(), iati, gc)

    # identifiers: same IATI ref, same Global Compact id (the identifier is the evidence, whatever
    # country a mention's name suggests)
    for column in ("iati_ref", "gc_participant_id"):
        for ids in records.filter(pl.col(column).is_not_null()).group_by(column).agg("rid")["rid"].to_list():
            for other in ids[1:]:
                uf.union(ids[0], other, identifier=True)

    # names: one node per (normalized name, country); exact duplicates collapse into it
    nodes = (records.filter(pl.col("name_key").is_not_null())
             .group_by("name_key", "country_iso3").agg(pl.col("rid"), pl.col("iati_ref").drop_nulls().unique(),
                                                      pl.col("gc_participant_id").drop_nulls().unique())
             .sort("name_key", "country_iso3", nulls_last=True).with_row_index("id"))

    node_rids = nodes["rid"].to_list()
    generic = nodes.select(pl.col("name_key").str.contains(GENERIC_PUBLIC_BODY)).to_series().to_list()
    # only names holding a country word (found at once, Aho-Corasick) are looked at word by word
    words = sorted({*_country_names(), *_public_body_country_words()})
    maybe = nodes.select(pl.col("name_key").fill_null("").str.contains_any(words)).to_series().to_list()
    named = [_country_in_name(key, public_body=is_generic) if hit else (None, key)
             for key, is_generic, hit in zip(nodes["name_key"].to_list(), generic, maybe, strict=True)]
    # a public body whose name says its country ("Norway - Ministry of Foreign Affairs") has that country
    countries = [country or (in_name if is_generic else None)
                 for (in_name, _), country, is_generic in zip(named, nodes["country_iso3"].to_list(), generic, strict=True)]
    # a name also compares without the country it names when that is its own known country, and then
    # only with names of that same country ("PricewaterhouseCoopers - Mexico" and "PricewaterhouseCoopers"
    # of Mexico, "Ministry of Foreign Affairs of Japan"; not "IUCN Viet Nam" and a country-less "IUCN")
    match_keys = [rest if in_name and in_name == country else key
                  for (in_name, rest), key, country in zip(named, nodes["name_key"].to_list(), countries, strict=True)]
    both = nodes.select("id", "name_key", pl.Series("match_key", match_keys, dtype=pl.Utf8),
                        pl.Series("country", countries, dtype=pl.Utf8))
    keyed = pl.concat([both.select("id", pl.col("name_key").alias("key"), "country", pl.lit(False).alias("strict")),
                       both.filter(pl.col("match_key") != pl.col("name_key"))
                       .select("id", pl.col("match_key").alias("key"), "country", pl.lit(True).alias("strict"))])
    registered = [bool(gc_ids) or bool(iati_ids) for gc_ids, iati_ids in
                  zip(nodes["gc_participant_id"].to_list(), nodes["iati_ref"].to_list(), strict=True)]
    for rids, country in zip(node_rids, countries, strict=True):
        if country:
            uf.add_country(rids[0], country)
    nodes = nodes.with_columns(pl.Series("country_iso3", countries, dtype=pl.Utf8))

    for rids, country, is_generic in zip(node_rids, countries, generic, strict=True):
        # equal normalized names: one organisation where the country is known (two registrations of
        # one organisation included); without a country, only where no identifiers disagree, and a
        # generic public-body name never joins on its name alone
        if country is None and is_generic:
            continue
        for rid in rids[1:]:
            uf.union(rids[0], rid, same_registration=country is not None)
    matches = match_names(keyed)
    ordered = matches.sort("score", "left", "right", descending=[True, False, False])
    for left, right in zip(ordered["left"].to_list(), ordered["right"].to_list(), strict=True):
        if (generic[left] or generic[right]) and (countries[left] is None or countries[right] is None):
            continue
        # two registrations (identified records) of one country whose names match strongly are
        # one organisation on that direct evidence
        uf.union(node_rids[left][0], node_rids[right][0],
                 same_registration=registered[left] and registered[right] and countries[left] is not None
                 and countries[left] == countries[right])

    # an acronym written alone ("IMO", "UNDP") is the one name it is written beside elsewhere; a
    # Global Compact participant named by an acronym only where both countries are known and agree
    # (companies take acronyms as names: "SCOR", "EDF")
    expansions = _acronym_expansions(records)
    expanded = set(expansions.values())
    by_key: dict[str, list[int]] = {}  # the nodes of each name an acronym stands for
    for node, keys in enumerate(zip(nodes["name_key"].to_list(), match_keys, strict=True)):
        for key in set(keys) & expanded:
            by_key.setdefault(key, []).append(node)
    alone = records.filter(pl.col("source_name").str.strip_chars().str.contains(rf"^{ACRONYM}$")).group_by(
        "name_key").agg(pl.col("gc_participant_id").is_not_null().any().alias("gc"))
    gc_acronym = dict(alone.iter_rows())
    for node, key in enumerate(nodes["name_key"].to_list()):
        if key not in gc_acronym or key not in expansions:
            continue
        for other in by_key.get(expansions[key], []):
            if generic[other] and countries[other] is None:
                continue
            same_country = countries[node] is not None and countries[node] == countries[other]
            if gc_acronym[key] and not same_country:
                continue
            uf.union(node_rids[node][0], node_rids[other][0], same_registration=same_country and registered[node]
                     and registered[other])
    records = records.with_columns(pl.Series("cluster", [uf.find(i) for i in range(n)], dtype=pl.Int64),
                                   pl.col("source").replace_strict(_SOURCE_RANK, default=9).alias("_rank"))
    del uf, node_rids, named, match_keys, countries, generic, maybe, registered, by_key
    ids = records.group_by("cluster").agg(
        pl.col("iati_ref").drop_nulls().min().alias("iati_org_ref"),
        pl.col("gc_participant_id").drop_nulls().min().alias("gc_participant_id"),
        pl.concat_str([pl.col("name_key"), pl.col("country_iso3").fill_null("")], separator="|").drop_nulls().min().alias("_name_id"),
    ).with_columns(
        pl.when(pl.col("iati_org_ref").is_not_null()).then(pl.lit("iati:") + pl.col("iati_org_ref"))
        .when(pl.col("gc_participant_id").is_not_null()).then(pl.lit("gc:") + pl.col("gc_participant_id"))
        .otherwise(pl.lit("name:") + pl.col("_name_id")).alias("_identity"),
    ).with_columns(pl.col("_identity").map_elements(lambda s: stable_id("org", s), return_dtype=pl.Utf8).alias("org_id"))
    # one join gives each record its organisation; the organisations are read from the same frame
    records = _match_methods(records.join(
        ids.select("cluster", "org_id", "_identity", "iati_org_ref", pl.col("gc_participant_id").alias("gc_participant_id_c")),
        on="cluster"))
    del ids
    type_names = load_codelists()["OrganisationType"]
    organizations = (
        records.sort("_rank", "source_key")
        .group_by("org_id", maintain_order=False).agg(
            pl.col("source_name").drop_nulls().first().alias("canonical_name"),
            pl.col("name_key").drop_nulls().first().alias("name_normalized"),
            pl.col("iati_type_code").drop_nulls().first().alias("organization_type_code"),
            pl.col("source_type").drop_nulls().unique().sort().alias("source_types"),
            pl.col("country_iso3").drop_nulls().first(),
            pl.col("iati_org_ref").first(),
            pl.col("gc_participant_id_c").first().alias("gc_participant_id"),
            pl.col("source").unique().sort().alias("sources"),
            pl.len().cast(pl.Int32).alias("source_records"),
        )
        .with_columns(pl.col("organization_type_code").replace_strict(type_names, default=None).alias("organization_type_name"),
                      pl.lit(snapshot).alias("snapshot_date"))
        .sort("org_id")
    )
    links = records.select("org_id", "source", "source_table", "source_key", "source_name", "source_type",
                           "match_method", "match_score", pl.lit(snapshot).alias("snapshot_date")).sort(
        "org_id", "source", "source_table", "source_key")
    return organizations, links
