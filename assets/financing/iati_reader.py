"""Streaming reader for IATI activity XML (versions 2.01, 2.02, 2.03).

The file is read with ``lxml.etree.iterparse`` one ``<iati-activity>`` at a time; each activity is
flattened into column lists and then cleared, with its processed siblings deleted, so memory does
not grow with the file. Values come out as strings exactly as published; typing, codelist checks and
currency conversion happen in :mod:`assets.financing.iati_transform`.

Hostile input is refused: no network access, no DTD loading, no entity expansion, and any DOCTYPE
declaration (the vehicle of XXE and billion-laughs files) makes the whole file unreadable. Text
nodes larger than libxml2's 10 MB safety limit are refused too (``huge_tree`` stays off).

IATI 1.0x activities are not upgraded: they are quarantined with the reason
"unsupported IATI version 1.0x", because their codes (letter transaction types, textual roles) do
not map one to one onto 2.0x codelists.
"""

import contextlib
import gzip
import io
import mmap
import multiprocessing
import os
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import wait as futures_wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from assets.xml_input import XmlInput, xml_first_element
from schemas.vocabularies import SUPPORTED_IATI_VERSIONS

SUPPORTED_VERSIONS = frozenset(SUPPORTED_IATI_VERSIONS)
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
DEFAULT_BATCH_SIZE = 5000

ACTIVITY_COLUMNS = (
    "iati_identifier", "iati_version", "default_language", "last_updated_datetime",
    "reporting_org_ref", "reporting_org_type_code", "reporting_org_name",
    "title", "activity_status_code",
    "planned_start_date", "actual_start_date", "planned_end_date", "actual_end_date",
    "default_currency", "humanitarian", "hierarchy",
    "default_flow_type_code", "default_finance_type_code", "default_aid_type_code",
    "source_line", "activity_seq",
)
# Repeated classifications of an activity (recipient-country, recipient-region, sector, tag), one
# row each; the transform groups them back into list columns. Flat lists build much faster than
# nested ones.
CLASSIFICATION_COLUMNS = ("activity_seq", "element", "vocabulary", "code", "percentage")
TRANSACTION_COLUMNS = (
    "activity_seq", "iati_identifier", "transaction_index", "transaction_ref", "transaction_type_code", "transaction_date",
    "value", "value_currency", "value_date", "humanitarian",
    "provider_org_ref", "provider_org_type_code", "provider_org_name", "provider_org_activity_id",
    "receiver_org_ref", "receiver_org_type_code", "receiver_org_name", "receiver_org_activity_id",
    "flow_type_code", "finance_type_code", "aid_type_code", "description", "source_line",
)
PARTICIPATING_ORG_COLUMNS = (
    "activity_seq", "iati_identifier", "org_index", "role_code", "org_ref", "org_type_code", "org_name", "org_activity_id",
    "crs_channel_code", "source_line",
)
BUDGET_COLUMNS = (
    "activity_seq", "iati_identifier", "budget_index", "budget_type_code", "budget_status_code",
    "period_start", "period_end", "value", "value_currency", "value_date", "source_line",
)

_NO_ELEMENT = etree.Element("missing")  # stands in for an absent element: no text, no attributes
_CLASSIFICATIONS = frozenset({"recipient-country", "recipient-region", "sector", "tag"})
# Activity-date type codes of IATI 2.0x
_DATE_COLUMNS = {"1": "planned_start_date", "2": "actual_start_date", "3": "planned_end_date", "4": "actual_end_date"}


class IatiFileError(ValueError):
    """The file cannot be read as IATI activity XML. Carries the file, the line and the reason."""

    def __init__(self, file: str, reason: str, line: int | None = None):
        self.file, self.reason, self.line = file, reason, line
        where = f"{file}, line {line}" if line else file
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):  # raised in a parsing process, re-raised in the caller's
        return type(self), (self.file, self.reason, self.line)


_TABLE_NAMES = ("activities", "transactions", "participating_orgs", "budgets", "classifications")


