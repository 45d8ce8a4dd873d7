"""UN Security Council Consolidated Sanctions List (``CONSOLIDATED_LIST`` XML) and its changes.

A list file's snapshot date is the date of its ``dateGenerated`` attribute, not the day it was
fetched. Each file is streamed with ``lxml.etree.iterparse`` (hardened as for IATI: no network, no
DTD, no entities) one ``INDIVIDUAL`` or ``ENTITY`` at a time.
"""

import gzip
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from lxml import etree

from assets.io import SourceFileError, XmlInput, xml_first_element
from assets.reference import country_iso3
from schemas.base import empty_frame
from schemas.due_diligence import SanctionsChanges

ENTITY_COLUMNS = ("reference_number", "data_id", "version_number", "record_type", "name", "name_original_script",
                  "un_list_type", "listed_on", "nationality_countries", "address_countries", "last_updated",
                  "comments", "titles", "designations", "dates_of_birth", "places_of_birth", "addresses")
ALIAS_COLUMNS = ("reference_number", "alias_index", "part_index", "alias_name", "alias_kind", "alias_packed", "quality")
# fields compared between snapshots to call a listing "amended"
COMPARED_FIELDS = ("name", "un_list_type", "listed_on", "nationality_countries", "address_countries", "aliases",
                   "last_updated")


@dataclass
class SanctionsList:
    file: str
    generated: datetime
    entities: pl.DataFrame
    aliases: pl.DataFrame
    rejects: list[dict]

    @property
    def snapshot_date(self) -> date:
        return self.generated.date()


def _text(el) -> str | None:
    if el is None or el.text is None:
        return None
    value = " ".join(el.text.split())
    return value or None


def _values(el, tag: str) -> list[str]:
    return [v for v in (_text(x) for x in el.iterfind(f"{tag}/VALUE")) if v]


def _joined(el, tags: tuple[str, ...]) -> str | None:
    return ", ".join(v for v in (_text(el.find(t)) for t in tags) if v) or None


def _dates_of_birth(el) -> list[str]:
    """Each INDIVIDUAL_DATE_OF_BIRTH as listed: an exact date, a year, or a range, with its type."""
    out = []
    for dob in el.iterfind("INDIVIDUAL_DATE_OF_BIRTH"):
        kind = _text(dob.find("TYPE_OF_DATE"))
        value = (_text(dob.find("DATE")) or _text(dob.find("YEAR"))
                 or "-".join(v for v in (_text(dob.find("FROM_YEAR")), _text(dob.find("TO_YEAR"))) if v) or None)
        if value:
            out.append(f"{value} ({kind.lower()})" if kind and kind.upper() != "EXACT" else value)
    return out


def _generated(value: str | None, label: str) -> datetime:
    """The list's timestamp; one without a zone is read as UTC, so lists written with and without
    one still sort."""
    if not value:
        raise SourceFileError(label, "CONSOLIDATED_LIST has no dateGenerated attribute")
    try:
        stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SourceFileError(label, f"dateGenerated {value!r} is not an ISO timestamp") from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


# The published list is a few MB; a (decompressed) file larger than this is not a sanctions list.
MAX_LIST_BYTES = 512 << 20


