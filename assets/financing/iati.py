"""Build the four curated IATI tables of one snapshot from landed files.

Files are read one at a time, batch by batch, and each batch is written as part files into the
tables' staging partitions, so memory stays bounded by the batch size, not the input. A file that
turns out to be unreadable (not XML, hostile, truncated, wrong root) is quarantined whole: its part
files are discarded, one reject row names the file, line and reason, and the other files go on.
"""

import contextlib
import itertools
from collections import ChainMap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

import polars as pl

from assets.financing.fx import FxRates
from assets.financing.iati_reader import (
    DEFAULT_BATCH_SIZE,
    FileBatches,
    IatiBatch,
    IatiFileError,
    cut_file,
    ordered_ranges,
    parse_range,
    start_pool,
)
from assets.financing.iati_transform import TABLES, TransformedBatch, transform_batch
from assets.validation import count_rejects, gate_counts, reject_share
from schemas.quality import empty_rejects, rejects_frame


class PartWriter(Protocol):
    """What the build needs of a table writer (see pipelines.publish.PartitionWriter)."""

    def write(self, frame: pl.DataFrame, part_name: str) -> None: ...
    def discard(self, prefix: str) -> int: ...


@dataclass
class FileOutcome:
    file: str
    activities_seen: int = 0
    quarantined: bool = False
    reason: str | None = None
    line: int | None = None


SAMPLE_SIZE = 20


@dataclass
class IatiBuild:
    """Counts of one build. Rejects themselves go to the reject writer as they are found, so that
    memory does not grow with the number of bad rows; a sample is kept for reporting."""

    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    gated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))  # as the gate weighs them
    warning_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    files: list[FileOutcome] = field(default_factory=list)
    # rows that were read but not published because their whole file was quarantined
    quarantined_rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    sample: pl.DataFrame = field(default_factory=empty_rejects)

    def rejected_records(self, table: str) -> int:
        """Records of ``table`` kept out of publication: the rejected records (counted as
        :func:`assets.validation.count_rejects` counts them, batch by batch) and the rows of
        quarantined files."""
        return self.rejected[table] + self.quarantined_rows[table]

    def warnings(self, table: str) -> int:
        return self.warning_counts[table]

    def reject_share(self, table: str) -> float:
        return reject_share(self.rows[table], self.gated_records(table))

    def gated_records(self, table: str) -> int:
        """Rejected records as the publication gate weighs them (:func:`assets.validation.gate_counts`)."""
        return self.gated[table] + self.quarantined_rows[table]

    def add(self, other: "IatiBuild") -> None:
        """Count ``other`` (a build of the files after this one's) in this build."""
        for counts, more in [(self.rows, other.rows), (self.rejected, other.rejected), (self.gated, other.gated),
                             (self.warning_counts, other.warning_counts),
                             (self.quarantined_rows, other.quarantined_rows)]:
            for table, n in more.items():
                counts[table] = counts.get(table, 0) + n
        self.files.extend(other.files)
        self._keep_sample(other.sample)

    def counts(self) -> dict:
        """Everything but the sample, as JSON values (:meth:`from_counts` reads it back)."""
        return {"rows": self.rows, "rejected": self.rejected, "gated": self.gated,
                "warning_counts": self.warning_counts, "quarantined_rows": self.quarantined_rows,
                "files": [vars(outcome) for outcome in self.files]}

    @classmethod
    def from_counts(cls, counts: dict, sample: pl.DataFrame | None = None) -> "IatiBuild":
        return cls(rows=counts["rows"], rejected=counts["rejected"], gated=counts["gated"],
                   warning_counts=counts["warning_counts"], quarantined_rows=counts["quarantined_rows"],
                   files=[FileOutcome(**outcome) for outcome in counts["files"]],
                   sample=sample if sample is not None else empty_rejects())

    def _keep_sample(self, rejects: pl.DataFrame) -> None:
        missing = {t: SAMPLE_SIZE - n for t, n in self.sample.group_by("table").len().iter_rows()}
        take = rejects.filter(pl.col("severity") == "error").filter(
            pl.int_range(pl.len()).over("table") < pl.col("table").replace_strict(missing, default=SAMPLE_SIZE))
        if take.height:
            self.sample = pl.concat([self.sample, take])


