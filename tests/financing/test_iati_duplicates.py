"""Of two activities with one identifier, the one read first wins, whether or not it is published:
a later copy is a duplicate even where the first copy was rejected. What is published and rejected
must not depend on how the files are cut into batches, ranges or worker processes."""

import polars as pl
import pytest

import assets.financing.iati as iati
import assets.financing.iati_reader as reader
from assets.financing.iati_transform import TABLES
from tests.conftest import iati_xml
from tests.financing.test_iati_ranges import build


def activity(identifier: str, *, status: str = "2") -> str:
    """An activity with one transaction; status 42 is no ActivityStatus code: the activity is rejected."""
    return (f'<iati-activity default-currency="USD"><iati-identifier>{identifier}</iati-identifier>'
            f'<reporting-org ref="XM-1" type="40"><narrative>Org</narrative></reporting-org>'
            f'<activity-status code="{status}"/>'
            f'<transaction><transaction-type code="3"/><transaction-date iso-date="2024-01-02"/>'
            f'<value>10</value></transaction></iati-activity>\n')


# (file, identifier, valid) in reading order
ACTIVITIES = [
    ("one.xml", "A-1", False), *[("one.xml", f"F-{n}", True) for n in range(6)], ("one.xml", "A-1", True),
    ("one.xml", "B-1", True), ("one.xml", "C-1", True),
    ("two.xml", "B-1", True), ("two.xml", "A-1", True), ("two.xml", "D-1", False),
    ("three.xml", "D-1", True),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("duplicates")
    paths = []
    for name in ("one.xml", "two.xml", "three.xml"):
        body = "".join(activity(i, status="2" if valid else "42") for f, i, valid in ACTIVITIES if f == name)
        (folder / name).write_text(iati_xml(body), encoding="utf-8")
        paths.append(folder / name)
    return paths


def expected(activities=ACTIVITIES) -> tuple[list[str], list[tuple[str, str]]]:
    """(published identifiers, (file, identifier) of each duplicate), from ``activities`` alone."""
    first: dict[str, bool] = {}
    duplicates = []
    for file, identifier, valid in activities:
        if identifier in first:
            duplicates.append((file, identifier))
        else:
            first[identifier] = valid
    return sorted(i for i, valid in first.items() if valid), sorted(duplicates)


def outcome(built):
    result, writers, rejects = built
    published = sorted(writers["iati_activities"].frame()["iati_identifier"].to_list())
    errors = rejects.frame().filter(pl.col("severity") == "error")
    duplicates = sorted(errors.filter(pl.col("check") == "field_uniqueness").select("file", "record_key").iter_rows())
    children = sorted(writers["iati_transactions"].frame()["iati_identifier"].to_list())
    return published, duplicates, children, {t: result.rejected_records(t) for t in TABLES}


@pytest.mark.parametrize("batch_size", [1, 2, 5, 1000])
def test_the_first_activity_read_wins_in_every_batching(files, batch_size):
    published, duplicates, children, rejected = outcome(build(files, batch_size=batch_size, workers=1))
    assert (published, duplicates) == expected()
    assert children == published  # one transaction each, rejected with its activity otherwise
    assert rejected["iati_activities"] == len(ACTIVITIES) - len(published)
    assert rejected["iati_transactions"] == len(ACTIVITIES) - len(published)


def test_ranges_in_worker_processes_give_the_same(files, monkeypatch):
    monkeypatch.setattr(reader, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(iati, "TRANSFORM_RANGE_BYTES", 600)  # about two activities a range
    ranged = outcome(build(files, batch_size=3, workers=2))
    assert ranged[:2] == expected()
    assert ranged == outcome(build(files, batch_size=1000, workers=1))


def test_a_duplicate_names_the_file_its_identifier_was_first_read_from(files):
    _, _, rejects = build(files, batch_size=2, workers=1)
    reasons = dict(rejects.frame().filter((pl.col("check") == "field_uniqueness") & (pl.col("file") == "three.xml"))
                   .select("record_key", "reason").iter_rows())
    assert reasons == {"D-1": "duplicate iati-identifier; first read from two.xml"}