def read_sanctions_list(path: Path, label: str, *, max_bytes: int = MAX_LIST_BYTES) -> SanctionsList:
    entities = {c: [] for c in ENTITY_COLUMNS}
    aliases = {c: [] for c in ALIAS_COLUMNS}
    rejects: list[dict] = []
    generated = None
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"

    def opener():
        return gzip.open(path, "rb") if gz else open(path, "rb")  # noqa: SIM115 (used in a with block)

    try:
        with opener() as fh:  # the root first: a file of another kind is refused at its first element
            first = xml_first_element(XmlInput(fh, label, max_bytes))
        if first is not None:
            docinfo = first.getroottree().docinfo
            if docinfo.doctype or docinfo.internalDTD is not None:
                raise SourceFileError(label, "refused: the file declares a DOCTYPE/DTD")
            if first.tag != "CONSOLIDATED_LIST":
                raise SourceFileError(label, f"wrong root element <{first.tag}>, expected <CONSOLIDATED_LIST>",
                                      first.sourceline)
        with opener() as fh:
            source = XmlInput(fh, label, max_bytes, records=("INDIVIDUAL", "ENTITY"))
            context = etree.iterparse(source, events=("start", "end"), tag=("CONSOLIDATED_LIST", "INDIVIDUAL", "ENTITY"),
                                      resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                                      remove_comments=True, remove_pis=True)
            for event, el in context:
                if event == "start":
                    if generated is None and el.getparent() is None:  # the root, checked above
                        source.root = el
                        generated = _generated(el.get("dateGenerated"), label)
                    continue
                if el.tag == "CONSOLIDATED_LIST":
                    continue
                _read_record(el, entities, aliases, rejects, label)
                el.clear(keep_tail=False)
                parent = el.getparent()
                if parent is not None:
                    while el.getprevious() is not None:
                        del parent[0]
    except etree.XMLSyntaxError as exc:
        raise SourceFileError(label, f"not well-formed XML: {exc.msg}", exc.lineno) from None
    except (EOFError, OSError, zlib.error) as exc:
        raise SourceFileError(label, f"cannot be read: {exc}") from None
    if generated is None:
        raise SourceFileError(label, "no XML document found")
    if not entities["reference_number"]:
        raise SourceFileError(label, "the list holds no INDIVIDUAL or ENTITY: not a usable sanctions list")
    entity_frame = pl.DataFrame(entities, schema={
        "reference_number": pl.Utf8, "data_id": pl.Utf8, "version_number": pl.Utf8, "record_type": pl.Utf8,
        "name": pl.Utf8, "name_original_script": pl.Utf8, "un_list_type": pl.Utf8, "listed_on": pl.Utf8,
        "nationality_countries": pl.List(pl.Utf8), "address_countries": pl.List(pl.Utf8),
        "last_updated": pl.Utf8, "comments": pl.Utf8, "titles": pl.List(pl.Utf8), "designations": pl.List(pl.Utf8),
        "dates_of_birth": pl.List(pl.Utf8), "places_of_birth": pl.List(pl.Utf8), "addresses": pl.List(pl.Utf8)})
    entity_frame = entity_frame.with_columns(
        pl.col("listed_on").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
        pl.col("last_updated").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
        pl.col("version_number").cast(pl.Int32, strict=False),
    )
    alias_frame = pl.DataFrame(aliases, schema={"reference_number": pl.Utf8, "alias_index": pl.Int32,
                                                "part_index": pl.Int32, "alias_name": pl.Utf8, "alias_kind": pl.Utf8,
                                                "alias_packed": pl.Utf8, "quality": pl.Utf8})
    return SanctionsList(file=label, generated=generated, entities=entity_frame, aliases=alias_frame, rejects=rejects)


# words that mark a parenthesized note about a name, not another name
_DESCRIPTORS = re.compile(r"previously listed|birth name|\bthird\b|combat name|false identity|martyrs|"
                          r"sub-unit name|formerly|\bborn\b|passport", re.IGNORECASE)
_ACRONYM = re.compile(r"^[A-Z0-9][A-Z0-9./\-]{1,12}$")
_ORIGINAL_SCRIPT = re.compile(r"\s*\(?original script:?\)?\s*", re.IGNORECASE)