@dataclass
class IatiBatch:
    """Column lists for the four tables, plus activity-level rejects found while reading."""

    activities: dict[str, list] = field(default_factory=lambda: {c: [] for c in ACTIVITY_COLUMNS})
    transactions: dict[str, list] = field(default_factory=lambda: {c: [] for c in TRANSACTION_COLUMNS})
    participating_orgs: dict[str, list] = field(default_factory=lambda: {c: [] for c in PARTICIPATING_ORG_COLUMNS})
    budgets: dict[str, list] = field(default_factory=lambda: {c: [] for c in BUDGET_COLUMNS})
    classifications: dict[str, list] = field(default_factory=lambda: {c: [] for c in CLASSIFICATION_COLUMNS})
    rejects: list[dict] = field(default_factory=list)
    activities_seen: int = 0
    first_seq: int = 0
    labels: list[str] | None = None  # the file of each activity row, where the batch merges several files
    # while a batch is read, its rows are kept as tuples (one append each) and made columns at the end
    rows: dict[str, list[tuple]] = field(default_factory=lambda: {name: [] for name in _TABLE_NAMES})

    def finish(self) -> "IatiBatch":
        """The rows read so far moved into the column lists."""
        for name, rows in self.rows.items():
            if rows:
                for values, column in zip(getattr(self, name).values(), zip(*rows, strict=True), strict=True):
                    values.extend(column)
                rows.clear()
        return self

    @classmethod
    def merge(cls, parts: list[tuple[str, "IatiBatch"]]) -> "IatiBatch":
        """One batch of several whole small files, in their order: each file's ``activity_seq`` is
        moved past the files before it, and each activity row keeps its file's label."""
        merged = cls(labels=[])
        for label, batch in parts:
            offset = merged.activities_seen - batch.first_seq
            for name in _TABLE_NAMES:
                source, target = getattr(batch, name), getattr(merged, name)
                for column, values in source.items():
                    target[column].extend([v + offset for v in values] if column == "activity_seq" else values)
            merged.labels.extend([label] * len(batch.activities["activity_seq"]))
            merged.rejects.extend(batch.rejects)
            merged.activities_seen += batch.activities_seen
        return merged

    def __len__(self) -> int:
        return self.activities_seen


def _text(el) -> str | None:
    if el is None or el.text is None:
        return None
    value = el.text.strip()
    return value or None


def _attr(el, name: str) -> str | None:
    """An attribute as published, or None where it is missing, empty or only whitespace: publishers
    write ``currency=""`` for "no currency", and it must take the path of a missing one."""
    value = el.get(name)
    return value if value and not value.isspace() else None


def _narrative(el, default_lang: str | None) -> str | None:
    """English narrative first (own xml:lang, else the activity's default language), else the first."""
    if el is None:
        return None
    first = None
    for n in el.iterchildren("narrative"):
        value = n.text
        if value is None or not (value := value.strip()):
            continue
        lang = n.get(XML_LANG) or default_lang
        if lang is not None and lang.lower() == "en":
            return value
        if first is None:
            first = value
    return first if first is not None else _text(el)


