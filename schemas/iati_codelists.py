"""IATI codelists the pipeline checks codes against, with the English name beside each code.

The project carries the codes and names it needs in ``config/iati_codelists.yaml``. ``refresh``
rebuilds that file from a folder or URL holding the official codelist XML files (as published by
IATI, ``<codelist name=...><codelist-items><codelist-item><code>``) or the flattened CSVs
(``code,name,description,status``).
"""

import csv
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

import yaml
from lxml import etree

from schemas.paths import CONFIG_DIR

CODELISTS_FILE = CONFIG_DIR / "iati_codelists.yaml"

# The codelists the IATI tables use, by official name.
REQUIRED_CODELISTS = (
    "ActivityStatus", "AidType", "BudgetStatus", "BudgetType", "Currency", "FinanceType", "FlowType",
    "OrganisationRole", "OrganisationType", "TransactionType", "SectorVocabulary", "RegionVocabulary", "UNSDG-Goals",
    "UNSDG-Targets",
)

_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@cache
def load_codelists(path: Path = CODELISTS_FILE) -> dict[str, dict[str, str]]:
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return {name: {str(k): v for k, v in entry["codes"].items()} for name, entry in document["codelists"].items()}


def codes(name: str) -> list[str]:
    return sorted(load_codelists()[name])


def _parse_xml_codelist(data: bytes, origin: str) -> dict[str, dict]:
    try:
        root = etree.fromstring(data, _SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"{origin}: not well-formed XML: {exc.msg}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ValueError(f"{origin}: refused: the file declares a DOCTYPE/DTD")
    if root.tag != "codelist":
        raise ValueError(f"{origin}: wrong root element <{root.tag}>, expected <codelist>")
    items: dict[str, dict] = {}
    for item in root.iter("codelist-item"):
        code = (item.findtext("code") or "").strip()
        if not code:
            continue
        names = item.find("name")
        name = None
        if names is not None:
            narratives = list(names.iterchildren("narrative"))
            english = [n for n in narratives if n.get("{http://www.w3.org/XML/1998/namespace}lang") in (None, "en")]
            chosen = (english or narratives or [None])[0]
            name = (chosen.text or "").strip() if chosen is not None else None
        items[code] = {"name": name or code, "status": item.get("status", "active")}
    return items


def _parse_csv_codelist(data: bytes, origin: str) -> dict[str, dict]:
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{origin}: not UTF-8 text: {exc.reason}") from None
    if not reader.fieldnames or "code" not in reader.fieldnames:
        raise ValueError(f"{origin}: expected columns code,name,...; found {reader.fieldnames}")
    return {row["code"].strip(): {"name": (row.get("name") or row["code"]).strip(),
                                  "status": (row.get("status") or "active").strip()}
            for row in reader if row.get("code")}


def read_local_file(ref: str) -> bytes | None:
    """The bytes of a local file, or None where there is none; URLs need the caller's downloader."""
    if ref.startswith(("http://", "https://")):
        raise ValueError(f"{ref}: a URL; pass a reader that downloads (the CLI uses the project's downloader)")
    path = Path(ref)
    return path.read_bytes() if path.is_file() else None


def fetch_codelists(location: str, names=REQUIRED_CODELISTS,
                    read: Callable[[str], bytes | None] = read_local_file) -> dict[str, dict[str, dict]]:
    """Read the named codelists from a folder or base URL; fails naming any that are missing.

    ``read(ref)`` returns the bytes at ``ref`` (a path or URL), or None where there is nothing;
    the caller decides how (the project's hardened downloader for URLs)."""
    result, missing = {}, []
    for name in names:
        for suffix in (".xml", ".csv"):
            origin = f"{location.rstrip('/')}/{name}{suffix}"
            data = read(origin)
            if data is not None:
                result[name] = (_parse_xml_codelist(data, origin) if suffix == ".xml"
                                else _parse_csv_codelist(data, origin))
                break
        else:
            missing.append(name)
    if missing:
        raise FileNotFoundError(f"codelists not found under {location}: {', '.join(missing)}")
    return result


def write_codelists(codelists: dict[str, dict[str, dict]], origin: str, path: Path = CODELISTS_FILE) -> None:
    document = {
        "origin": origin,
        "codelists": {
            name: {
                "codes": {code: item["name"] for code, item in sorted(items.items())},
                "withdrawn": sorted(code for code, item in items.items() if item["status"] == "withdrawn"),
            }
            for name, items in sorted(codelists.items())
        },
    }
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text("# IATI codes and English names used to check and label the IATI tables.\n"
                   "# Rebuild with: partnership refresh-codelists <folder or URL of IATI codelists>\n"
                   + yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")
    tmp.replace(path)
    load_codelists.cache_clear()
