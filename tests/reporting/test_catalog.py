"""The analyst's catalog (partnership.duckdb) and data dictionary, on a sample run: every table opens,
the latest_ views hold the latest partition, every column is described (in the catalog and in the
Parquet files), the catalog is the manifest readers follow, and the dictionary says what the
models and the data say."""

import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from assets.reporting import publication
from assets.reporting.cookbook import COOKBOOK, Query
from pipelines.storage.store import DataStore
from schemas.base import column_order
from schemas.catalog import JOINS, TABLES, WHOLE
from tests.test_end_to_end import DAY

pytestmark = pytest.mark.slow


def parquet_rows(folder: Path) -> int:
    """Rows of every Parquet file of a folder, from the files' own footers (pyarrow, not DuckDB)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in folder.glob("*.parquet"))


def model_descriptions(table: str) -> dict[str, str]:
    columns = TABLES[table].model.to_schema().columns
    return {c: columns[c].description for c in column_order(TABLES[table].model)}


def test_the_catalog_opens_every_table_from_any_working_directory(sample, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the data dir, not the project
    con = duckdb.connect(str(sample / "partnership.duckdb"), read_only=True)
    for name, spec in TABLES.items():
        folder = sample / spec.layer / name
        if spec.partitioning == WHOLE:
            assert con.execute(f"select count(*) from {name}").fetchall()[0][0] == parquet_rows(folder), name
            continue
        partitions = sorted(p for p in folder.glob("snapshot_date=*"))
        everything = sum(parquet_rows(p) for p in partitions)
        assert con.execute(f"select count(*) from {name}").fetchall()[0][0] == everything, name
        latest = partitions[-1]
        assert con.execute(f"select count(*) from latest_{name}").fetchall()[0][0] == parquet_rows(latest), name
        dates = con.sql(f"select distinct snapshot_date::varchar from latest_{name}").fetchall()
        assert dates in ([(latest.name.split("=")[1],)], []), name
        # the columns are the model's, with snapshot_date a DATE
        columns = dict(con.sql(f"select column_name, data_type from duckdb_columns() where table_name = '{name}'").fetchall())
        assert set(columns) == set(column_order(spec.model)) | {"snapshot_date"}, name
        assert columns["snapshot_date"] == "DATE"
    assert con.execute("select count(*) from rejects").fetchall()[0][0] == sum(
        parquet_rows(p) for p in (sample / "quality" / "rejects").glob("source=*/snapshot_date=*"))


def test_every_table_and_column_of_the_catalog_is_described(sample):
    con = duckdb.connect(str(sample / "partnership.duckdb"), read_only=True)
    comments = {r[0]: r[1] for r in con.sql(
        "select view_name, comment from duckdb_views() where not internal union all "
        "select table_name, comment from duckdb_tables()").fetchall()}
    for name, spec in TABLES.items():
        assert comments[name] == spec.description
        described = dict(con.sql(f"select column_name, comment from duckdb_columns() where table_name = '{name}'").fetchall())
        for column, description in model_descriptions(name).items():
            assert description and described[column] == description, (name, column)
    assert all(comments.values()), [n for n, c in comments.items() if not c]


def test_every_published_parquet_file_carries_its_column_descriptions(sample):
    checked = 0
    for name, spec in TABLES.items():
        expected = model_descriptions(name)
        for path in (sample / spec.layer / name).rglob("*.parquet"):
            schema = pq.read_schema(path)
            for field in schema:
                assert field.metadata[b"description"].decode() == expected[field.name], (path, field.name)
            metadata = pl.read_parquet_metadata(path)
            assert metadata["partnership.grain"] == spec.description
            checked += 1
    rejects = list((sample / "quality" / "rejects").rglob("*.parquet"))
    assert rejects and all(pq.read_schema(p).field("reason").metadata for p in rejects)
    assert checked >= len(TABLES)


def test_the_catalog_reads_what_was_published_when_it_was_built(sample, tmp_path):
    """It is the manifest, pinned: a partition published or replaced after it was built is not read
    through it until it is rebuilt (the run rebuilds it last), so its tables stay in step."""
    data_dir = tmp_path / "data"
    shutil.copytree(sample, data_dir, symlinks=True)
    store = DataStore(data_dir)
    store.write_catalog()
    flows = data_dir / "curated" / "financing_flows"
    before = parquet_rows(flows / f"snapshot_date={DAY}")
    shutil.copytree(flows / f"snapshot_date={DAY}", flows / "snapshot_date=2026-11-21")
    # and a run replaces the partition of the catalog's date with other rows (one row only)
    mart = data_dir / "mart" / "mart_private_contributions_by_entity_year" / f"snapshot_date={DAY}"
    [mart_file] = mart.glob("*.parquet")
    mart_rows = parquet_rows(mart)
    replacement = tmp_path / "replacement"
    replacement.mkdir()
    pl.read_parquet(mart_file).head(1).write_parquet(replacement / mart_file.name)
    shutil.rmtree(mart)
    replacement.rename(mart)
    con = duckdb.connect(str(data_dir / "partnership.duckdb"), read_only=True)
    assert con.execute("select count(*) from financing_flows").fetchall()[0][0] == before
    assert con.execute("select count(*) from latest_mart_private_contributions_by_entity_year").fetchall()[0][0] == mart_rows
    con.close()
    summary = store.write_catalog()
    assert summary["mart_private_contributions_by_entity_year"]["latest_rows"] == 1
    assert summary["financing_flows"]["latest"] == "2026-11-21" and summary["financing_flows"]["partitions"] == 2
    con = duckdb.connect(str(data_dir / "partnership.duckdb"), read_only=True)
    assert con.execute("select count(*) from financing_flows").fetchall()[0][0] == 2 * before
    assert con.sql("select distinct snapshot_date::varchar from latest_financing_flows").fetchall() == [("2026-11-21",)]
    # one file, readable by all, nothing left in staging, the files of the two newest builds kept
    assert oct((data_dir / "partnership.duckdb").stat().st_mode & 0o777) == "0o644"
    assert not [p for p in (data_dir / ".staging").iterdir() if "catalog" in p.name]
    store.write_catalog()
    assert len(list((data_dir / ".catalog").iterdir())) == 2


def test_a_moved_data_dir_is_read_through_the_variable_or_a_rebuilt_catalog(sample, tmp_path):
    # a path with a quote, and with "name=value" folders that must not become columns
    original, moved = tmp_path / "original", tmp_path / "run=2" / "it's moved"
    shutil.copytree(sample, original, symlinks=True)
    DataStore(original).write_catalog()
    moved.parent.mkdir()
    original.rename(moved)
    con = duckdb.connect(str(moved / "partnership.duckdb"), read_only=True)
    with pytest.raises(duckdb.IOException, match=str(original)):  # says where it looked
        con.sql("select count(*) from latest_financing_flows").fetchall()
    con.sql("set variable partnership_data_dir = " + "'" + str(moved).replace("'", "''") + "'")
    n = con.execute("select count(*) from latest_financing_flows").fetchall()[0][0]
    assert n == parquet_rows(moved / "curated" / "financing_flows" / f"snapshot_date={DAY}") > 0
    assert con.execute("select data_dir from catalog_info").fetchall()[0][0] == str(original)
    con.close()
    DataStore(moved).write_catalog()
    con = duckdb.connect(str(moved / "partnership.duckdb"), read_only=True)
    assert con.execute("select count(*) from latest_financing_flows").fetchall()[0][0] == n
    columns = [r[0] for r in con.execute("describe financing_flows").fetchall()]
    assert columns == column_order(TABLES["financing_flows"].model)  # no "run" column from the path


def test_a_catalog_of_an_empty_data_dir_has_every_table_with_its_columns_and_every_query_runs(tmp_path):
    store = DataStore(tmp_path / "empty")
    summary = store.write_catalog()
    assert set(summary) == set(TABLES) and not any(s["latest_rows"] for s in summary.values())
    con = duckdb.connect(str(store.catalog_path), read_only=True)
    for name, spec in TABLES.items():
        columns = [r[0] for r in con.sql(f"select column_name from duckdb_columns() where table_name = '{name}'").fetchall()]
        assert set(column_order(spec.model)) <= set(columns), name
    for query in COOKBOOK:
        con.sql(query.sql).fetchall()  # an empty catalog answers with no rows, never an error


def test_the_declared_joins_hold_on_the_sample(sample):
    """Every key a table holds finds its row in the table it joins (same snapshot where both have
    one), except where the join is to a listing whose own date differs (sanctions)."""
    con = duckdb.connect(str(sample / "partnership.duckdb"), read_only=True)
    orphans = {}
    for join in JOINS:
        if not join.same_snapshot and join.other.startswith("sanction"):
            continue  # listings are published under the list's date, screened against the list of the day
        not_null = " and ".join(f"a.{c} is not null" for c in join.columns)
        missing = con.sql(f"select count(*) from {join.table} a where {not_null} and not exists "
                          f"(select 1 from {join.other} b where {join.sql('a', 'b')})").fetchall()[0][0]
        if missing:
            orphans[f"{join.table}.{','.join(join.columns)} -> {join.other}"] = missing
    assert orphans == {}


class _Sections(HTMLParser):
    """Text of each <section id=...> of a page (standard library parser)."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, str] = {}
        self._current: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self._current.append(dict(attrs).get("id", ""))
            self.sections[self._current[-1]] = ""

    def handle_endtag(self, tag):
        if tag == "section" and self._current:
            self._current.pop()

    def handle_data(self, data):
        if self._current:
            self.sections[self._current[-1]] += data