def _open(path: Path):
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def iter_iati_batches(path: str | Path, *, source_file: str | None = None,
                      batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[IatiBatch]:
    """Yield batches of flattened activities from one IATI file.

    Raises :class:`IatiFileError` when the file is not readable IATI XML: not XML, a DOCTYPE,
    another root element, truncated, or broken encoding. Batches already yielded belong to the
    broken file too; the caller decides what to do with them (the pipeline quarantines the file).
    """
    path = Path(path)
    yield from _iter_batches(lambda: _open(path), source_file or path.name, batch_size)


def _iter_batches(open_stream, label: str, batch_size: int) -> Iterator[IatiBatch]:
    """:func:`iter_iati_batches` over the stream ``open_stream()`` returns (opened twice)."""
    batch = IatiBatch()
    checked_root = False
    seq = 0  # position of the activity in the file; keys child rows to their activity
    try:
        # the root is checked before anything else is read: a file of another kind (another root, a
        # DOCTYPE) is refused at its first element, not after its whole tree was built
        with open_stream() as fh:
            first = xml_first_element(XmlInput(fh, label))
            if first is not None:
                _check_document(first.getroottree(), label)
        with open_stream() as fh:
            source = XmlInput(fh, label, records=("iati-activity",))
            context = etree.iterparse(
                source, events=("start", "end"), tag=("iati-activities", "iati-activity"),
                resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                huge_tree=False, remove_comments=True, remove_pis=True,
            )
            for event, activity in context:
                if event == "start":
                    if source.root is None and activity.getparent() is None:
                        source.root = activity  # bounds the tree however many other elements follow
                    continue
                if activity.tag != "iati-activity":
                    continue
                if not checked_root:
                    _check_document(activity.getroottree(), label)
                    checked_root = True
                parent = activity.getparent()
                if parent is None or parent.getparent() is not None:
                    raise IatiFileError(label, "<iati-activity> is not a child of the root <iati-activities>",
                                        activity.sourceline)
                _read_activity(activity, _attr(parent, "version"), batch, label)
                activity.clear(keep_tail=False)
                while activity.getprevious() is not None:
                    del parent[0]
                if batch.activities_seen >= batch_size:
                    yield batch.finish()
                    seq += batch.activities_seen
                    batch = IatiBatch(first_seq=seq)
            root = getattr(context, "root", None)
            if root is None:
                raise IatiFileError(label, "no XML document found")
            if not checked_root:
                _check_document(root.getroottree(), label)
    except etree.XMLSyntaxError as exc:
        raise IatiFileError(label, f"not well-formed XML: {exc.msg}", exc.lineno) from None
    except (EOFError, OSError, zlib.error) as exc:
        raise IatiFileError(label, f"cannot be read: {exc}") from None
    yield batch.finish()


# A file larger than this is parsed in byte ranges by several processes (one per core), each range a
# run of whole activities of about RANGE_BYTES; the ranges' batches come back in file order.
PARALLEL_MIN_BYTES = 64 << 20
RANGE_BYTES = 4 << 20
_ACTIVITY_START = re.compile(rb"<iati-activity[\s>/]")


@dataclass(frozen=True)
class _Range:
    start: int
    end: int
    lines_before: int  # newlines of the file before ``start``


def _cut_points(path: Path, range_bytes: int) -> tuple[bytes, list[_Range]] | None:
    """(the bytes before the first activity, ranges of whole activities) or None where the file is
    better read in one piece: compressed, no activity, a DOCTYPE, or too small to cut. A range
    starts at an ``<iati-activity`` start tag that is not inside a comment or a CDATA section."""
    with open(path, "rb") as fh:
        if fh.read(2) == b"\x1f\x8b":
            return None
        fh.seek(0)
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            released = 0

            def release(upto: int) -> None:
                """The pages before ``upto`` are given back: a file scanned through a mapping would
                otherwise count whole in this process's resident memory."""
                nonlocal released
                upto -= upto % mmap.PAGESIZE
                if upto > released and hasattr(data, "madvise"):
                    data.madvise(mmap.MADV_DONTNEED, released, upto - released)
                    released = upto

            first = _ACTIVITY_START.search(data)
            closing = data.rfind(b"</iati-activities>")
            if first is None or closing < first.start():
                return None
            prologue = data[:first.start()]
            if b"<!DOCTYPE" in prologue or b"<!ENTITY" in prologue or b"encoding=\"UTF-16" in prologue.upper():
                return None
            cuts = [first.start()]
            position = first.start() + range_bytes
            while position < closing:
                found = _ACTIVITY_START.search(data, position, closing)
                if found is None:
                    break
                at = found.start()
                # a comment or CDATA section holding ``at`` starts after the last cut (which is outside
                # any), so only the bytes since that cut are searched
                since = cuts[-1]
                inside_comment = data.rfind(b"<!--", since, at) > data.rfind(b"-->", since, at)
                inside_cdata = data.rfind(b"<![CDATA[", since, at) > data.rfind(b"]]>", since, at)
                if not (inside_comment or inside_cdata):
                    cuts.append(at)
                    position = at + range_bytes
                    release(at)
                else:
                    position = at + 1
            if len(cuts) < 2:
                return None
            cuts.append(closing)
            ranges, lines = [], 0
            released = 0  # the newlines are counted from the start again: its pages come back in
            for previous, start, end in zip([0, *cuts[:-2]], cuts[:-1], cuts[1:], strict=True):
                lines += data[previous:start].count(b"\n")  # one range copied at a time
                release(start)
                ranges.append(_Range(start, end, lines))
            release(len(data))
            return bytes(prologue), ranges


def _parse_range(path: str, label: str, prologue: bytes, part: _Range, batch_size: int) -> list[IatiBatch]:
    """The batches of one range, read as a document of its own: the file's prologue (XML
    declaration, root start tag) + the range + the root's end tag. Line numbers are the range's own."""
    with open(path, "rb") as fh:
        fh.seek(part.start)
        document = prologue + fh.read(part.end - part.start) + b"</iati-activities>"
    return list(_iter_batches(lambda: io.BytesIO(document), label, batch_size))


def range_line_offset(prologue: bytes, part: _Range) -> int:
    """What turns a line number of ``part`` read as a document of its own into the file's."""
    return part.lines_before - prologue.count(b"\n")


def rebase(batch: IatiBatch, seq: int, line_offset: int) -> IatiBatch:
    """A range's batch with the file's activity positions and line numbers."""
    offset = seq - batch.first_seq
    for name in _TABLE_NAMES:
        values = getattr(batch, name)["activity_seq"]
        values[:] = [v + offset for v in values]
    if line_offset:
        for name in ("activities", "transactions", "participating_orgs", "budgets"):
            lines = getattr(batch, name)["source_line"]
            lines[:] = [line + line_offset if line is not None else None for line in lines]
    for reject in batch.rejects:
        if reject.get("line") is not None:
            reject["line"] += line_offset
    batch.first_seq = seq
    return batch


def parse_range(path: str, label: str, prologue: bytes, part: _Range, batch_size: int) -> list[IatiBatch]:
    """The batches of one range with the file's line numbers (activity positions from 0)."""
    offset, seq = range_line_offset(prologue, part), 0
    batches = []
    for batch in _parse_range(path, label, prologue, part, batch_size):
        batches.append(rebase(batch, seq, offset))
        seq += batch.activities_seen
    return batches


def cut_file(path: str | Path, *, workers: int, min_bytes: int = PARALLEL_MIN_BYTES,
             range_bytes: int = RANGE_BYTES) -> tuple[bytes, list[_Range]] | None:
    """(prologue, ranges) where ``path`` is to be read in ranges by ``workers`` processes: at least
    two workers, a file of ``min_bytes`` or more that can be cut; else None."""
    path = Path(path)
    if workers < 2 or not path.is_file() or path.stat().st_size < min_bytes:
        return None
    return _cut_points(path, range_bytes)


def start_pool(workers: int, initializer=None, initargs=()) -> ProcessPoolExecutor:
    """Worker processes started by a fork server: they do not inherit the caller's threads and open
    files (a Dagster run). Raises OSError where this process may not start processes: a daemonic
    process (a Celery worker's pool process runs each task in one) cannot have children; the
    callers then read everything in this process."""
    if multiprocessing.current_process().daemon:
        raise OSError("a daemonic process (such as a Celery worker's pool process) cannot start worker processes")
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                               initializer=initializer, initargs=initargs)


