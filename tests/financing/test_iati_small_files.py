"""Many small IATI files are merged into a few batches before they are typed, validated and written;
what is published and rejected, file by file, is what reading them one by one gives. Every
expected count comes from the files themselves (ElementTree), not from the project's reader."""

from xml.etree import ElementTree

import polars as pl
import pytest

from assets.financing.fx import load_rates
from assets.financing.iati import build_iati_tables
from assets.financing.iati_transform import TABLES
from tests.conftest import iati_xml
from tests.financing.test_iati_realdata import SNAPSHOT, MemoryWriter


def activity(identifier: str, *, date: str = "2025-03-01", currency: str = "USD") -> str:
    return f"""<iati-activity default-currency="{currency}">
  <iati-identifier>{identifier}</iati-identifier>
  <reporting-org ref="XM-DAC-41122" type="40"><narrative>UNICEF</narrative></reporting-org>
  <participating-org role="1" type="70"><narrative>Acme Ltd</narrative></participating-org>
  <transaction><transaction-type code="11"/><transaction-date iso-date="{date}"/><value>10</value></transaction>
  <transaction><transaction-type code="3"/><transaction-date iso-date="2025-04-01"/><value>5</value></transaction>
</iati-activity>"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("registry")
    paths = []
    for n in range(12):
        body = activity(f"XM-A-{n}-1") + activity(f"XM-A-{n}-2")
        if n == 7:
            body += activity("XM-A-2-1")  # a duplicate of an activity of an earlier file
        if n == 9:
            body += activity("XM-BAD-DATE", date="2025-13-45")  # a transaction date that does not parse
        path = folder / f"publisher-{n:02d}.xml"
        text = iati_xml(body)
        path.write_text(text[: len(text) // 2] if n == 10 else text, encoding="utf-8")  # n 10: cut mid-file
        paths.append(path)
    return paths


def build(paths, batch_size):
    writers = {t: MemoryWriter() for t in TABLES}
    rejects = MemoryWriter()
    result = build_iati_tables([(p, p.name) for p in paths], SNAPSHOT, load_rates(), writers, rejects,
                               batch_size=batch_size)
    return result, writers, rejects


def held(path) -> dict[str, int]:
    """Activities and transactions a file holds, by the standard library (None where it is broken)."""
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError:
        return None
    return {"iati_activities": len(root.findall("iati-activity")),
            "iati_transactions": len(root.findall("iati-activity/transaction"))}


def test_small_files_are_written_in_a_few_merged_parts(files):
    _, writers, _ = build(files, batch_size=10)
    parts = sorted(writers["iati_activities"].parts)
    assert all(p.startswith("part-m") for p in parts)
    assert len(parts) <= 26 // 10 + 1 < len(files)


def test_every_record_of_every_small_file_is_published_or_rejected_under_its_own_file(files):
    result, writers, rejects = build(files, batch_size=10)
    published = {t: w.frame() for t, w in writers.items()}
    errors = rejects.frame().filter(pl.col("severity") == "error")
    for path in files:
        expected = held(path)
        if expected is None:  # the cut file is quarantined whole, by name
            [row] = errors.filter((pl.col("file") == path.name) & (pl.col("check") == "readable_file")).to_dicts()
            assert row["reason"].startswith("file quarantined")
            assert published["iati_activities"].filter(pl.col("source_file") == path.name).height == 0
            continue
        for table, count in expected.items():
            rows = published[table].filter(pl.col("source_file") == path.name).height
            rejected = errors.filter((pl.col("table") == table) & (pl.col("file") == path.name)).select(
                pl.struct("line", "record_key").n_unique()).item()
            assert rows + rejected == count, (path.name, table, rows, rejected)
    duplicate = errors.filter(pl.col("check") == "field_uniqueness").to_dicts()
    assert [(d["file"], d["record_key"]) for d in duplicate] == [("publisher-07.xml", "XM-A-2-1")]
    assert "first read from publisher-02.xml" in duplicate[0]["reason"]
    bad = errors.filter(pl.col("record_key").str.starts_with("XM-BAD-DATE") & (pl.col("table") == "iati_transactions"))
    assert set(bad["file"]) == {"publisher-09.xml"} and bad.height >= 1


def test_merging_publishes_and_rejects_exactly_what_reading_file_by_file_does(files):
    merged_result, merged, merged_rejects = build(files, batch_size=10)
    single_result, single, single_rejects = build(files, batch_size=1)  # every file streamed on its own
    assert not any(p.startswith("part-m") for p in single["iati_activities"].parts)
    for table in TABLES:
        a, b = merged[table].frame(), single[table].frame()
        keys = ["source_file", "iati_identifier"] + [c for c in ("transaction_index", "org_index", "budget_index")
                                                     if c in a.columns]
        assert a.sort(keys).equals(b.sort(keys)), table
        assert merged_result.rows[table] == single_result.rows[table]
        assert merged_result.rejected_records(table) == single_result.rejected_records(table)
    columns = ["table", "file", "line", "record_key", "column", "check", "severity"]
    assert merged_rejects.frame().select(columns).sort(columns).equals(single_rejects.frame().select(columns).sort(columns))


def test_small_files_parsed_ahead_in_processes_publish_and_reject_what_one_process_does(files, monkeypatch):
    """With the small files parsed ahead by worker processes (forced here: a few KB are enough, two
    files per task), the tables and rejects are those of every file read in this process."""
    import assets.financing.iati_reader as reader

    monkeypatch.setattr(reader, "PREFETCH_MIN_BYTES", 0)
    monkeypatch.setattr(reader, "TASK_BYTES", 2 * max(p.stat().st_size for p in files))
    monkeypatch.setattr(reader, "AHEAD_BYTES", 5 * max(p.stat().st_size for p in files))
    monkeypatch.setattr(reader.os, "cpu_count", lambda: 2)
    spawned = []
    real_pool = reader.ProcessPoolExecutor
    monkeypatch.setattr(reader, "ProcessPoolExecutor", lambda *a, **k: spawned.append(1) or real_pool(*a, **k))
    ahead_result, ahead, ahead_rejects = build(files, batch_size=10)
    assert spawned == [1]
    monkeypatch.setattr(reader.os, "cpu_count", lambda: 1)  # one core: nothing parsed ahead
    here_result, here, here_rejects = build(files, batch_size=10)
    assert spawned == [1]
    for table in TABLES:
        assert list(ahead[table].parts) == list(here[table].parts), table
        assert ahead[table].frame().equals(here[table].frame()), table
        assert ahead_result.rows[table] == here_result.rows[table]
    assert ahead_rejects.frame().equals(here_rejects.frame())
    assert [(f.file, f.quarantined, f.line, f.activities_seen) for f in ahead_result.files] == \
        [(f.file, f.quarantined, f.line, f.activities_seen) for f in here_result.files]
    assert [f.file for f in ahead_result.files if f.quarantined] == ["publisher-10.xml"]
