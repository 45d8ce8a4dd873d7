"""Tabular sources are read, validated and written in batches, so memory follows the batch and not
the file. Batching must change nothing but memory: every test here reads generated files at batch
sizes small enough to cut them into many batches, and compares with what the standard library (csv)
reads, or with the same file read as one batch."""

import codecs
import csv
import io
import json
import random
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import assets.io
import assets.partnerships.sdg_partnerships as sdg
from assets.io import ENCODING_FALLBACK, SourceFileError, read_csv_batches
from assets.partnerships.sdg_partnerships import partnership_batches, read_partnerships
from assets.partnerships.ungc_participants import participant_batches, read_participants
from assets.wiring.tables import RunTotals, validate_and_publish_batches
from pipelines.resources import QualityResource
from pipelines.storage.store import DataStore
from tests.conftest import PROJECT

SNAPSHOT = date(2026, 11, 25)
PARTICIPANTS = ["Participant", "Type", "Sector", "Country", "Joined On", "Status", "Ownership", "Employees",
                "Reporting Due On", "Delisted On", "Delisting Reason"]
NOTES = ["plain", 'said ""hello""', "two\nlines", "three\r\nlines\nhere", "", "a, b and c", "Zürich", "   "]


def messy_csv(path: Path, records: int, seed: int, cp1252_every: int = 97) -> list[list[str]]:
    """A CSV with a UTF-8 byte-order mark, CRLF line ends, quoted newlines, doubled quotes, commas
    inside quotes, blank values, some lines in Windows-1252 and a last record without a newline.
    Returns the records as the standard library reads them back, with the encoding of each."""
    rng = random.Random(seed)
    rows = [[str(i), f"Name {i} {rng.choice(['Café', 'Ørsted', 'Lodz'])}", rng.choice(NOTES)] for i in range(records)]
    out = io.BytesIO()
    out.write(codecs.BOM_UTF8)
    for number, row in enumerate([["id", "name", "note"], *rows]):
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerow(row)
        line = text.getvalue()
        if number == len(rows):
            line = line.rstrip("\r\n")  # a complete last record without its newline
        single_line = "\n" not in line.rstrip("\r\n")
        # an ASCII line is the same bytes in both encodings: only the others are told apart
        windows = number > 0 and number % cp1252_every == 0 and single_line and not line.isascii()
        out.write(line.encode("cp1252" if windows else "utf-8"))
        row.append("cp1252" if windows else "utf-8")
    path.write_bytes(out.getvalue())
    return rows


@pytest.mark.parametrize("batch_bytes", [64, 333, 4096, 1 << 20])
def test_csv_batches_read_what_the_standard_library_reads(tmp_path, batch_bytes):
    path = tmp_path / "messy.csv"
    expected = messy_csv(path, 1500, seed=batch_bytes)
    got, flags, starts = [], [], []
    for frame, first_row in read_csv_batches(path, "messy.csv", batch_bytes=batch_bytes):
        assert frame.columns[:3] == ["id", "name", "note"]
        starts.append((first_row, frame.height))
        got.extend(frame.select("id", "name", "note").rows())
        flags.extend(frame[ENCODING_FALLBACK].to_list() if ENCODING_FALLBACK in frame.columns else [False] * frame.height)
    assert got == [tuple(None if v == "" else v for v in row[:3]) for row in expected]
    assert flags == [row[3] == "cp1252" for row in expected]
    # rows are numbered on across batches: the first record is row 2
    assert starts[0][0] == 2 and all(a + n == b for (a, n), (b, _) in zip(starts, starts[1:], strict=False))
    if batch_bytes < 4096:
        assert len(starts) > 10, "the file was not cut into batches"


def test_a_file_cut_in_its_last_batch_is_refused_after_its_first_batches_were_read(tmp_path):
    path = tmp_path / "cut.csv"
    rows = [f"{i},Name {i},note\n" for i in range(400)]
    path.write_text("id,name,note\n" + "".join(rows) + '400,"Name 4')
    batches = read_csv_batches(path, "cut.csv", batch_bytes=256)
    first, _ = next(batches)
    assert first.height > 0
    with pytest.raises(SourceFileError, match=r"cut.csv, line 402: the file ends in the middle of a record") as info:
        list(batches)
    with path.open(newline="") as fh:
        assert info.value.line == sum(1 for _ in csv.reader(fh))  # the cut record's own line (header is line 1)