def ordered_ranges(pool: ProcessPoolExecutor | None, task, path: Path, label: str, plan: tuple[bytes, list[_Range]],
                   *args, ahead: int, local=None) -> Iterator[tuple[_Range, object]]:
    """(range, ``task(path, label, prologue, range, *args)``) for each range of ``plan``, in file
    order, computed by ``pool`` (None: no worker processes) with ``ahead`` ranges in flight; a
    worker that finishes one is given the next at once. With ``local`` (the same computation, in
    this process), this process computes the first range itself while the workers start, and the
    next range not yet given out whenever the first in line is not ready, holding at most ``ahead``
    results; where no worker can run or one dies, it computes those ranges. Memory stays bounded
    either way. A range's :class:`IatiFileError` is raised when its turn comes, with the file's line
    numbers."""
    prologue, ranges = plan
    lock = threading.Lock()
    queued = deque(enumerate(ranges))  # not given out yet
    slots: dict[int, object] = {}  # range index -> future, or (local result, error)
    in_flight = 0
    closed = False

    def give_out() -> None:
        """Submit ranges until ``ahead`` are in flight. Starting the workers blocks the first submit
        for seconds (each imports what it runs): callers keep that off the main line."""
        nonlocal in_flight, closed
        while True:
            with lock:
                if closed or not queued or in_flight >= ahead:
                    return
                index, part = queued.popleft()
                in_flight += 1
            try:
                if pool is None:
                    raise OSError("no worker processes")
                future = pool.submit(task, str(path), label, prologue, part, *args)
            except Exception as exc:  # noqa: BLE001 - whatever stops a worker starting, this process computes the range
                with lock:
                    closed = True  # no more submissions
                    if local is not None:
                        queued.appendleft((index, part))  # this process computes it
                    else:
                        slots[index] = (None, BrokenProcessPool(f"no worker process could start: {exc}"))
                return
            with lock:
                slots[index] = future
            future.add_done_callback(finished)

    def finished(_future) -> None:  # on the pool's thread: the worker gets its next range now
        nonlocal in_flight
        with lock:
            in_flight -= 1
        give_out()

    def compute_here(index: int, part: _Range) -> None:
        try:
            slots[index] = (local(str(path), label, prologue, part, *args), None)
        except IatiFileError as exc:  # raised in its turn, as a worker's is
            slots[index] = (None, exc)

    def take_next() -> tuple[int, _Range] | None:
        with lock:
            return queued.popleft() if queued else None

    starter = None
    try:
        if local is not None and len(ranges) > 1:
            first = take_next()
            # starting the workers blocks the first submit for seconds: it runs on a thread while
            # this process computes the first range (and the next, if the workers are not up yet)
            starter = threading.Thread(target=give_out, name="start-range-workers", daemon=True)
            starter.start()
            compute_here(*first)
        else:
            give_out()
        for index, part in enumerate(ranges):
            while True:
                slot = slots.get(index)
                if isinstance(slot, tuple) or (slot is not None and slot.done()):
                    break
                if slot is None:
                    with lock:  # not given out yet (or given back: no worker could start): its turn is now
                        mine = queued.popleft() if local is not None and queued and queued[0][0] == index else None
                    if mine is not None:
                        compute_here(*mine)
                        continue
                held = sum(isinstance(s, tuple) for s in list(slots.values()))
                claimed = take_next() if local is not None and held < ahead else None
                if claimed is not None:
                    compute_here(*claimed)
                elif slot is None:  # being given out: a moment
                    time.sleep(0.001)
                else:
                    futures_wait([slot])
            slot = slots.pop(index)
            try:
                if not isinstance(slot, tuple):
                    try:
                        slot = (slot.result(), None)
                    except BrokenProcessPool:  # a worker died, or none could start (no shared memory)
                        if local is None:
                            raise
                        with lock:
                            closed = True
                        compute_here(index, part)
                        slot = slots.pop(index)
                result, error = slot
                if error is not None:
                    raise error
            except IatiFileError as exc:  # its line numbers (also those libxml2 quotes) made the file's
                offset = range_line_offset(prologue, part)
                reason = re.sub(r"\bline (\d+)", lambda m, by=offset: f"line {int(m[1]) + by}", exc.reason)
                raise IatiFileError(label, reason, exc.line + offset if exc.line else None) from None
            yield part, result
    finally:
        with lock:
            closed = True
        if starter is not None:
            starter.join()
        with lock:
            for slot in slots.values():
                if not isinstance(slot, tuple):
                    slot.cancel()


