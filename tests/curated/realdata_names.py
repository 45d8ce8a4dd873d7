"""Every name-like string of the real files in ``../shared/realdata``, keyed by a digest.

The labelled pairs of real organisation names keep only the digest of each name (the real files and
pieces of them stay out of the repository); this module finds the names again in the real files with
the standard library only (csv, ElementTree, zipfile, json), independently of the project's readers.
"""

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
SPREADSHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def name_digest(name: str) -> str:
    """First 16 hex digits of the SHA-256 of the name with its whitespace collapsed."""
    return hashlib.sha256(" ".join(name.split()).encode("utf-8")).hexdigest()[:16]


def _csv_cells(path: Path) -> Iterator[str]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    for row in csv.reader(io.StringIO(text)):
        yield from row


def _xml_texts(path: Path) -> Iterator[str]:
    for _, element in ElementTree.iterparse(path):
        if element.text:
            yield element.text
        element.clear()


def _xlsx_texts(path: Path) -> Iterator[str]:
    with zipfile.ZipFile(path) as book:
        for member in book.namelist():
            if member == "xl/sharedStrings.xml" or member.startswith("xl/worksheets/sheet"):
                root = ElementTree.fromstring(book.read(member))
                for node in root.iter(f"{SPREADSHEET}t"):
                    if node.text:
                        yield node.text


def _pieces(text: str) -> Iterator[str]:
    """The text, and the items of a list packed in it (a JSON array, or ';'/','-separated)."""
    yield text
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            values = json.loads(stripped)
        except json.JSONDecodeError:
            values = None
        if isinstance(values, list):
            yield from (str(v) for v in values if v is not None)
            return
    yield from re.split(r"[;,]", text)


def realdata_names() -> dict[str, str]:
    """digest -> name, over the organisation-bearing real files."""
    files = [*sorted((REALDATA / "ungc").glob("*.csv")), REALDATA / "financing" / "ceb-revenue_non_gov_donors.csv"]
    texts: list[str] = [cell for path in files for cell in _csv_cells(path)]
    texts += [t for path in sorted((REALDATA / "iati" / "activities").glob("*.xml")) for t in _xml_texts(path)]
    texts += [t for path in sorted((REALDATA / "partnerships").glob("*.xlsx")) for t in _xlsx_texts(path)]
    names = {}
    for text in texts:
        for piece in _pieces(text):
            piece = " ".join(piece.split())
            if piece:
                names.setdefault(name_digest(piece), piece)
    return names