def _duplicates(batch: IatiBatch, label: str, first_seen: Mapping[str, str]) -> tuple[set[int], dict[str, str]]:
    """(positions of the activities of ``batch`` whose identifier an earlier activity took, the file
    of the first activity of each other identifier in the batch). ``first_seen``: identifiers read
    before the batch (published or rejected), and their file."""
    labels = batch.labels or [label] * len(batch.activities["iati_identifier"])
    duplicates, in_batch = set(), {}
    for identifier, seq, file in zip(batch.activities["iati_identifier"], batch.activities["activity_seq"], labels,
                                     strict=True):
        if identifier in first_seen or identifier in in_batch:
            duplicates.add(seq)
        else:
            in_batch[identifier] = file
    return duplicates, in_batch


def _transform(batch: IatiBatch, label: str, snapshot: date, rates: FxRates,
               first_seen: dict[str, str]) -> TransformedBatch:
    """``batch`` typed, converted and validated, its activities rejected where ``first_seen`` (or an
    earlier activity of the batch) took their identifier; the identifiers it reads are added to
    ``first_seen``. The first activity read with an identifier takes it, published or rejected: so
    what is published does not depend on where batches, ranges or files begin and end."""
    duplicates, in_batch = _duplicates(batch, label, first_seen)
    result = transform_batch(batch, label, snapshot, rates, duplicates, ChainMap(in_batch, first_seen))
    _register(batch.activities["iati_identifier"], batch.labels or itertools.repeat(label), first_seen)
    return result


def _register(identifiers, files, first_seen: dict[str, str]) -> None:
    """Each identifier read, with the file of its first activity, added to ``first_seen``."""
    for identifier, file in zip(identifiers, files, strict=False):  # ``files`` may repeat one label
        first_seen.setdefault(identifier, file)


# A file of PARALLEL_MIN_BYTES or more is cut into ranges of whole activities of about
# TRANSFORM_RANGE_BYTES; worker processes (one per core but one) and this process parse *and*
# transform the ranges, and this process writes their tables in file order.
# A range is transformed in one batch, whatever batch_size says: validation has a fixed cost per
# batch, so fewer, larger batches cost less.
TRANSFORM_RANGE_BYTES = 12 << 20
_WHOLE_RANGE = 1 << 62  # a batch size no range reaches: a range is one batch


@dataclass
class _RangeResult:
    """A range, read in one batch and transformed by a worker that knew only the range's own activities."""

    result: TransformedBatch
    identifiers: list[str]  # of every activity read (published or not), in order
    activities_seen: int


_worker_inputs: tuple[date, FxRates] | None = None


def _start_worker(snapshot: date, rates: FxRates) -> None:
    global _worker_inputs
    _worker_inputs = (snapshot, rates)


def _transform_range(path: str, label: str, prologue: bytes, part,
                     inputs: tuple[date, FxRates] | None = None) -> _RangeResult:
    """One range of a large file read and transformed: in a worker (``inputs`` from its start) or here."""
    snapshot, rates = inputs or _worker_inputs
    [batch] = parse_range(path, label, prologue, part, _WHOLE_RANGE)
    return _RangeResult(_transform(batch, label, snapshot, rates, {}), batch.activities["iati_identifier"],
                        batch.activities_seen)


def _concat(results: list[TransformedBatch]) -> TransformedBatch:
    if len(results) == 1:
        return results[0]
    return TransformedBatch(tables={t: pl.concat([r.tables[t] for r in results]) for t in TABLES},
                            rejects=pl.concat([r.rejects for r in results]))


def _transformed_ranges(path: Path, label: str, plan, snapshot: date, rates: FxRates, first_seen: dict[str, str], *,
                        workers: int, ahead: int) -> Iterator[tuple[int, TransformedBatch]]:
    """(activities read, their tables) of each range of a large file, in file order, as
    :func:`_transform` of its batches one after the other gives them: a worker's result is taken
    where none of the range's identifiers was read before it (it could not know them), else
    the range is read and transformed again here. ``first_seen`` is kept up to date."""
    rates.ecb  # noqa: B018 - read once here and sent to the workers, not read again by each
    try:  # this process computes ranges too (and writes): one worker fewer than cores
        pool = start_pool(max(1, workers - 1), _start_worker, (snapshot, rates))
    except OSError:  # no processes here (a sandbox without shared memory): every range is read here
        pool = None
    with pool or contextlib.nullcontext(), \
            contextlib.closing(ordered_ranges(
                pool, _transform_range, path, label, plan, ahead=ahead,
                local=lambda *task: _transform_range(*task, inputs=(snapshot, rates)))) as ranges:
        for part, done in ranges:
            if first_seen.keys().isdisjoint(done.identifiers):
                _register(done.identifiers, itertools.repeat(label), first_seen)
                yield done.activities_seen, done.result
            else:
                [batch] = parse_range(str(path), label, plan[0], part, _WHOLE_RANGE)
                yield batch.activities_seen, _transform(batch, label, snapshot, rates, first_seen)