def iter_iati_batches_parallel(path: str | Path, *, source_file: str | None = None,
                               batch_size: int = DEFAULT_BATCH_SIZE, workers: int | None = None,
                               min_bytes: int = PARALLEL_MIN_BYTES, range_bytes: int = RANGE_BYTES) -> Iterator[IatiBatch]:
    """:func:`iter_iati_batches`, with a file of ``min_bytes`` or more parsed in ranges by
    ``workers`` processes (default: one per core) while the caller types, validates and writes the
    batches already read: the same batches' rows, in the same order, with the same line numbers.
    An error in a range is raised when its turn comes, with the file's line number."""
    path = Path(path)
    label = source_file or path.name
    workers = workers or os.cpu_count() or 1
    plan = cut_file(path, workers=workers, min_bytes=min_bytes, range_bytes=range_bytes)
    if plan is None:
        yield from iter_iati_batches(path, source_file=label, batch_size=batch_size)
        return
    try:
        pool = start_pool(workers)
    except OSError:  # no processes here (a sandbox without shared memory): the ranges are read here
        pool = None
    seq = 0
    # the first batch is a full one (as a sequential read's is), merged from the first ranges'
    # batches where they are smaller: a smaller first batch means a whole small file to callers
    head: list[IatiBatch] | None = []
    with pool or contextlib.nullcontext(), contextlib.closing(ordered_ranges(
            pool, parse_range, path, label, plan, batch_size, ahead=workers + 1, local=parse_range)) as ranges:
        for _, batches in ranges:
            for batch in batches:
                if not (batch.activities_seen or batch.rejects):
                    continue
                batch = rebase(batch, seq, 0)
                seq += batch.activities_seen
                if head is None:
                    yield batch
                    continue
                head.append(batch)
                if seq >= batch_size:
                    yield IatiBatch.merge([(label, b) for b in head])
                    head = None
    if head:
        yield IatiBatch.merge([(label, b) for b in head])


