"""A large IATI file is cut into ranges that worker processes and the building process parse *and*
transform (type, convert, validate) on their own; the building process writes them in file order.
A worker cannot know the identifiers published before its range: where a range repeats one, the
range is transformed again with them. What is published and rejected must be what one process
reading the file gives; the duplicates expected are counted from the XML with ElementTree."""

import sys
from collections import Counter
from xml.etree import ElementTree

import polars as pl
import pytest

import assets.financing.iati as iati
import assets.financing.iati_reader as reader
from assets.financing.fx import load_rates
from assets.financing.iati import build_iati_tables
from assets.financing.iati_transform import TABLES
from tests.conftest import PROJECT, iati_xml
from tests.financing.test_iati_realdata import SNAPSHOT, MemoryWriter

sys.path.insert(0, str(PROJECT / "benchmarks"))
from iati_parse import sample_activities, write_activities  # noqa: E402

REJECT_COLUMNS = ["table", "file", "line", "record_key", "column", "check", "value", "reason", "severity"]


def activity_block(data: bytes, identifier: bytes) -> bytes:
    start = data.rindex(b"<iati-activity ", 0, data.index(b"<iati-identifier>" + identifier + b"<"))
    return data[start:data.index(b"</iati-activity>", start) + len(b"</iati-activity>")] + b"\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small file, then a file of about 600 KB with: an activity of the small file again (in its
    fifth range or so), an activity repeated right after itself (same range), an early activity
    repeated near the end (another range), and an activity of IATI 1.05 (refused while read)."""
    folder = tmp_path_factory.mktemp("ranges")
    large = folder / "large.xml"
    write_activities(large, 600 << 10, sample_activities(), 0)
    data = large.read_bytes()
    early = activity_block(data, _identifier(data, 0))
    middle_id = _identifier(data, len(data) // 2)
    middle = activity_block(data, middle_id)
    at = data.index(middle) + len(middle)
    data = data[:at] + middle + data[at:]  # the same activity twice in a row
    end = data.rindex(b"<iati-activity ")
    data = (data[:end] + early
            + b'<iati-activity iati-activities-version="1.05"><iati-identifier>OLD-1</iati-identifier></iati-activity>\n'
            + data[end:])
    large.write_bytes(data)
    taken = _identifier(data, int(len(data) * 0.4))
    small = folder / "small.xml"
    small.write_text(iati_xml(activity_block(data, taken).decode()), encoding="utf-8")
    return [small, large]


def _identifier(data: bytes, at: int) -> bytes:
    """The identifier of the first activity after ``at`` made from a sample activity that is
    published (the sample's activities numbered 0009x are the ones made to be rejected)."""
    while True:
        start = data.index(b"<iati-identifier>", at) + len(b"<iati-identifier>")
        identifier = data[start:data.index(b"<", start)]
        if b"-0009" not in identifier:
            return identifier
        at = start


def activities_held(paths) -> int:
    """Activities in the files, counted by the standard library's parser."""
    return sum(len(ElementTree.parse(path).getroot().findall("iati-activity")) for path in paths)


def accounted(result) -> int:
    return result.rows["iati_activities"] + result.rejected_records("iati_activities")


def build(paths, *, workers, batch_size=50):
    writers = {t: MemoryWriter() for t in TABLES}
    rejects = MemoryWriter()
    result = build_iati_tables([(p, p.name) for p in paths], SNAPSHOT, load_rates(), writers, rejects,
                               batch_size=batch_size, workers=workers)
    return result, writers, rejects


@pytest.fixture
def ranged(monkeypatch):
    """Every file cut into ranges of 64 KB; returns the futures the worker processes were given."""
    monkeypatch.setattr(reader, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(iati, "TRANSFORM_RANGE_BYTES", 64 << 10)
    futures = []
    real_pool = reader.ProcessPoolExecutor

    class Pool(real_pool):
        def submit(self, *args, **kwargs):
            futures.append(super().submit(*args, **kwargs))
            return futures[-1]

    monkeypatch.setattr(reader, "ProcessPoolExecutor", Pool)
    return futures


def test_ranges_transformed_apart_publish_and_reject_what_one_process_does(files, ranged):
    here_result, here, here_rejects = build(files, workers=1)
    assert not ranged  # one core: no process started, nothing cut
    ahead_result, ahead, ahead_rejects = build(files, workers=2)
    # the worker process computed ranges (the first is computed here while it starts)
    assert any(f.done() and not f.cancelled() and f.exception() is None for f in ranged)

    for table in TABLES:
        assert ahead[table].frame().equals(here[table].frame()), table
        assert ahead_result.rows[table] == here_result.rows[table] > 0
        assert ahead_result.rejected_records(table) == here_result.rejected_records(table)
        assert ahead_result.gated_records(table) == here_result.gated_records(table)
        assert ahead_result.warnings(table) == here_result.warnings(table)
    assert (ahead_rejects.frame().select(REJECT_COLUMNS).sort(REJECT_COLUMNS, nulls_last=True)
            .equals(here_rejects.frame().select(REJECT_COLUMNS).sort(REJECT_COLUMNS, nulls_last=True)))
    assert [(f.file, f.quarantined, f.activities_seen) for f in ahead_result.files] == \
        [(f.file, f.quarantined, f.activities_seen) for f in here_result.files]

    # independently: each identifier after its first occurrence (over both files, in order) is a duplicate
    identifiers = [a.findtext("iati-identifier").strip() for path in files
                   for a in ElementTree.parse(path).getroot().findall("iati-activity")
                   if a.get("iati-activities-version") != "1.05"]
    repeated = Counter(identifiers)
    expected = sorted((k, n - 1) for k, n in repeated.items() if n > 1)
    assert len(expected) == 3
    duplicates = ahead_rejects.frame().filter(pl.col("check") == "field_uniqueness")
    assert sorted(Counter(duplicates["record_key"]).items()) == expected
    published = ahead["iati_activities"].frame()["iati_identifier"]
    assert published.n_unique() == published.len()
    read = len(identifiers) + 1  # and the 1.05 activity
    assert ahead_result.rows["iati_activities"] + ahead_result.rejected_records("iati_activities") == read
    assert sum(f.activities_seen for f in ahead_result.files) == read


def test_the_large_file_is_written_in_parts_of_at_least_the_batch_size(files, ranged):
    result, writers, _ = build(files, workers=2, batch_size=120)
    large = [n for n in writers["iati_activities"].parts if n.startswith("part-00001-")]
    sizes = [writers["iati_activities"].parts[n].height for n in large]
    assert len(sizes) >= 2 and len(sizes) < len(ranged) + 1
    assert all(rows >= 100 for rows in sizes[:-1])  # 120 read, less what was rejected


def test_an_error_in_a_later_range_quarantines_the_file_as_one_process_does(files, ranged, tmp_path):
    data = files[1].read_bytes()
    at = data.index(b"<iati-activity ", int(len(data) * 0.8))
    broken = tmp_path / "broken.xml"
    broken.write_bytes(data[:at] + b"<iati-activity><unclosed></iati-activity>\n" + data[at:])
    paths = [files[0], broken]
    here_result, here, here_rejects = build(paths, workers=1)
    ahead_result, ahead, ahead_rejects = build(paths, workers=2)
    for result in (here_result, ahead_result):
        assert [(f.file, f.quarantined) for f in result.files] == [("small.xml", False), ("broken.xml", True)]
        assert result.files[1].line == data[:at].count(b"\n") + 1
    assert ahead_result.files[1].reason == here_result.files[1].reason
    for table in TABLES:  # only the small file is published
        assert ahead[table].frame().equals(here[table].frame()), table
        assert set(ahead[table].frame()["source_file"]) <= {"small.xml"}
    assert not [n for n in ahead["iati_activities"].parts if n.startswith("part-00001-")]
    quarantine = ahead_rejects.frame().filter(pl.col("check") == "readable_file")
    assert quarantine["file"].to_list() == ["broken.xml"]


def test_where_no_worker_can_start_this_process_reads_every_range(files, monkeypatch):
    """A sandbox without shared memory or process limits: submitting to the pool fails. The ranges
    are all read here, with the same result as one process reading the file."""
    monkeypatch.setattr(reader, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(iati, "TRANSFORM_RANGE_BYTES", 64 << 10)
    refused = []

    class NoProcesses(reader.ProcessPoolExecutor):
        def submit(self, *args, **kwargs):
            refused.append(1)
            raise OSError("cannot allocate shared memory")

    here_result, here, here_rejects = build(files, workers=1)
    monkeypatch.setattr(reader, "ProcessPoolExecutor", NoProcesses)
    result, writers, rejects = build(files, workers=2)
    assert refused  # the pool was tried
    assert accounted(result) == activities_held(files) > 100
    for table in TABLES:
        assert writers[table].frame().equals(here[table].frame()), table
        assert result.rejected_records(table) == here_result.rejected_records(table)
    assert rejects.frame().height == here_rejects.frame().height


def _dies_in_a_worker(path, label, prologue, part, inputs=None):
    """The range transform, except that a worker process running it dies (killed, out of memory)."""
    import multiprocessing
    import os

    if multiprocessing.parent_process() is not None:
        os._exit(9)
    return _real_transform_range(path, label, prologue, part, inputs)


_real_transform_range = iati._transform_range


def test_a_worker_that_dies_leaves_its_ranges_to_this_process(files, monkeypatch):
    monkeypatch.setattr(reader, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(iati, "TRANSFORM_RANGE_BYTES", 64 << 10)
    here_result, here, here_rejects = build(files, workers=1)
    monkeypatch.setattr(iati, "_transform_range", _dies_in_a_worker)
    result, writers, rejects = build(files, workers=2)
    assert accounted(result) == activities_held(files) > 100
    for table in TABLES:
        assert writers[table].frame().equals(here[table].frame()), table
        assert result.rejected_records(table) == here_result.rejected_records(table)
    assert (rejects.frame().select(REJECT_COLUMNS).sort(REJECT_COLUMNS, nulls_last=True)
            .equals(here_rejects.frame().select(REJECT_COLUMNS).sort(REJECT_COLUMNS, nulls_last=True)))


def test_where_no_process_pool_can_be_made_this_process_reads_every_range(files, monkeypatch):
    """Without shared memory, making the pool itself fails: the ranges are all read here."""
    monkeypatch.setattr(reader, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(iati, "TRANSFORM_RANGE_BYTES", 64 << 10)

    class NoPool:
        def __init__(self, *args, **kwargs):
            raise OSError("[Errno 38] Function not implemented: sem_open")

    here_result, here, _ = build(files, workers=1)
    monkeypatch.setattr(reader, "ProcessPoolExecutor", NoPool)
    monkeypatch.setattr(reader, "PREFETCH_MIN_BYTES", 1 << 40)  # the small files' prefetch is not what is tested
    result, writers, _ = build(files, workers=2)
    assert accounted(result) == activities_held(files) > 100
    for table in TABLES:
        assert writers[table].frame().equals(here[table].frame()), table
        assert result.rows[table] == here_result.rows[table]


def _build_in_a_daemon(paths, results) -> None:
    """In a daemonic process (as a Celery worker's pool process runs a task): ranges and small files'
    prefetch would both start worker processes."""
    reader.PARALLEL_MIN_BYTES, reader.PREFETCH_MIN_BYTES = 0, 0
    iati.TRANSFORM_RANGE_BYTES = 64 << 10
    try:
        result, writers, _ = build(paths, workers=2)
        results.put((accounted(result), {t: writers[t].frame().hash_rows().sort().to_list() for t in TABLES}))
    except BaseException as exc:  # noqa: BLE001 - told to the test
        results.put(repr(exc))


def test_a_daemonic_process_reads_everything_itself(files):
    """A daemonic process may not start processes (multiprocessing refuses): the build reads every
    file and range in the process, and publishes what one process reading them publishes."""
    import multiprocessing

    _, here, _ = build(files, workers=1)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_build_in_a_daemon, args=(files, results), daemon=True)
    child.start()
    got = results.get(timeout=120)
    child.join(60)
    assert not isinstance(got, str), got
    held, frames = got
    assert held == activities_held(files) > 100
    assert frames == {t: here[t].frame().hash_rows().sort().to_list() for t in TABLES}
