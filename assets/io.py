"""Reading tabular source files (CSV, XLSX, JSON) as text columns, with clear errors.

Every reader returns string columns exactly as published; typing happens in the transforms. A file
that cannot be read as what it claims to be raises :class:`SourceFileError` naming it and saying why.
"""

import codecs
import csv
import io
import json
import re
import zipfile
import zlib
from pathlib import Path

import polars as pl
from lxml import etree

from schemas.quality import empty_rejects, reject_rows

# Largest tabular source file read whole (CSV, JSON, XLSX), unless the caller says otherwise (the
# sources resource's max_table_mb).
DEFAULT_MAX_TABLE_BYTES = 256 << 20


def read_bounded(path: Path, label: str, max_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> bytes:
    size = Path(path).stat().st_size
    if size > max_bytes:
        raise SourceFileError(label, f"file is {size / (1 << 20):.0f} MB, over the {max_bytes >> 20} MB limit "
                                     "for tabular sources (PARTNERSHIP_MAX_TABLE_MB)")
    return Path(path).read_bytes()


class SourceFileError(ValueError):
    """A source file cannot be read; carries the file and the reason."""

    def __init__(self, file: str, reason: str, line: int | None = None):
        self.file, self.reason, self.line = file, reason, line
        super().__init__(f"{file}{f', line {line}' if line else ''}: {reason}")


def decode_lines(data: bytes, label: str) -> tuple[str, list[int]]:
    """(text, the 1-based numbers of the lines that are not UTF-8). UTF-8 (with or without BOM), or
    UTF-16 with BOM. A file that is not UTF-8 throughout is decoded line by line: UTF-8 where a line
    is UTF-8, Windows-1252 (Latin-1 for its five unassigned bytes) where it is not, so one pasted row
    does not turn every other name into mojibake. NUL bytes near the start mean a binary file (or
    UTF-16 without BOM) and are refused; a stray NUL later becomes U+FFFD, so the row stays and the
    damage is visible in the value."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), []
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if b"\x00" in data[:1024]:
        raise SourceFileError(label, "binary content (NUL bytes): not a text file (UTF-16 needs a byte-order mark)")
    try:
        return data.decode("utf-8").replace("\x00", "\ufffd"), []
    except UnicodeDecodeError:
        pass
    lines, fallback = [], []
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            fallback.append(number)
            try:
                lines.append(line.decode("cp1252"))
            except UnicodeDecodeError:
                lines.append(line.decode("latin-1"))
    return "".join(lines).replace("\x00", "\ufffd"), fallback


def decode_text(data: bytes, label: str) -> str:
    """The text of :func:`decode_lines`."""
    return decode_lines(data, label)[0]


def utf8_bytes(data: bytes, label: str) -> tuple[bytes, list[int]]:
    """:func:`decode_lines` as UTF-8 bytes, without holding a decoded copy of a file that already is
    UTF-8 (the common case): the bytes are only checked, and handed on as they are."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and b"\x00" not in data[:1024]:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return (data.replace(b"\x00", "\ufffd".encode()) if b"\x00" in data else data), []
    text, fallback = decode_lines(data, label)
    return text.encode("utf-8"), fallback


# a column read_csv_strings adds when some lines were not UTF-8: True on the records decoded as Windows-1252
ENCODING_FALLBACK = "_not_utf8"


def last_record_cut(text: str | bytes, header_fields: int) -> str | None:
    """Why the last line of a text without a final newline is a record cut off mid-way (fewer
    fields than the header, or a quote left open), or None."""
    if isinstance(text, bytes):
        if not text or text.endswith((b"\n", b"\r")):
            return None
        text = text[text.rfind(b"\n") + 1:].decode("utf-8", errors="replace")
    if not text or text.endswith(("\n", "\r")):
        return None
    last = text[text.rfind("\n") + 1:]
    if last.count('"') % 2:
        return "a quoted value left open"
    fields = next(csv.reader([last]), [])
    if len(fields) < header_fields:
        return f"{len(fields)} of {header_fields} fields"
    return None


def read_csv_strings(path: Path, label: str, *, skip_rows: int = 0,
                     max_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> pl.DataFrame:
    """Every column as text; cells such as ``=SUM(A1)`` stay text (nothing is ever evaluated).

    Refused with a clear error: a file that ends in the middle of a record (a download cut short),
    a header that names one column twice (also when only surrounding spaces differ). Records decoded
    from lines that were not UTF-8 are marked in the :data:`ENCODING_FALLBACK` column."""
    data = read_bounded(path, label, max_bytes)
    if data[:4] == b"PK\x03\x04":
        raise SourceFileError(label, "this is a ZIP/XLSX file, not CSV text")
    data, fallback = utf8_bytes(data, label)
    if not data or data.isspace():
        raise SourceFileError(label, "empty file")
    try:
        frame = pl.read_csv(data, infer_schema=False, skip_rows=skip_rows, truncate_ragged_lines=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.DuplicateError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise SourceFileError(label, f"not a readable CSV: {reason}") from None
    names = [c.strip().lstrip("\ufeff") for c in frame.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SourceFileError(label, f"the header names a column more than once: {', '.join(map(repr, repeated))}")
    cut = last_record_cut(data, frame.width)
    if cut is not None:
        raise SourceFileError(label, f"the file ends in the middle of a record (last line: {cut}, no final newline): "
                                     "a truncated download?", line=skip_rows + frame.height + 1)
    if fallback:  # records numbered as the readers number them: line = row index + 2
        frame = frame.with_columns((pl.int_range(pl.len()) + 2 + skip_rows).is_in(fallback).alias(ENCODING_FALLBACK))
    return frame


def encoding_flag(frame: pl.DataFrame) -> pl.Expr:
    """The :data:`ENCODING_FALLBACK` column of a frame read by :func:`read_csv_strings` (False where absent)."""
    return (pl.col(ENCODING_FALLBACK) if ENCODING_FALLBACK in frame.columns else pl.lit(False)).alias(ENCODING_FALLBACK)


def encoding_warnings(frame: pl.DataFrame, table: str, key: pl.Expr) -> pl.DataFrame:
    """One warning reject per record decoded as Windows-1252 (``frame`` keeps ``source_file`` and
    ``source_row``)."""
    if ENCODING_FALLBACK not in frame.columns:
        return empty_rejects()
    return reject_rows(frame.filter(pl.col(ENCODING_FALLBACK)), table=table, key=key, column=None, check="encoding",
                       value=pl.lit(None, pl.Utf8), reason="line is not UTF-8: decoded as Windows-1252", severity="warning")


# An XLSX is refused before the engine reads it when its parts inflate past this, or when the cell
# range of a sheet (highest row x highest column used) is larger than MAX_XLSX_CELLS: the engine
# allocates the whole range, so two cells at A1 and XFD1048576 would ask for 17 billion.
MAX_XLSX_INFLATED_BYTES = 1 << 30
MAX_XLSX_CELLS = 50_000_000
_CELL_REF = re.compile(rb'<(?:\w+:)?(?:c|dimension)\b[^>]*?\b(?:r|ref)="(?:[A-Z]+[0-9]+:)?([A-Z]{1,3})([0-9]{1,7})"')


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ch - 64
    return number


def _check_xlsx(archive: zipfile.ZipFile, label: str) -> None:
    """Inflate every member as a stream, with caps: sizes that lie, a total past the cap, and sheets
    whose used range is too large to allocate are refused."""
    total = 0
    for member in archive.infolist():
        if member.filename.startswith("/") or ".." in Path(member.filename).parts:
            raise SourceFileError(label, f"unsafe member path in the XLSX archive: {member.filename!r}")
        sheet = member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml")
        size = max_row = max_col = 0
        tail = b""
        with archive.open(member) as stream:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                total += len(chunk)
                if size > member.file_size:
                    raise SourceFileError(label, f"XLSX member {member.filename} inflates past its declared size "
                                                 f"({member.file_size} bytes): refused")
                if total > MAX_XLSX_INFLATED_BYTES:
                    raise SourceFileError(label, f"XLSX inflates to more than {MAX_XLSX_INFLATED_BYTES >> 20} MB: refused")
                if sheet:
                    window = tail + chunk
                    for col, row in _CELL_REF.findall(window):
                        max_col, max_row = max(max_col, _column_number(col)), max(max_row, int(row))
                        if max_col * max_row > MAX_XLSX_CELLS:
                            raise SourceFileError(label, f"sheet {member.filename} spans {max_row} rows x {max_col} "
                                                         f"columns, over {MAX_XLSX_CELLS:,} cells: refused")
                    tail = window[-256:]


def read_xlsx_strings(path: Path, label: str, sheet: int = 0, *, max_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> pl.DataFrame:
    data = read_bounded(path, label, max_bytes)
    if data[:4] != b"PK\x03\x04":
        raise SourceFileError(label, "not an XLSX file (no ZIP signature)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_xlsx(archive, label)
        return pl.read_excel(io.BytesIO(data), sheet_id=sheet + 1, engine="calamine", infer_schema_length=0)
    except SourceFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError) as exc:
        raise SourceFileError(label, f"truncated or corrupt XLSX: {exc}") from None
    except Exception as exc:  # calamine reports many kinds of broken workbooks
        raise SourceFileError(label, f"cannot read the workbook: {exc.__class__.__name__}: {str(exc)[:200]}") from None


def read_json_records(path: Path, label: str, *, max_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> pl.DataFrame:
    """A JSON array of objects (or an object with one list of objects); nested values stay JSON text."""
    data = read_bounded(path, label, max_bytes)
    try:
        document = json.loads(decode_text(data, label))
    except json.JSONDecodeError as exc:
        raise SourceFileError(label, f"not valid JSON: {exc.msg}", exc.lineno) from None
    if isinstance(document, dict):
        lists = [v for v in document.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise SourceFileError(label, "expected a JSON array of records, or an object holding one such array")
        document = lists[0]
    if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
        raise SourceFileError(label, "expected a JSON array of records (objects)")
    columns: dict[str, list] = {}
    for i, record in enumerate(document):
        for key in record:
            columns.setdefault(key, [None] * i)
        for key, values in columns.items():
            value = record.get(key)
            values.append(value if value is None or isinstance(value, str)
                          else json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value))
    return pl.DataFrame(columns, schema={k: pl.Utf8 for k in columns})


class XmlInput:
    """A binary stream for ``lxml.etree.iterparse`` that bounds what parsing can cost:

    * it refuses to read past ``limit`` bytes (a compressed bomb inflates only that far);
    * every ``prune_every`` bytes it drops every finished element of the tree built so far, keeping
      only the path of elements still open (``root`` is set by the caller at the root's start
      event) and, whole, the open record the caller is waiting for (``records``), so elements the
      caller does not ask events for (a million ``<X/>``) cannot pile up. Parsing asks for bytes only after the caller has taken every pending event, so nothing the
      caller still needs is dropped."""

    def __init__(self, stream, label: str, limit: int | None = None, *, records: tuple[str, ...] = (),
                 prune_every: int = 1 << 20):
        self.stream, self.label, self.limit, self.prune_every = stream, label, limit, prune_every
        self.records = set(records)  # elements the caller reads whole at their end: never pruned inside
        self.read_bytes, self.root, self._next_prune = 0, None, prune_every

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(1 << 16 if size is None or size < 0 else min(size, 1 << 16))
        self.read_bytes += len(chunk)
        if self.limit is not None and self.read_bytes > self.limit:
            raise SourceFileError(self.label, f"expands to more than {self.limit >> 20} MB: refused")
        if self.root is not None and self.read_bytes >= self._next_prune:
            self._next_prune = self.read_bytes + self.prune_every
            node = self.root
            while len(node) and node.tag not in self.records:
                if len(node) > 1:
                    del node[:-1]
                node = node[-1]
        return chunk


def xml_first_element(stream):
    """The document's first element, parsed as far as its start tag only (DTDs, entities and the
    network off), or None for a document without one: a reader checks the root and the DOCTYPE
    there before reading anything else."""
    for _, first in etree.iterparse(stream, events=("start",), resolve_entities=False, no_network=True,
                                    load_dtd=False, huge_tree=False):
        return first
    return None


def finite_number(text: pl.Expr) -> pl.Expr:
    """Text as a Float64, null where it is not a finite number ("1e309", "inf" and "NaN" are not
    amounts): the caller's null check then rejects the row."""
    number = text.cast(pl.Float64, strict=False)
    return pl.when(number.is_finite()).then(number).otherwise(None)


def sniff_format(path: Path) -> str:
    """csv, xlsx or json from the first bytes (not the extension, which may lie)."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head[:4] == b"PK\x03\x04":
        return "xlsx"
    stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
    if stripped[:1] in (b"[", b"{"):
        return "json"
    return "csv"


def require_columns(frame: pl.DataFrame, expected: list[str], label: str, layout: str) -> None:
    found = [c.strip() for c in frame.columns]
    missing = [c for c in expected if c not in found]
    if missing:
        raise SourceFileError(label, f"not the {layout} layout: expected columns {', '.join(expected)}; "
                                     f"missing {', '.join(missing)}; found {', '.join(found) or 'none'}")