def unit_stands(unit_first_seen: Mapping[str, str], first_seen: dict[str, str]) -> bool:
    """Whether a unit of files built apart (from an empty ``first_seen``: ``unit_first_seen`` is what
    it read) is what :func:`build_iati_tables` would have built after the identifiers of
    ``first_seen``: none of its identifiers was read before it. If so, its identifiers are added to
    ``first_seen``; if not, the unit must be built again after them."""
    if not first_seen.keys().isdisjoint(unit_first_seen):
        return False
    first_seen.update(unit_first_seen)
    return True


def plan_units(files: list[tuple[Path, str]], unit_bytes: int) -> list[list[tuple[Path, str]]]:
    """``files`` in consecutive groups (units) of about ``unit_bytes`` each, in order: a group is
    closed once it holds ``unit_bytes`` or more, so a file larger than that ends a unit (often
    alone). The units of a snapshot can be built apart, by different processes or machines, and
    collected in order (see :func:`build_iati_tables`' ``first_seen``)."""
    units: list[list[tuple[Path, str]]] = []
    current: list[tuple[Path, str]] = []
    size = 0
    for path, label in files:
        current.append((path, label))
        size += Path(path).stat().st_size
        if size >= unit_bytes:
            units.append(current)
            current, size = [], 0
    if current:
        units.append(current)
    return units