def test_the_dictionary_describes_every_table_from_the_models_the_graph_and_the_data(sample):
    page = (sample / "docs" / "index.html").read_text(encoding="utf-8")
    parser = _Sections()
    parser.feed(page)
    con = duckdb.connect(str(sample / "partnership.duckdb"), read_only=True)
    for name, spec in TABLES.items():
        text = parser.sections[name]
        assert spec.description in text
        for column, description in model_descriptions(name).items():
            assert column in text and description in text, (name, column)
        if spec.partitioning != WHOLE:
            rows = con.execute(f"select count(*) from latest_{name}").fetchall()[0][0]
            assert f"{rows:,} (latest snapshot" in text, name
    assert "landing/iati_activities" in parser.sections["iati_activities"]  # lineage from the asset graph
    assert "mart/mart_private_contributions_by_entity_year" in parser.sections["financing_flows"]
    assert "ref_organisation_types" in parser.sections["financing_flows"]  # the codelist of provider_type_code
    assert "Private Sector" in parser.sections["ref_organisation_types"]  # its codes, listed
    for query in COOKBOOK:
        assert f"q-{query.name}" in parser.sections
    assert page.count("<svg") == 1 and all(f'href="#{t}"' in page for t in TABLES)  # the diagram links every table


def test_a_cookbook_query_that_fails_breaks_the_dictionary_build(sample, monkeypatch, tmp_path):
    broken = Query("broken", "A query on a column that does not exist", "select no_such_column from latest_financing_flows", ())
    monkeypatch.setattr(publication, "COOKBOOK", (*COOKBOOK, broken))
    shutil.copytree(sample, tmp_path / "data", symlinks=True)
    store = DataStore(tmp_path / "data")
    with pytest.raises(duckdb.BinderException, match="no_such_column"):
        publication.build_dictionary_page(store, store.write_catalog(), None)


