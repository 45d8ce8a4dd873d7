"""A large IATI file is parsed in byte ranges by several processes. The ranges must give exactly the
rows, order, activity positions, line numbers and rejects of one sequential read, also where the file
has an activity commented out or inside CDATA (no range may start there), and an error in a later
range must name the line a sequential read names."""

import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from assets.financing.iati_reader import IatiFileError, iter_iati_batches, iter_iati_batches_parallel
from tests.conftest import PROJECT

sys.path.insert(0, str(PROJECT / "benchmarks"))
from iati_parse import sample_activities, write_activities  # noqa: E402

TABLES = ("activities", "transactions", "participating_orgs", "budgets", "classifications")


def columns(batches) -> tuple[dict, list, int]:
    merged = {t: {} for t in TABLES}
    rejects, seen = [], 0
    for batch in batches:
        for table in TABLES:
            for column, values in getattr(batch, table).items():
                merged[table].setdefault(column, []).extend(values)
        rejects.extend(batch.rejects)
        seen += batch.activities_seen
    return merged, rejects, seen


@pytest.fixture(scope="module")
def large_file(tmp_path_factory) -> Path:
    """About 2.5 MB of sample activities, with an activity commented out, one inside a CDATA section,
    and an activity refused by the reader (version 1.0x) near the end."""
    path = tmp_path_factory.mktemp("iati") / "large.xml"
    write_activities(path, 5 << 19, sample_activities(), 0)  # under 65,535 lines: see the line-number test below
    data = path.read_bytes()
    body_start = data.index(b"<iati-activity ")
    one = data[body_start:data.index(b"</iati-activity>", body_start) + len(b"</iati-activity>")]
    tricky = (b"<!-- retired:\n" + one.replace(b"--", b"- -") + b"\n-->\n"
              + b"<!-- " + b"<iati-activity> in a comment -->\n")
    third = len(data) // 3
    cut = data.index(b"<iati-activity ", third)
    data = data[:cut] + tricky + data[cut:]
    cut = data.index(b"<iati-activity ", 2 * len(data) // 3)
    data = data[:cut] + b'<iati-activity iati-activities-version="1.05"><iati-identifier>OLD-1</iati-identifier></iati-activity>\n' + data[cut:]
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("range_kb", [64, 700])
def test_ranges_read_what_one_sequential_read_reads(large_file, range_kb):
    expected = columns(iter_iati_batches(large_file, batch_size=500))
    got = columns(iter_iati_batches_parallel(large_file, batch_size=500, workers=2, min_bytes=0,
                                             range_bytes=range_kb << 10))
    # every activity the standard library's parser sees (not those in the comment or the CDATA)
    assert got[2] == expected[2] == len(ElementTree.parse(large_file).getroot().findall("iati-activity")) > 700
    for table in TABLES:
        assert got[0][table] == expected[0][table], table
    assert got[1] == expected[1] and any("1.0" in str(r["reason"]) for r in got[1])


def test_the_first_batch_is_full_as_a_sequential_reads_is(large_file):
    first = next(iter(iter_iati_batches_parallel(large_file, batch_size=500, workers=2, min_bytes=0,
                                                 range_bytes=16 << 10)))
    assert first.activities_seen >= 500


def test_an_error_in_a_later_range_names_the_line_a_sequential_read_names(large_file, tmp_path):
    data = large_file.read_bytes()
    at = data.index(b"<iati-activity ", int(len(data) * 0.8))
    broken = tmp_path / "broken.xml"
    broken.write_bytes(data[:at] + b"<iati-activity><unclosed></iati-activity>\n" + data[at:])
    with pytest.raises(IatiFileError) as sequential:
        list(iter_iati_batches(broken))
    with pytest.raises(IatiFileError) as parallel:
        list(iter_iati_batches_parallel(broken, workers=2, min_bytes=0, range_bytes=256 << 10))
    assert parallel.value.line == sequential.value.line == data[:at].count(b"\n") + 1
    assert parallel.value.reason == sequential.value.reason


def test_the_parsing_workers_import_no_table_library(large_file):
    """A worker process that parses files imports the reader and lxml only, not Polars, Pandera or
    pandas: it starts in a fraction of a second, not the seconds those take."""
    import subprocess

    probe = ("import sys\nfrom assets.financing.iati_reader import iter_iati_batches\n"
             f"batches = list(iter_iati_batches({str(large_file)!r}))\n"
             "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'pandera', 'pandas', 'polars', 'dagster'})\n"
             "print(sum(b.activities_seen for b in batches), 'heavy:', ','.join(heavy))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT, timeout=120)
    seen, _, heavy = done.stdout.strip().splitlines()[-1].partition("heavy:")
    assert int(seen) == len(ElementTree.parse(large_file).getroot().findall("iati-activity")), done.stderr
    assert heavy.strip() == "", heavy