def _is_latin(text: str) -> bool:
    return all(ord(c) < 0x250 or not c.isalpha() for c in text)


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses."""
    parts, depth, current = [], 0, []
    for c in text:
        depth += (c == "(") - (c == ")") if depth or c != ")" else 0
        if c == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return parts


def _trailing_group(text: str) -> tuple[str, str] | None:
    """(text before, content of) a parenthesized group that ends the text, or None."""
    if not text.endswith(")"):
        return None
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        depth += (text[i] == ")") - (text[i] == "(")
        if depth == 0:
            return text[:i].strip(), text[i + 1:-1].strip()
    return None  # unbalanced: the list cuts some strings short


def _unclosed_group(text: str) -> tuple[str, str] | None:
    """(text before, text after) the outermost parenthesis never closed: the list cuts some packed
    strings short, as in "Name (ACR) (other; names; ..." without the final parenthesis."""
    opened: list[int] = []
    for i, c in enumerate(text):
        if c == "(":
            opened.append(i)
        elif c == ")" and opened:
            opened.pop()
    if not opened:
        return None
    return text[:opened[0]].strip(), text[opened[0] + 1:].strip()


def _expand(piece: str) -> list[tuple[str, str]]:
    piece = piece.strip().strip(",").strip()
    piece = re.sub(r"\s*-\s*sub-unit name$", "", piece, flags=re.IGNORECASE).strip()
    if piece.startswith(")"):
        piece = piece[1:].strip()
    if not piece:
        return []
    if piece.startswith("(") and ")" in piece:  # a leading honorific: "(Sheikh) Musa Hilal"
        close = piece.index(")")
        return _expand(piece[close + 1:]) + _expand(piece[1:close] + " " + piece[close + 1:])
    if re.search(r"\(original script\)$", piece, re.IGNORECASE):
        return [(_ORIGINAL_SCRIPT.sub("", piece).strip(), "original_script")]
    group = _trailing_group(piece) or _unclosed_group(piece)
    if group is None:
        return [(piece, "name" if _is_latin(piece) else "original_script")]
    main, inner = group
    out = _expand(main) if main else []
    if inner.lower().startswith("original script:"):
        return out + [(inner.split(":", 1)[1].strip(), "original_script")]
    if len(_split_top(inner, ";")) > 1 or re.search(r"\(original script\)", inner, re.IGNORECASE):
        return out + [p for part in _split_top(inner, ";") for p in _expand(part)]
    if _DESCRIPTORS.search(inner) or country_iso3(inner) or not main:
        return out or [(piece, "name")]
    if _ACRONYM.match(inner):
        return out + [(inner, "acronym")]
    return out + _expand(inner)  # another spelling or script of the same name


def split_alias(text: str) -> list[tuple[str, str]]:
    """The names packed in one listed alias string, each with its kind: ``name``, ``acronym`` or
    ``original_script``. "Hay’at Tahrir al-Sham (HTS) (هيئة تحرير الشام (original script); Hayat Tahrir
    al-Sham; ...)" gives the name, the acronym, the Arabic form and each transliteration."""
    seen, out = set(), []
    for piece in _split_top(text, ";"):
        for name, kind in _expand(piece):
            name = re.sub(r"\s+", " ", name).strip(" ,;")
            if name and name.casefold() not in seen:
                seen.add(name.casefold())
                out.append((name, kind))
    return out or [(text.strip(), "name")]


def _countries(values: list[str]) -> list[str]:
    out = []
    for v in values:
        iso3 = country_iso3(v)
        if iso3 and iso3 not in out:
            out.append(iso3)
    return out


