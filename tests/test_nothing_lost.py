"""Inputs that used to lose records silently or crash with a raw exception: each one now either
publishes every record, rejects it with a reason, or fails with one clear error naming the file.
Every input is generated here; expected counts are computed from the generated text with the
standard library (csv), not through the project's readers."""

import csv
import gzip
import io
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from assets.due_diligence.sanctions import merge_lists, read_sanctions_list
from assets.financing.un_revenue import read_revenue
from assets.io import ENCODING_FALLBACK, SourceFileError, read_csv_strings
from assets.networks.local_networks import read_local_networks
from assets.partnerships.sdg_partnerships import read_partnerships
from assets.partnerships.ungc_participants import read_participants
from pipelines.storage.settings import SourcesConfigError, load_sources
from tests.conftest import PROJECT

SNAPSHOT = date(2026, 11, 25)

PARTICIPANTS = ("Participant,Type,Sector,Country,Joined On,Status,Ownership,Employees,Reporting Due On,Delisted On,"
                "Delisting Reason\n")
REVENUE = "amount,_currency,entity,calendar_year,rev_type,donor,contrib_type\n"
NETWORKS = (",Country name,,Region,RH,Nov 2025 Development Stage,Expected January 2026 Status,"
            "2024 total contributions to GCO,2024 total contributions to LN,2024 combined contributions total\n")
PARTNERSHIPS = "id,title,lead_entity,partners,sdgs,targets\n"

# per reader: header, a good row (format with i), a bad row, and how to read a list of files
READERS = {
    "participants": (PARTICIPANTS, "Org {i} Ltd,Company,Banks,Brazil,2019-05-01,Active,,,,,\n",
                     "Bad Org,Company,Banks,Brazil,not a date,Active,,,,,\n",
                     lambda files: read_participants(files, "export", SNAPSHOT)),
    "revenue": (REVENUE, "{i},USD,WFP,2020,R03,Donor {i},C06\n", "abc,USD,WFP,2020,R03,Bad Donor,C06\n",
                lambda files: read_revenue(files, None, SNAPSHOT)),
    "local_networks": (NETWORKS, ",Country{i},Link,Europe,X,Active,Local Network,$1,$1,$2\n".replace("Country{i}", "{country}"),
                       ",Kenya,Link,Africa,X,Active,Local Network,TBD,$0,$0\n",
                       lambda files: read_local_networks(files, None, SNAPSHOT)),
    "partnerships": (PARTNERSHIPS, "#SDGAction{i},Title {i},Lead {i},A,1,1.2\n", "no id,Bad,Lead,A,1,1.2\n",
                     lambda files: read_partnerships(files, None, SNAPSHOT)),
}
COUNTRIES = ["France", "Germany", "Italy", "Spain", "Norway", "Sweden", "Japan", "Chile", "Peru", "Ghana"]