def _check_document(tree, label: str) -> None:
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise IatiFileError(label, "refused: the file declares a DOCTYPE/DTD (entities are not allowed in IATI XML)")
    root = tree.getroot()
    if root.tag != "iati-activities":
        raise IatiFileError(label, f"wrong root element <{root.tag}>, expected <iati-activities>", root.sourceline)


def _reject(batch: IatiBatch, label: str, line, key, column, check, value, reason, severity="error",
            table: str = "iati_activities") -> None:
    batch.rejects.append({
        "table": table, "file": label, "line": line, "record_key": key, "column": column,
        "check": check, "value": value, "reason": reason, "severity": severity,
    })


# child elements that become rows of their own table, and their element name in record keys
_CHILD_TABLES = {"transaction": "iati_transactions", "budget": "iati_budgets",
                 "participating-org": "iati_participating_orgs"}


def _refuse(act, batch: IatiBatch, label: str, line, key, column, check, value, reason) -> None:
    """An activity refused while it is read, and with it each of its transactions, budgets and
    participating organisations: one reject row each, so that every record of the file is either
    published or rejected."""
    _reject(batch, label, line, key, column, check, value, reason)
    positions = dict.fromkeys(_CHILD_TABLES, 0)
    for child in act:
        table = _CHILD_TABLES.get(child.tag) if isinstance(child.tag, str) else None
        if table is None:
            continue
        _reject(batch, label, child.sourceline, f"{key}#{child.tag}[{positions[child.tag]}]", None, "parent_rejected",
                key, f"activity rejected: {reason}", table=table)
        positions[child.tag] += 1


