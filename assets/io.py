"""Reading tabular source files (CSV, XLSX, JSON) as text columns, with clear errors.

Every reader returns string columns exactly as published; typing happens in the transforms. A file
that cannot be read as what it claims to be raises :class:`SourceFileError` naming it and saying why.
"""

import codecs
import io
import json
import zipfile
from pathlib import Path

import polars as pl

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


def decode_text(data: bytes, label: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with BOM; Latin-1 where UTF-8 fails. NUL bytes near the
    start mean a binary file (or UTF-16 without BOM) and are refused; a stray NUL later in a text file
    becomes U+FFFD, so the row stays and the damage is visible in the value."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if b"\x00" in data[:1024]:
        raise SourceFileError(label, "binary content (NUL bytes): not a text file (UTF-16 needs a byte-order mark)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.replace("\x00", "\ufffd")


def read_csv_strings(path: Path, label: str, *, skip_rows: int = 0,
                     max_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> pl.DataFrame:
    """Every column as text; cells such as ``=SUM(A1)`` stay text (nothing is ever evaluated)."""
    data = read_bounded(path, label, max_bytes)
    if data[:4] == b"PK\x03\x04":
        raise SourceFileError(label, "this is a ZIP/XLSX file, not CSV text")
    text = decode_text(data, label)
    if not text.strip():
        raise SourceFileError(label, "empty file")
    try:
        return pl.read_csv(io.StringIO(text), infer_schema=False, skip_rows=skip_rows, truncate_ragged_lines=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise SourceFileError(label, f"not a readable CSV: {reason}") from None


def read_xlsx_strings(path: Path, label: str, sheet: int = 0, *, max_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> pl.DataFrame:
    data = read_bounded(path, label, max_bytes)
    if data[:4] != b"PK\x03\x04":
        raise SourceFileError(label, "not an XLSX file (no ZIP signature)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.infolist():
                if member.filename.startswith("/") or ".." in Path(member.filename).parts:
                    raise SourceFileError(label, f"unsafe member path in the XLSX archive: {member.filename!r}")
            total = sum(m.file_size for m in archive.infolist())
            if total > 2 << 30:
                raise SourceFileError(label, f"XLSX expands to {total} bytes: refused")
            archive.testzip()
        return pl.read_excel(io.BytesIO(data), sheet_id=sheet + 1, engine="calamine", infer_schema_length=0)
    except SourceFileError:
        raise
    except (zipfile.BadZipFile, EOFError) as exc:
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