def test_a_header_without_records_gives_one_empty_batch_with_the_columns(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("id,name\n")
    [(frame, first_row)] = list(read_csv_batches(path, "empty.csv", batch_bytes=4))
    assert frame.columns == ["id", "name"] and frame.height == 0 and first_row == 2


def participants_file(path: Path, records: int) -> list[list[str]]:
    rng = random.Random(7)
    rows = []
    for i in range(records):
        # every 50th participant repeats one 40 rows earlier, so repeats fall in other batches
        name = f"Org {i - 40} Ltd" if i % 50 == 49 else f"Org {i} Ltd"
        rows.append([name, "Company", "Banks", rng.choice(["France", "Brazil", "Narnia"]), "2019-05-01",
                     rng.choice(["Active", "Delisted", "Sleeping"]), "", rng.choice(["12", "1,200", "many"]), "", "", ""])
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(PARTICIPANTS)
        writer.writerows(rows)
    return rows


def test_participants_in_batches_are_the_participants_read_whole(tmp_path, monkeypatch):
    path = tmp_path / "participants.csv"
    rows = participants_file(path, 3000)
    whole, whole_rejects = read_participants([(path, "p.csv")], "export", SNAPSHOT)
    monkeypatch.setattr(assets.io, "CSV_BATCH_BYTES", 2048)
    batches = list(participant_batches([(path, "p.csv")], "export", SNAPSHOT))
    assert len(batches) > 20
    frame = pl.concat([f for f, _ in batches])
    rejects = pl.concat([r for _, r in batches])
    assert frame.equals(whole)
    assert rejects.sort("line", "check").equals(whole_rejects.sort("line", "check"))
    # computed from the generated rows: a repeat (same name and country) is rejected on its own line,
    # whichever batch holds it
    repeats = sorted(2 + i for i, row in enumerate(rows) if (row[0], row[3]) in {(r[0], r[3]) for r in rows[:i]})
    assert len(repeats) > 10
    assert sorted(rejects.filter(pl.col("check") == "field_uniqueness")["line"].to_list()) == repeats
    errors = rejects.filter(pl.col("severity") == "error")["line"].unique()
    assert frame.height + errors.len() == len(rows)  # published + rejected == read


def partnerships_rows(records: int) -> list[dict]:
    rows = []
    for i in range(records):
        action = i - 30 if i % 40 == 39 else i  # repeated action ids, 30 rows apart
        partners = json.dumps([f"Partner {i}", f"Partner {i + 1}"]) if i % 3 else f"Partner {i}; Partner {i + 2}"
        rows.append({"id": f"#SDGAction{action}" if i % 101 else "no id", "title": f"Title {i}",
                     "lead_entity": f"Lead {i % 17}", "partners": partners, "sdgs": "14,13", "targets": "14.1;99.9"})
    return rows


def test_partnerships_in_batches_are_the_partnerships_read_whole(tmp_path, monkeypatch):
    rows = partnerships_rows(2000)
    path = tmp_path / "actions.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    as_json = tmp_path / "actions.json"
    as_json.write_text(json.dumps(rows))
    for source in (path, as_json):
        whole = read_partnerships([(source, source.name)], None, SNAPSHOT)
        monkeypatch.setattr(assets.io, "CSV_BATCH_BYTES", 4096)
        monkeypatch.setattr(sdg, "ROWS_PER_BATCH", 77)
        batches = list(partnership_batches([(source, source.name)], None, SNAPSHOT))
        monkeypatch.undo()
        assert len(batches) > 10
        for table, frame in zip(sdg.TABLES, whole[:3], strict=True):
            # the same rows; their order differs (a batch lists its leads, then its partners)
            batched = pl.concat([b[0][table] for b in batches], how="diagonal_relaxed")
            assert batched.sort(pl.all()).equals(frame.sort(pl.all())), table
        rejects = pl.concat([b[1] for b in batches])
        assert rejects.sort("table", "line", "check", "record_key").equals(whole[3].sort("table", "line", "check", "record_key"))
        repeats = sorted(2 + i for i, row in enumerate(rows)
                         if row["id"] != "no id" and row["id"] in {r["id"] for r in rows[:i]})
        dup_lines = rejects.filter(pl.col("check") == "field_uniqueness")["line"].to_list()
        assert sorted(dup_lines) == repeats, source.name
        # a published action's partners are numbered 0 (its lead) to n - 1, whatever rows repeated its id
        numbering = whole[1].group_by("action_id").agg(pl.col("partner_index").sort(), pl.len())
        assert all(index == list(range(n)) for index, n in numbering.select("partner_index", "len").iter_rows())
        no_id = sum(1 for row in rows if row["id"] == "no id")
        assert whole[0].height == len(rows) - len(repeats) - no_id  # published + rejected == read


def test_a_source_written_in_batches_publishes_all_or_nothing(tmp_path, monkeypatch):
    """The batches of one date are written as part files and published together; a file cut in its
    last batch leaves the partition published before as it was, and no staging behind."""
    path = tmp_path / "participants.csv"
    rows = participants_file(path, 2000)
    monkeypatch.setattr(assets.io, "CSV_BATCH_BYTES", 4096)
    store = DataStore(tmp_path / "data")

    def publish(files):
        return validate_and_publish_batches(participant_batches(files, "export", SNAPSHOT), ["gc_participants"],
                                            store=store, quality=QualityResource(), source="ungc_participants",
                                            snapshot_date=SNAPSHOT.isoformat(), totals=RunTotals(tables=["gc_participants"]))

    counts = publish([(path, "p.csv")])
    partition = store.partition_dir("gc_participants", SNAPSHOT.isoformat())
    parts = sorted(p.name for p in partition.glob("*.parquet"))
    assert len(parts) > 10
    published = store.read_partition("gc_participants", SNAPSHOT.isoformat())
    whole, whole_rejects = read_participants([(path, "p.csv")], "export", SNAPSHOT)
    assert counts == {"gc_participants": whole.height} and published.height == whole.height
    assert published.sort("participant_id")["participant_id"].equals(whole.sort("participant_id")["participant_id"])
    assert store.read_rejects([SNAPSHOT.isoformat()]).height == whole_rejects.height
    before = {p.name: p.read_bytes() for p in partition.glob("*.parquet")}

    cut = tmp_path / "cut.csv"
    cut.write_bytes(path.read_bytes() + b'"Cut Org,Company')
    with pytest.raises(SourceFileError, match="cut.csv"):
        publish([(cut, "cut.csv")])
    assert {p.name: p.read_bytes() for p in partition.glob("*.parquet")} == before
    assert not [p for p in store.staging.iterdir() if not p.name.startswith(".")] if store.staging.exists() else True
    assert len(rows) == 2000


def test_memory_follows_the_batch_not_the_file(tmp_path):
    """The source path (batches read, validated, written, published) of a file six times larger
    needs about the same peak memory. Each size runs in a fresh process with 0.5 MB batches; the
    growth allowed (twice the extra input) is a small fraction of what reading whole costs (about
    twelve times the input, measured by ``benchmarks/reader_memory.py``)."""
    sys.path.insert(0, str(PROJECT / "benchmarks"))
    from reader_memory import write_participants, write_partnerships

    script = PROJECT / "benchmarks" / "reader_memory.py"
    peaks = {}
    for mode, write in (("participants", write_participants), ("partnerships", write_partnerships)):
        for mb in (3, 18):
            path = tmp_path / f"{mode}{mb}.csv"
            write(path, mb)
            out = subprocess.run([sys.executable, str(script), "--child", mode, str(path), "--batch-mb", "0.5"],
                                 check=True, capture_output=True, text=True, cwd=PROJECT)
            peaks[mode, mb] = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"]
        growth = peaks[mode, 18] - peaks[mode, 3]
        assert growth < 2 * 15, f"{mode}: peak memory grew {growth:.0f} MB for 15 MB more input ({peaks})"


def test_a_header_with_a_quoted_comma_counts_its_fields_as_csv_does(tmp_path):
    """The cut-record check compares the last record with the header's fields, counted as CSV (a
    quoted comma is inside one field): a complete last line is read, a short one is refused."""
    header = '"name, in full",country\n'
    assert len(next(csv.reader(io.StringIO(header)))) == 2
    complete = tmp_path / "complete.csv"
    complete.write_text(header + "Acme,France\nBeta,Chile")
    frame = pl.concat([f for f, _ in read_csv_batches(complete, "complete.csv", batch_bytes=16)])
    assert frame.rows() == [("Acme", "France"), ("Beta", "Chile")]
    cut = tmp_path / "cut.csv"
    cut.write_text(header + "Acme,France\nBet")
    with pytest.raises(SourceFileError, match=r"cut.csv, line 3: .*1 of 2 fields"):
        list(read_csv_batches(cut, "cut.csv", batch_bytes=16))