def _read_activity(act, file_version: str | None, batch: IatiBatch, label: str) -> None:
    seq = batch.first_seq + batch.activities_seen
    batch.activities_seen += 1
    line = act.sourceline
    identifier = _text(act.find("iati-identifier"))
    version = (_attr(act, "version") or file_version or "").strip()
    key = identifier or f"line {line}"
    if version not in SUPPORTED_VERSIONS:
        if version.startswith("1."):
            reason = f"unsupported IATI version {version}"
        elif not version:
            reason = "IATI version not declared (neither the activity nor <iati-activities> has version)"
        else:
            reason = f"unsupported IATI version {version}"
        _refuse(act, batch, label, line, key, "iati_version", "supported_version", version or None, reason)
        return
    if identifier is None:
        _refuse(act, batch, label, line, key, "iati_identifier", "not_nullable", None, "missing <iati-identifier>")
        return

    lang = act.get(XML_LANG)
    dates = dict.fromkeys(_DATE_COLUMNS.values())
    reporting_ref = reporting_type = reporting_name = title = status = None
    flow = finance = aid = None
    rows = batch.rows
    c, t, p, b = rows["classifications"], rows["transactions"], rows["participating_orgs"], rows["budgets"]
    n_transactions = n_orgs = n_budgets = 0

    for child in act:
        tag = child.tag
        if not isinstance(tag, str) or tag[0] == "{":
            continue  # comments, entities, and publisher extensions in other namespaces
        if tag == "transaction":
            t.append((seq, *_read_transaction(child, identifier, n_transactions, lang), child.sourceline))
            n_transactions += 1
        elif tag == "participating-org":
            p.append((seq, identifier, n_orgs, _attr(child, "role"), _attr(child, "ref"), _attr(child, "type"),
                        _narrative(child, lang), _attr(child, "activity-id"), _attr(child, "crs-channel-code"),
                        child.sourceline))
            n_orgs += 1
        elif tag == "budget":
            value_el = child.find("value")
            if value_el is None:
                value_el = _NO_ELEMENT
            b.append((seq, identifier, n_budgets, _attr(child, "type") or "1", _attr(child, "status") or "1",
                        _iso_date(child.find("period-start")), _iso_date(child.find("period-end")),
                        _text(value_el), _attr(value_el, "currency"), _attr(value_el, "value-date"),
                        child.sourceline))
            n_budgets += 1
        elif tag == "reporting-org":
            reporting_ref, reporting_type = _attr(child, "ref"), _attr(child, "type")
            reporting_name = _narrative(child, lang)
        elif tag == "title":
            title = _narrative(child, lang)
        elif tag == "activity-status":
            status = _attr(child, "code")
        elif tag == "activity-date":
            column = _DATE_COLUMNS.get((_attr(child, "type") or "").strip())
            if column and dates[column] is None:
                dates[column] = _attr(child, "iso-date")
        elif tag in _CLASSIFICATIONS:
            c.append((seq, tag, _attr(child, "vocabulary") or "1", _attr(child, "code"), _attr(child, "percentage")))
        elif tag == "default-flow-type":
            flow = _attr(child, "code")
        elif tag == "default-finance-type":
            finance = _attr(child, "code")
        elif tag == "default-aid-type":
            if aid is None and (_attr(child, "vocabulary") or "1").strip() == "1":
                aid = _attr(child, "code")

    rows["activities"].append((
        identifier, version, lang, _attr(act, "last-updated-datetime"), reporting_ref, reporting_type, reporting_name,
        title, status, *dates.values(), _attr(act, "default-currency"), _attr(act, "humanitarian"), _attr(act, "hierarchy"),
        flow, finance, aid, line, seq))


def _iso_date(el) -> str | None:
    return _attr(el, "iso-date") if el is not None else None


def _read_transaction(tr, identifier: str, index: int, lang) -> tuple:
    """The transaction's values in TRANSACTION_COLUMNS order, after activity_seq."""
    type_code = date = value = currency = value_date = None
    provider = receiver = (None, None, None, None)
    flow = finance = aid = description = None
    for child in tr:
        tag = child.tag
        if not isinstance(tag, str) or tag[0] == "{":
            continue
        if tag == "transaction-type":
            type_code = _attr(child, "code")
        elif tag == "transaction-date":
            date = _attr(child, "iso-date")
        elif tag == "value":
            value, currency, value_date = _text(child), _attr(child, "currency"), _attr(child, "value-date")
        elif tag == "provider-org":
            provider = (_attr(child, "ref"), _attr(child, "type"), _narrative(child, lang),
                        _attr(child, "provider-activity-id"))
        elif tag == "receiver-org":
            receiver = (_attr(child, "ref"), _attr(child, "type"), _narrative(child, lang),
                        _attr(child, "receiver-activity-id"))
        elif tag == "flow-type":
            flow = _attr(child, "code")
        elif tag == "finance-type":
            finance = _attr(child, "code")
        elif tag == "aid-type":
            if aid is None and (_attr(child, "vocabulary") or "1").strip() == "1":
                aid = _attr(child, "code")
        elif tag == "description":
            description = _narrative(child, lang)
    return (identifier, index, _attr(tr, "ref"), type_code, date, value, currency, value_date, _attr(tr, "humanitarian"),
            *provider, *receiver, flow, finance, aid, description)


# Files smaller than PARALLEL_MIN_BYTES are parsed ahead of their turn in worker processes, grouped
# into tasks of about TASK_BYTES, with at most AHEAD_BYTES of files in flight: a registry of
# thousands of small files is parsed on every core while the caller types, validates and writes.
TASK_BYTES = 2 << 20
AHEAD_BYTES = 24 << 20
PREFETCH_MIN_BYTES = 8 << 20  # below this in all, starting the processes costs more than it saves


def _parse_files(files: list[tuple[str, str]], batch_size: int) -> list[tuple[list[IatiBatch], IatiFileError | None]]:
    """Each file's batches as a sequential read yields them, and the error that ended the read."""
    results = []
    for path, label in files:
        batches: list[IatiBatch] = []
        error = None
        try:
            batches.extend(iter_iati_batches(path, source_file=label, batch_size=batch_size))
        except IatiFileError as exc:
            error = exc
        results.append((batches, error))
    return results