def build_iati_tables(files: list[tuple[Path, str]], snapshot: date, rates: FxRates,
                      writers: dict[str, PartWriter], reject_writer: PartWriter, *,
                      batch_size: int = DEFAULT_BATCH_SIZE, progress=None, workers: int | None = None,
                      first_seen: dict[str, str] | None = None, part_prefix: str = "") -> IatiBuild:
    """Read ``files`` (path, label) into ``writers`` (one per table) and ``reject_writer``;
    ``progress(files done, files, label)`` is told after each file.

    A file read whole in one batch (fewer activities than ``batch_size``, parsed without error) is
    merged with the small files after it into one batch of about ``batch_size`` activities before
    it is typed, validated and written: a registry of thousands of small files costs one
    validation per batch, not one per file. A larger file is written batch by batch, so that it
    can be quarantined whole (its parts discarded) when it turns out broken. Files keep their order:
    of two activities with one identifier, the one read first wins.

    With ``workers`` (default: one per core) of 2 or more, small files are parsed ahead in worker
    processes, and a file of ``PARALLEL_MIN_BYTES`` or more is cut into ranges of whole activities
    that the workers and this process parse *and* transform (each range in one batch); this process
    writes them in file order, and transforms a range again where an activity of it repeats an
    identifier read before it (a worker cannot know those).

    ``first_seen``: the identifiers read before ``files`` (published or rejected) and the file of
    each, in reading order; the build adds those it reads. A file quarantined whole gives its
    identifiers back. So the files of a snapshot can be built in units apart (each from an empty
    ``first_seen``) and collected in order: a unit that reads none of the identifiers read before it
    is what it would have been built after them; another is built again. ``part_prefix`` starts
    every part name (the units' parts are written into one partition).
    """
    build = IatiBuild()
    first_seen = {} if first_seen is None else first_seen
    pending: list[tuple[str, IatiBatch]] = []
    merged_parts = 0

    def write(result: TransformedBatch, part: str) -> TransformedBatch:
        for table, frame in result.tables.items():
            writers[table].write(frame, part)
        reject_writer.write(result.rejects, part)
        return result

    def transform_and_write(batch: IatiBatch, label: str, part: str) -> TransformedBatch:
        return write(_transform(batch, label, snapshot, rates, first_seen), part)

    def count(result, rows: dict, rejected: dict, gated_counts: dict, warning_counts: dict, samples: list) -> None:
        for table, frame in result.tables.items():
            rows[table] += frame.height
        errors, warnings = count_rejects(result.rejects)
        gated = gate_counts(result.rejects)
        for table in TABLES:
            rejected[table] += errors.get(table, 0)
            gated_counts[table] += gated.get(table, 0)
            warning_counts[table] += warnings.get(table, 0)
        if result.rejects.height and len(samples) < 3:
            samples.append(result.rejects.head(SAMPLE_SIZE * 4))

    def flush() -> None:
        nonlocal merged_parts
        if not pending:
            return
        result = transform_and_write(IatiBatch.merge(pending), pending[0][0],
                                     f"{part_prefix}part-m{merged_parts:05d}-00000")
        samples: list[pl.DataFrame] = []
        count(result, build.rows, build.rejected, build.gated, build.warning_counts, samples)
        for sample in samples:
            build._keep_sample(sample)
        merged_parts += 1
        pending.clear()

    def write_ranges(path: Path, label: str, plan, prefix: str, outcome: FileOutcome, *accounts) -> None:
        """A large file's ranges, transformed by the workers and this process, written in parts of
        ``batch_size`` activities or more."""
        held: list[TransformedBatch] = []
        held_seen = part = 0

        def write_held() -> None:
            nonlocal held_seen, part
            if held:
                count(write(_concat(held), f"{prefix}{part:05d}"), *accounts)
                held.clear()
                held_seen, part = 0, part + 1

        try:
            for seen, result in _transformed_ranges(path, label, plan, snapshot, rates, first_seen,
                                                    workers=parsed.workers, ahead=parsed.workers - 1):
                outcome.activities_seen += seen
                held.append(result)
                held_seen += seen
                if held_seen >= batch_size:
                    write_held()
        finally:
            write_held()  # also before a broken file's parts are discarded: they are counted then

    with FileBatches(files, batch_size=batch_size, workers=workers) as parsed:  # small files parsed ahead, on every core
        for file_index, (path, label) in enumerate(files):
            if progress is not None and file_index:
                progress(file_index, len(files), files[file_index - 1][1])
            outcome = FileOutcome(file=label)
            build.files.append(outcome)
            prefix = f"{part_prefix}part-{file_index:05d}-"
            file_rows = dict.fromkeys(TABLES, 0)
            file_rejected = dict.fromkeys(TABLES, 0)
            file_gated = dict.fromkeys(TABLES, 0)
            file_warnings = dict.fromkeys(TABLES, 0)
            file_samples: list[pl.DataFrame] = []
            # identifiers are registered in reading order (dicts keep it): the file's own come after this many
            published_before: int | None = None
            try:
                plan = cut_file(path, workers=parsed.workers, min_bytes=parsed.min_bytes,
                                range_bytes=TRANSFORM_RANGE_BYTES)
                if plan is not None:
                    flush()  # the small files before this one are written first: they were read first
                    published_before = len(first_seen)
                    write_ranges(path, label, plan, prefix, outcome, file_rows, file_rejected, file_gated,
                                 file_warnings, file_samples)
                    batches = iter(())
                else:
                    batches = parsed.of(file_index)
                for batch_index, batch in enumerate(batches):
                    outcome.activities_seen += batch.activities_seen
                    if batch_index == 0 and batch.activities_seen < batch_size:
                        # the reader yields a batch smaller than batch_size only at the end of a file
                        # it read without error: the whole file, to merge with the next small files
                        pending.append((label, batch))
                        if sum(len(b) for _, b in pending) >= batch_size:
                            flush()
                        continue
                    if batch_index == 0:
                        flush()  # the small files before this one are written first: they were read first
                        published_before = len(first_seen)
                    result = transform_and_write(batch, label, f"{prefix}{batch_index:05d}")
                    count(result, file_rows, file_rejected, file_gated, file_warnings, file_samples)
            except IatiFileError as exc:
                outcome.quarantined, outcome.reason, outcome.line = True, exc.reason, exc.line
                for table in TABLES:
                    discarded = writers[table].discard(prefix)
                    if table != "iati_activities":
                        build.quarantined_rows[table] += discarded
                reject_writer.discard(prefix)
                # every activity of the file is lost with it; a file that failed before its first
                # activity still counts as one lost record
                build.quarantined_rows["iati_activities"] += max(outcome.activities_seen, 1)
                if published_before is not None:
                    for identifier in list(itertools.islice(first_seen, published_before, None)):
                        del first_seen[identifier]
                quarantine = rejects_frame([{
                    "table": "iati_activities", "file": label, "line": exc.line, "record_key": None, "column": None,
                    "check": "readable_file", "value": None,
                    "reason": f"file quarantined: {exc.reason}", "severity": "error",
                }])
                reject_writer.write(quarantine, f"{prefix}quarantined")
                build._keep_sample(quarantine)
                continue
            for table in TABLES:
                build.rows[table] += file_rows[table]
                build.rejected[table] += file_rejected[table]
                build.gated[table] += file_gated[table]
                build.warning_counts[table] += file_warnings[table]
            for sample in file_samples:
                build._keep_sample(sample)
    flush()
    if progress is not None and files:
        progress(len(files), len(files), files[-1][1])
    return build