def test_the_run_wrote_the_catalog_dictionary_and_report_readable_by_all(sample):
    for path in (sample / "partnership.duckdb", sample / "docs" / "index.html", sample / "report" / "index.html",
                 sample / "report" / f"{DAY}.html"):
        assert path.is_file() and oct(path.stat().st_mode & 0o777) == "0o644", path
    assert (sample / "report" / "index.html").read_bytes() == (sample / "report" / f"{DAY}.html").read_bytes()
    assert os.access(sample / "partnership.duckdb", os.R_OK)


def test_partition_values_come_from_the_partition_folders_even_under_a_path_that_holds_one(sample, tmp_path):
    """Each row's snapshot_date is its partition folder's, also under a data dir whose own path holds
    "snapshot_date=...", and the latest view is the latest folder's."""
    data_dir = tmp_path / "snapshot_date=1999-01-01" / "data"
    shutil.copytree(sample, data_dir, symlinks=True)
    table_dir = data_dir / "curated" / "financing_flows"
    dates = [DAY, "2026-11-18", "2026-11-19"]
    for day in dates[1:]:
        shutil.copytree(table_dir / f"snapshot_date={DAY}", table_dir / f"snapshot_date={day}")
    DataStore(data_dir).write_catalog()
    con = duckdb.connect(str(data_dir / "partnership.duckdb"), read_only=True)
    counts = dict(con.execute("select strftime(snapshot_date, '%Y-%m-%d'), count(*) from financing_flows "
                              "group by all").fetchall())
    assert counts == {day: parquet_rows(table_dir / f"snapshot_date={day}") for day in dates}
    assert con.execute("select distinct strftime(snapshot_date, '%Y-%m-%d') from latest_financing_flows").fetchall() \
        == [(max(dates),)]
    con.close()