class FileBatches:
    """The batches of each of ``files`` ((path, label) in order), as :func:`iter_iati_batches_parallel`
    yields them: one file after the other through :meth:`of`. Small files are parsed ahead, in
    worker processes (one per core), while the caller works on the files before them; a file's
    batches and the error that ends it (a broken file) come in the same order as a sequential read's.
    Use as a context manager: the processes stop on exit."""

    def __init__(self, files: list[tuple[Path, str]], *, batch_size: int = DEFAULT_BATCH_SIZE,
                 workers: int | None = None, min_bytes: int | None = None, prefetch_min_bytes: int | None = None,
                 task_bytes: int | None = None, ahead_bytes: int | None = None):
        # the module's settings are read here, when the files are, so that they can be changed
        min_bytes = PARALLEL_MIN_BYTES if min_bytes is None else min_bytes
        prefetch_min_bytes = PREFETCH_MIN_BYTES if prefetch_min_bytes is None else prefetch_min_bytes
        self.files, self.batch_size, self.min_bytes = [(Path(p), label) for p, label in files], batch_size, min_bytes
        self.workers = workers or os.cpu_count() or 1
        self.task_bytes = TASK_BYTES if task_bytes is None else task_bytes
        self.ahead_bytes = AHEAD_BYTES if ahead_bytes is None else ahead_bytes
        self.sizes = [p.stat().st_size if p.is_file() else 0 for p, _ in self.files]
        small = [i for i, n in enumerate(self.sizes) if n < min_bytes]
        self.ahead = self.workers > 1 and sum(self.sizes[i] for i in small) >= prefetch_min_bytes
        self._small = deque(small)
        self._tasks: deque = deque()  # (file indexes, future), in file order
        self._in_flight = 0  # bytes of the files of self._tasks
        self._done: dict[int, tuple[list[IatiBatch], IatiFileError | None]] = {}
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "FileBatches":
        if self.ahead:
            # forkserver: the workers do not inherit the caller's threads and open files (a Dagster run)
            try:
                self._pool = start_pool(self.workers)
                self._fill()
            except (OSError, BrokenProcessPool):  # no processes here: every file is read in this one
                self.__exit__()
        return self

    def __exit__(self, *_) -> None:
        if self._pool is not None:
            for _, future in self._tasks:
                future.cancel()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _fill(self) -> None:
        while self._small and self._in_flight < self.ahead_bytes:
            indexes, size = [], 0
            while self._small and (not indexes or size + self.sizes[self._small[0]] <= self.task_bytes):
                index = self._small.popleft()
                indexes.append(index)
                size += self.sizes[index]
            files = [(str(self.files[i][0]), self.files[i][1]) for i in indexes]
            self._in_flight += size
            self._tasks.append((indexes, self._pool.submit(_parse_files, files, self.batch_size)))

    def _result(self, index: int) -> tuple[list[IatiBatch], IatiFileError | None] | None:
        """The parsed file, or None where it is to be read here (not parsed ahead, or the processes
        could not run: a sandbox without shared memory)."""
        while index not in self._done and self._tasks and self._tasks[0][0][0] <= index:
            indexes, future = self._tasks.popleft()
            self._in_flight -= sum(self.sizes[i] for i in indexes)
            try:
                results = future.result()
            except BrokenProcessPool:
                self._pool, self._tasks, self.ahead = None, deque(), False  # read here from now on
                return None
            self._done.update(zip(indexes, results, strict=True))
            self._fill()
        return self._done.pop(index, None)

    def of(self, index: int) -> Iterator[IatiBatch]:
        """The batches of file ``index``; raises its :class:`IatiFileError` after the batches read
        before the error, as a sequential read does."""
        path, label = self.files[index]
        parsed = self._result(index) if self._pool is not None else None
        if parsed is None:
            yield from iter_iati_batches_parallel(path, source_file=label, batch_size=self.batch_size,
                                                  workers=self.workers, min_bytes=self.min_bytes)
            return
        batches, error = parsed
        yield from batches
        if error is not None:
            raise error