def _read_record(el, entities: dict, aliases: dict, rejects: list[dict], label: str) -> None:
    record_type = "individual" if el.tag == "INDIVIDUAL" else "entity"
    reference = _text(el.find("REFERENCE_NUMBER"))
    parts = [_text(el.find(t)) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
    name = " ".join(p for p in parts if p) or None
    if reference is None or name is None:
        rejects.append({"table": "sanctioned_entities", "file": label, "line": el.sourceline,
                        "record_key": reference or f"line {el.sourceline}", "column": "reference_number" if reference is None else "name",
                        "check": "not_nullable", "value": None,
                        "reason": "listing without reference number" if reference is None else "listing without a name",
                        "severity": "error"})
        return
    nationality = _countries(_values(el, "NATIONALITY"))
    address_tag = "INDIVIDUAL_ADDRESS" if record_type == "individual" else "ENTITY_ADDRESS"
    address = _countries([c for c in (_text(a.find("COUNTRY")) for a in el.iterfind(address_tag)) if c])
    updated = _values(el, "LAST_DAY_UPDATED")
    entities["reference_number"].append(reference)
    entities["data_id"].append(_text(el.find("DATAID")))
    entities["version_number"].append(_text(el.find("VERSIONNUM")))
    entities["record_type"].append(record_type)
    entities["name"].append(name)
    entities["name_original_script"].append(_text(el.find("NAME_ORIGINAL_SCRIPT")))
    entities["un_list_type"].append(_text(el.find("UN_LIST_TYPE")))
    entities["listed_on"].append(_text(el.find("LISTED_ON")))
    entities["nationality_countries"].append(nationality)
    entities["address_countries"].append(address)
    entities["last_updated"].append(max(updated) if updated else None)
    entities["comments"].append(_text(el.find("COMMENTS1")))
    entities["titles"].append(_values(el, "TITLE"))
    entities["designations"].append(_values(el, "DESIGNATION"))
    entities["dates_of_birth"].append(_dates_of_birth(el))
    entities["places_of_birth"].append([p for p in (_joined(b, ("CITY", "STATE_PROVINCE", "COUNTRY"))
                                                    for b in el.iterfind("INDIVIDUAL_PLACE_OF_BIRTH")) if p])
    entities["addresses"].append([a for a in (_joined(x, ("STREET", "CITY", "STATE_PROVINCE", "ZIP_CODE", "COUNTRY", "NOTE"))
                                              for x in el.iterfind(address_tag)) if a])
    alias_tag = "INDIVIDUAL_ALIAS" if record_type == "individual" else "ENTITY_ALIAS"
    for i, alias in enumerate(el.iterfind(alias_tag)):
        alias_name = _text(alias.find("ALIAS_NAME"))
        if alias_name:
            quality = _text(alias.find("QUALITY"))
            for part_index, (part, kind) in enumerate(split_alias(alias_name)):
                aliases["reference_number"].append(reference)
                aliases["alias_index"].append(i)
                aliases["part_index"].append(part_index)
                aliases["alias_name"].append(part)
                aliases["alias_kind"].append(kind)
                aliases["alias_packed"].append(alias_name)
                aliases["quality"].append(quality)


def merge_lists(lists: list[SanctionsList]) -> SanctionsList:
    """Lists of one ``dateGenerated`` date read from several files (a download split into its
    individuals and its entities) as one list: identical records collapse; one reference number
    listed differently in two files is an error naming both."""
    if len(lists) == 1:
        return lists[0]
    ordered = sorted(lists, key=lambda item: (item.generated, item.file))
    label = " + ".join(item.file for item in ordered)
    entities = pl.concat([item.entities.with_columns(pl.lit(item.file).alias("_file")) for item in ordered])
    distinct = entities.unique([c for c in entities.columns if c != "_file"], keep="first", maintain_order=True)
    clash = distinct.filter(pl.col("reference_number").is_duplicated())
    if clash.height:
        reference = clash["reference_number"][0]
        files = " and ".join(sorted(set(clash.filter(pl.col("reference_number") == reference)["_file"])))
        raise SourceFileError(label, f"lists of one date disagree: {reference} is listed differently in {files}")
    kept = distinct.select("reference_number", "_file")
    aliases = pl.concat([item.aliases.with_columns(pl.lit(item.file).alias("_file")) for item in ordered])
    aliases = aliases.join(kept, on=["reference_number", "_file"], how="semi").drop("_file")
    return SanctionsList(file=label, generated=ordered[-1].generated, entities=distinct.drop("_file"), aliases=aliases,
                         rejects=[r for item in ordered for r in item.rejects])


def sanctions_changes(entities: pl.DataFrame, aliases: pl.DataFrame) -> pl.DataFrame:
    """Between consecutive snapshots (by date): listings added, removed, or amended with the fields
    that changed. ``entities``/``aliases`` hold every snapshot, with ``snapshot_date``."""
    alias_sets = (aliases.group_by("snapshot_date", "reference_number")
                  .agg(pl.col("alias_name").sort().str.join("|").alias("aliases")))
    state = (entities.join(alias_sets, on=["snapshot_date", "reference_number"], how="left")
             .with_columns(pl.col("aliases").fill_null(""),
                           pl.col("nationality_countries").list.sort().list.join(","),
                           pl.col("address_countries").list.sort().list.join(","),
                           pl.col("listed_on").cast(pl.Utf8), pl.col("last_updated").cast(pl.Utf8)))
    dates = sorted(state["snapshot_date"].unique().to_list())
    frames = []
    for previous, current in zip(dates, dates[1:], strict=False):
        before = state.filter(pl.col("snapshot_date") == previous).drop("snapshot_date")
        after = state.filter(pl.col("snapshot_date") == current).drop("snapshot_date")
        joined = before.join(after, on="reference_number", how="full", suffix="_new", coalesce=True)
        changed = [pl.when(pl.col(f).fill_null("") != pl.col(f"{f}_new").fill_null("")).then(pl.lit(f)) for f in COMPARED_FIELDS]
        frames.append(joined.select(
            "reference_number",
            pl.lit(previous).alias("previous_snapshot_date"),
            pl.lit(current).alias("snapshot_date"),
            pl.when(pl.col("name").is_null()).then(pl.lit("added"))
            .when(pl.col("name_new").is_null()).then(pl.lit("removed"))
            .otherwise(pl.lit("amended")).alias("change"),
            pl.concat_list(changed).list.drop_nulls().alias("changed_fields"),
            pl.coalesce("name_new", "name").alias("name"),
            pl.coalesce("record_type_new", "record_type").alias("record_type"),
            pl.coalesce("un_list_type_new", "un_list_type").alias("un_list_type"),
        ).filter((pl.col("change") != "amended") | (pl.col("changed_fields").list.len() > 0))
         .with_columns(pl.when(pl.col("change") == "amended").then(pl.col("changed_fields"))
                       .otherwise(pl.lit([], dtype=pl.List(pl.Utf8))).alias("changed_fields")))
    if not frames:
        return empty_frame(SanctionsChanges)
    return pl.concat(frames).sort("snapshot_date", "change", "reference_number")