def csv_record_count(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def first_frame(result):
    return result[0]


@pytest.mark.parametrize("reader", sorted(READERS))
def test_two_files_of_one_source_lose_no_valid_row_to_the_other_files_rejects(tmp_path, reader):
    """File a has a bad record on line 3; file b has a good record on line 3. Every record of both
    files is published or rejected, matched by file and line, never by line alone."""
    header, good, bad, read = READERS[reader]
    files = []
    for name, offset, with_bad in (("a.csv", 0, True), ("b.csv", 5, False)):
        rows = [good.format(i=offset + i, country=COUNTRIES[offset + i]) for i in range(4)]
        if with_bad:
            rows[1] = bad  # line 3
        path = tmp_path / name
        path.write_text(header + "".join(rows), encoding="utf-8")
        files.append((path, name))
    result = read(files)
    published, rejects = result[0], result[-1]
    errors = rejects.filter(pl.col("severity") == "error")
    for path, name in files:
        read_count = csv_record_count(path)
        kept = published.filter(pl.col("source_file") == name).height
        rejected = errors.filter(pl.col("file") == name).select("line").n_unique()
        assert kept + rejected == read_count, (name, kept, rejected)
    assert published.filter((pl.col("source_file") == "b.csv") & (pl.col("source_row") == 3)).height == 1
    assert errors.filter(pl.col("file") == "b.csv").height == 0


def test_a_local_network_row_without_its_country_is_rejected_not_dropped(tmp_path):
    path = tmp_path / "ln.csv"
    path.write_text(NETWORKS + ",Kenya,Link,Africa,X,Advanced,Local Network,$5,$0,$5\n"
                              ",,Link,Europe,X,Active,Local Network,$100,$0,$100\n"
                              ",,,,,,,,,\n", encoding="utf-8")
    frame, rejects = read_local_networks([(path, "ln.csv")], None, SNAPSHOT)
    assert frame["country_iso3"].to_list() == ["KEN"]
    [reject] = rejects.to_dicts()
    assert (reject["line"], reject["column"], reject["severity"]) == (3, "country_name", "error")


@pytest.mark.parametrize("tail,why", [
    (b"Private Do", "1 of 7 fields"),
    (b'5,USD,WFP,2020,R03,"Private Do', "left open"),
])
def test_a_csv_cut_mid_record_is_refused_naming_the_file(tmp_path, tail, why):
    path = tmp_path / "revenue.csv"
    path.write_bytes(REVENUE.encode() + b"1,USD,WFP,2020,R03,Acme,C06\n" + tail)
    with pytest.raises(SourceFileError) as info:
        read_revenue([(path, "revenue.csv")], None, SNAPSHOT)
    assert "revenue.csv" in str(info.value)
    assert why in str(info.value) or "not a readable CSV" in str(info.value)


def test_a_complete_last_line_without_newline_is_read(tmp_path):
    path = tmp_path / "revenue.csv"
    path.write_bytes(REVENUE.encode() + b"1,USD,WFP,2020,R03,Acme,C06\n2,USD,WFP,2020,R03,Beta,C06")
    frame, rejects = read_revenue([(path, "revenue.csv")], None, SNAPSHOT)
    assert frame["donor"].to_list() == ["Acme", "Beta"] and rejects.height == 0


def test_a_few_windows_1252_rows_in_a_utf8_file_change_nothing_else(tmp_path):
    names = ["Nestlé S.A.", "Société Générale", "Müller GmbH", "Ørsted A/S", "Café Ltd"]
    rows = [f"{n},Company,Banks,France,2019-05-01,Active,,,,,\n" for n in names]
    clean = tmp_path / "clean.csv"
    clean.write_bytes((PARTICIPANTS + "".join(rows)).encode("utf-8"))
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(PARTICIPANTS.encode() + b"".join(
        r.encode("cp1252") if i == 2 else r.encode("utf-8") for i, r in enumerate(rows)))
    with pytest.raises(UnicodeDecodeError):
        mixed.read_bytes().decode("utf-8")  # the file really is mixed
    base, _ = read_participants([(clean, "p.csv")], "export", SNAPSHOT)
    frame, rejects = read_participants([(mixed, "p.csv")], "export", SNAPSHOT)
    assert frame["participant_name"].to_list() == base["participant_name"].to_list() == [n for n in names]
    assert frame["participant_id"].to_list() == base["participant_id"].to_list()
    [warning] = rejects.to_dicts()
    assert (warning["line"], warning["check"], warning["severity"]) == (4, "encoding", "warning")
    assert ENCODING_FALLBACK not in frame.columns


def test_a_header_naming_a_column_twice_is_one_clear_error(tmp_path):
    path = tmp_path / "revenue.csv"
    path.write_text("amount,_currency,entity,calendar_year,rev_type,donor,contrib_type,donor \n1,USD,WFP,2020,R03,A,C06,B\n")
    with pytest.raises(SourceFileError, match="revenue.csv: the header names a column more than once: 'donor'"):
        read_csv_strings(path, "revenue.csv")


def test_an_amount_beyond_float_range_is_rejected_not_published_as_infinity(tmp_path):
    path = tmp_path / "revenue.csv"
    path.write_text(REVENUE + "1e309,USD,WFP,2020,R03,Huge,C06\ninf,USD,WFP,2020,R03,Inf,C06\n5,USD,WFP,2020,R03,Fine,C06\n")
    frame, rejects = read_revenue([(path, "revenue.csv")], None, SNAPSHOT)
    assert frame["donor"].to_list() == ["Fine"]
    assert sorted(rejects["line"].to_list()) == [2, 3]


def test_a_one_hot_partnership_file_without_goal_columns_is_one_clear_error(tmp_path):
    path = tmp_path / "ocean.csv"
    path.write_text("ocean_action_id,platform,action_number,title,entity,url\n1,ocean,1,T,E,u\n")
    with pytest.raises(SourceFileError, match="ocean.csv: the one-hot layout"):
        read_partnerships([(path, "ocean.csv")], None, SNAPSHOT)


LIST = """<?xml version="1.0"?>
<CONSOLIDATED_LIST dateGenerated="{generated}"><INDIVIDUALS>{individuals}</INDIVIDUALS><ENTITIES>{entities}</ENTITIES></CONSOLIDATED_LIST>"""
PERSON = ("<INDIVIDUAL><DATAID>{n}</DATAID><FIRST_NAME>PERSON</FIRST_NAME><SECOND_NAME>NUMBER {n}</SECOND_NAME>"
          "<UN_LIST_TYPE>DPRK</UN_LIST_TYPE><REFERENCE_NUMBER>KPi.{n:03d}</REFERENCE_NUMBER><LISTED_ON>2016-03-02</LISTED_ON>"
          "<INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Alias {n}</ALIAS_NAME></INDIVIDUAL_ALIAS></INDIVIDUAL>")
GROUP = ("<ENTITY><DATAID>{n}</DATAID><FIRST_NAME>GROUP NUMBER {n}</FIRST_NAME><UN_LIST_TYPE>Al-Qaida</UN_LIST_TYPE>"
         "<REFERENCE_NUMBER>QDe.{n:03d}</REFERENCE_NUMBER><LISTED_ON>2002-01-11</LISTED_ON></ENTITY>")


def sanctions_file(tmp_path, name, generated, people=(), groups=(), *, gz=False):
    text = LIST.format(generated=generated, individuals="".join(PERSON.format(n=n) for n in people),
                       entities="".join(GROUP.format(n=n) for n in groups))
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def test_a_list_split_into_two_files_of_one_date_is_one_list(tmp_path):
    people = sanctions_file(tmp_path, "individuals.xml", "2025-04-19T10:00:00", people=range(1, 685))
    groups = sanctions_file(tmp_path, "entities.xml", "2025-04-19T10:00:00Z", groups=range(1, 11))
    again = sanctions_file(tmp_path, "entities-again.xml", "2025-04-19T10:00:00Z", groups=range(1, 11))
    merged = merge_lists([read_sanctions_list(p, p.name) for p in (people, groups, again)])
    assert merged.entities.height == 684 + 10  # identical duplicates collapse
    assert merged.aliases.height == 684
    assert "individuals.xml" in merged.file and "entities.xml" in merged.file


def test_two_files_of_one_date_that_disagree_fail_naming_both(tmp_path):
    a = sanctions_file(tmp_path, "a.xml", "2025-04-19T10:00:00Z", groups=[1, 2])
    b = tmp_path / "b.xml"
    b.write_text(a.read_text().replace("GROUP NUMBER 2", "ANOTHER NAME"))
    with pytest.raises(SourceFileError, match=r"QDe.002 is listed differently in a.xml and b.xml"):
        merge_lists([read_sanctions_list(p, p.name) for p in (a, b)])


def test_lists_with_and_without_a_time_zone_still_sort(tmp_path):
    naive = read_sanctions_list(sanctions_file(tmp_path, "n.xml", "2025-04-19T10:00:00", groups=[1]), "n.xml")
    aware = read_sanctions_list(sanctions_file(tmp_path, "a.xml", "2025-04-20T10:00:00-05:00", groups=[1]), "a.xml")
    assert [x.file for x in sorted([aware, naive], key=lambda x: x.generated)] == ["n.xml", "a.xml"]
    assert str(aware.snapshot_date) == "2025-04-20"


def test_a_list_with_no_listings_is_an_error(tmp_path):
    path = sanctions_file(tmp_path, "empty.xml", "2025-04-19T10:00:00Z")
    with pytest.raises(SourceFileError, match="empty.xml: the list holds no INDIVIDUAL or ENTITY"):
        read_sanctions_list(path, "empty.xml")


def test_a_gzip_that_inflates_past_the_limit_is_refused(tmp_path):
    path = tmp_path / "comments.xml.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(b'<?xml version="1.0"?><CONSOLIDATED_LIST dateGenerated="2025-04-19T10:00:00Z">')
        chunk = b"<!--" + b"x" * (1 << 20) + b"-->"
        for _ in range(8):
            fh.write(chunk)
    with pytest.raises(SourceFileError, match="comments.xml.gz: expands to more than 4 MB"):
        read_sanctions_list(path, "comments.xml.gz", max_bytes=4 << 20)


def test_an_empty_sources_file_and_a_glob_matching_nothing_are_errors(tmp_path):
    empty = tmp_path / "sources.yaml"
    empty.write_text("# everything commented out\n")
    with pytest.raises(SourcesConfigError, match="names no source"):
        load_sources(empty)
    config = tmp_path / "globbed.yaml"
    config.write_text("iati_activities: [nowhere/*.xml]\n")
    with pytest.raises(SourcesConfigError, match="matches no file"):
        load_sources(config)["iati_activities"].resolve()


def test_csv_reader_keeps_utf8_files_untouched(tmp_path):
    path = tmp_path / "plain.csv"
    text = "a,b\nNestlé,1\n"
    path.write_text(text, encoding="utf-8")
    frame = read_csv_strings(path, "plain.csv")
    assert frame.columns == ["a", "b"] and [list(r) for r in frame.rows()] == list(csv.reader(io.StringIO(text)))[1:]


def test_one_bad_day_of_a_backfill_fails_alone_and_the_other_days_publish(tmp_path):
    from pipelines.cli import refused_checks
    from tests.test_end_to_end import run

    participants = tmp_path / "participants.csv"
    sample = PROJECT / "config" / "sources.yaml"
    sources = tmp_path / "sources.yaml"  # the sample's sources, with the participants from this test
    sources.write_text(sample.read_text().replace("../data/sample/ungc/participants-export.csv", str(participants))
                       .replace("../data/", f"{PROJECT / 'data'}/"))
    data = tmp_path / "data"
    # the 21st is landed with a download cut mid-record; a backfill reuses what a past date landed
    participants.write_text(PARTICIPANTS + "Acme Ltd,Company,Banks,Brazil,2019-05-01,Active,,,,,\nBeta Ltd,Comp")
    assert not run(data, sources, partition="2026-11-21").success
    participants.write_text(PARTICIPANTS + "Acme Ltd,Company,Banks,Brazil,2019-05-01,Active,,,,,\n")
    result = run(data, sources, start="2026-11-20", end="2026-11-22")
    days = {name: sorted(p.name for p in (data / "curated" / name).glob("snapshot_date=*"))
            for name in ("gc_participants", "organizations", "partner_screening")}
    for name, published in days.items():
        assert published == ["snapshot_date=2026-11-20", "snapshot_date=2026-11-22"], (name, published)
    refused = refused_checks(result)
    assert refused and all("2026-11-21" in line and "participants.csv" in line for line in refused), "\n".join(refused)
