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
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from assets.xml_input import SourceFileError, XmlInput, xml_first_element  # noqa: F401 - readers import them from here
from schemas.quality import empty_rejects, reject_rows

# Largest tabular source file read whole (CSV, JSON, XLSX), unless the caller says otherwise (the
# sources resource's max_table_mb).
DEFAULT_MAX_TABLE_BYTES = 256 << 20


def check_size(path: Path, label: str, max_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> None:
    size = Path(path).stat().st_size
    if size > max_bytes:
        raise SourceFileError(label, f"file is {size / (1 << 20):.0f} MB, over the {max_bytes >> 20} MB limit "
                                     "for tabular sources (PARTNERSHIP_MAX_TABLE_MB)")


def read_bounded(path: Path, label: str, max_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> bytes:
    check_size(path, label, max_bytes)
    return Path(path).read_bytes()


def decode_lines(data: bytes, label: str, *, file_start: bool = True) -> tuple[str, list[int]]:
    """(text, the 1-based numbers of the lines that are not UTF-8). UTF-8 (with or without BOM), or
    UTF-16 with BOM. A file that is not UTF-8 throughout is decoded line by line: UTF-8 where a line
    is UTF-8, Windows-1252 (Latin-1 for its five unassigned bytes) where it is not, so one pasted row
    does not turn every other name into mojibake. NUL bytes near the start of a file (``file_start``)
    mean a binary file (or UTF-16 without BOM) and are refused; a stray NUL later becomes U+FFFD, so
    the row stays and the damage is visible in the value."""
    if file_start and data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), []
    if file_start and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if file_start and b"\x00" in data[:1024]:
        raise SourceFileError(label, "binary content (NUL bytes): not a text file (UTF-16 needs a byte-order mark)")
    try:
        return data.decode("utf-8").replace("\x00", "\ufffd"), []
    except UnicodeDecodeError:
        pass
    lines, fallback = [], []
    # lines end at "\n" only, as the CSV readers count them (a lone "\r" inside a value is not a line end)
    for number, line in enumerate(re.findall(rb"[^\n]*\n|[^\n]+$", data), start=1):
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


def utf8_bytes(data: bytes, label: str, *, file_start: bool = True) -> tuple[bytes, list[int]]:
    """:func:`decode_lines` as UTF-8 bytes, without holding a decoded copy of a file that already is
    UTF-8 (the common case): the bytes are only checked, and handed on as they are."""
    if file_start and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    utf16 = file_start and data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if not utf16 and not (file_start and b"\x00" in data[:1024]):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return (data.replace(b"\x00", "\ufffd".encode()) if b"\x00" in data else data), []
    text, fallback = decode_lines(data, label, file_start=file_start)
    return text.encode("utf-8"), fallback


# a column read_csv_strings adds when some lines were not UTF-8: True on the records decoded as Windows-1252
ENCODING_FALLBACK = "_not_utf8"


def last_record_cut(text: str | bytes, header_fields: int) -> str | None:
    """Why the last record of a text without a final newline is cut off mid-way (fewer fields than
    the header, or a quote left open), or None. The last record starts after the last newline that
    is outside quotes, so a complete record holding quoted newlines is not taken for a cut one."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if not data or data.endswith((b"\n", b"\r")):
        return None
    last = data[max(_record_end(data), 0):]
    if last.count(b'"') % 2:
        return "a quoted value left open"
    fields = next(csv.reader(io.StringIO(last.decode("utf-8", errors="replace"), newline="")), [])
    if len(fields) < header_fields:
        return f"{len(fields)} of {header_fields} fields"
    return None


# Records of a CSV file are read, typed and validated in batches of about this many bytes, so memory
# follows the batch, not the file.
CSV_BATCH_BYTES = 8 << 20


def _record_end(buffer: bytes, start: int = 0) -> int:
    """Offset just past the last newline of ``buffer[start:]`` that ends a record (an even number of
    quotes since ``start``, which is a record boundary), or -1. Quote parity is exact for CSV that
    polars reads at all: it refuses a quote inside an unquoted value."""
    end = buffer.rfind(b"\n", start)
    if end < 0:
        return -1
    quotes = buffer.count(b'"', start, end)
    while quotes % 2:
        previous = buffer.rfind(b"\n", start, end)
        if previous < 0:
            return -1
        quotes -= buffer.count(b'"', previous, end)
        end = previous
    return end + 1


def _line_records(data: bytes) -> list[int]:
    """For each line of ``data`` (a run of whole records), the record (0-based) it belongs to, and a
    last entry for what follows the last newline: a record holding a quoted newline spans lines."""
    records, record, quotes, position = [], 0, 0, 0
    while (end := data.find(b"\n", position)) >= 0:
        records.append(record)
        quotes += data.count(b'"', position, end)
        if quotes % 2 == 0:
            record += 1
        position = end + 1
    return [*records, record]


def _header_end(buffer: bytes) -> int:
    """Offset just past the header record's newline, or -1 while it is not complete."""
    end = buffer.find(b"\n")
    while end >= 0 and buffer.count(b'"', 0, end) % 2:
        end = buffer.find(b"\n", end + 1)
    return end + 1 if end >= 0 else -1


def _csv_chunks(path: Path, label: str, max_bytes: int, batch_bytes: int) -> Iterator[tuple[bytes, bytes, bool]]:
    """(header, a run of whole records, is the last run) of a CSV file, as read from disk in blocks of
    ``batch_bytes``; a record longer than a block makes its run longer. UTF-16 files are converted
    whole (they cannot be cut on newline bytes)."""
    check_size(path, label, max_bytes)
    with Path(path).open("rb") as stream:
        buffer = stream.read(batch_bytes)
        eof = len(buffer) < batch_bytes
        if buffer[:4] == b"PK\x03\x04":
            raise SourceFileError(label, "this is a ZIP/XLSX file, not CSV text")
        if buffer.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            stream = io.BytesIO(utf8_bytes(buffer + stream.read(), label)[0])
            buffer = stream.read(batch_bytes)
            eof = len(buffer) < batch_bytes
        elif buffer.startswith(codecs.BOM_UTF8):
            buffer = buffer[len(codecs.BOM_UTF8):]
        if b"\x00" in buffer[:1024]:
            raise SourceFileError(label, "binary content (NUL bytes): not a text file (UTF-16 needs a byte-order mark)")
        header = None
        while True:
            if header is None and (cut := _header_end(buffer)) >= 0:
                header, buffer = buffer[:cut], buffer[cut:]
            end = len(buffer) if eof else _record_end(buffer)
            if header is None and eof:
                header, buffer, end = buffer, b"", 0
            if header is not None and end >= 0:
                yield header, buffer[:end], eof
                if eof:
                    return
                buffer = buffer[end:]
            block = stream.read(batch_bytes)
            eof = len(block) < batch_bytes
            buffer += block


def read_csv_batches(path: Path, label: str, *, max_bytes: int = DEFAULT_MAX_TABLE_BYTES,
                     batch_bytes: int | None = None) -> Iterator[tuple[pl.DataFrame, int]]:
    """The records of a CSV file, every column as text, in batches of about ``batch_bytes``:
    (frame, the row number of the frame's first record as the readers number rows: the header is
    row 1). The file is never held whole, so memory follows the batch. A file with a header and no
    record gives one empty frame with its columns.

    Cells such as ``=SUM(A1)`` stay text (nothing is ever evaluated). Refused with a clear error: a
    file that ends in the middle of a record (a download cut short), a header that names one column
    twice (also when only surrounding spaces differ). Records decoded from lines that were not UTF-8
    are marked in the :data:`ENCODING_FALLBACK` column."""
    first_row, columns = 2, None
    for header, records, last in _csv_chunks(path, label, max_bytes, batch_bytes or CSV_BATCH_BYTES):
        if columns is None and not (header + records).strip():
            raise SourceFileError(label, "empty file")
        header_utf8, _ = utf8_bytes(header, label)
        data, fallback = utf8_bytes(records, label, file_start=False)
        header_fields = len(next(csv.reader(io.StringIO(header_utf8.decode("utf-8", errors="replace"))), []))
        if last and (cut := last_record_cut(data or header_utf8, header_fields)) is not None:
            complete = _line_records(data[:max(_record_end(data), 0)])[-1]  # records before the cut one
            raise SourceFileError(label, f"the file ends in the middle of a record (last line: {cut}, no final newline): "
                                         "a truncated download?", line=first_row + complete)
        try:
            frame = pl.read_csv(header_utf8 + data, infer_schema=False, truncate_ragged_lines=False)
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.DuplicateError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            where = f" (in the records from line {first_row})" if first_row > 2 else ""
            raise SourceFileError(label, f"not a readable CSV{where}: {reason}") from None
        if columns is None:
            names = [c.strip().lstrip("\ufeff") for c in frame.columns]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise SourceFileError(label, f"the header names a column more than once: {', '.join(map(repr, repeated))}")
            columns = frame.columns
        if fallback:
            records = _line_records(data)
            marked = {records[line - 1] for line in fallback}
            frame = frame.with_columns(pl.int_range(pl.len()).is_in(sorted(marked)).alias(ENCODING_FALLBACK))
        if frame.height or first_row == 2:
            yield frame, first_row
        first_row += frame.height


def read_csv_strings(path: Path, label: str, *, max_bytes: int = DEFAULT_MAX_TABLE_BYTES) -> pl.DataFrame:
    """The whole of :func:`read_csv_batches` as one frame, for sources that are read whole."""
    frames = [frame for frame, _ in read_csv_batches(path, label, max_bytes=max_bytes)]
    frame = pl.concat(frames, how="diagonal") if len(frames) > 1 else frames[0]
    if ENCODING_FALLBACK in frame.columns:
        frame = frame.with_columns(pl.col(ENCODING_FALLBACK).fill_null(False))
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
