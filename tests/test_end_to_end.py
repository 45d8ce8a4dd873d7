"""The whole graph, materialized for real partitions into a temporary data dir, read back with DuckDB."""

import csv
import hashlib
import json
from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.curated.assets import REFERENCE_TABLES
from assets.wiring.derived import DERIVED
from assets.wiring.tables import INPUTS_READ
from pipelines.cli import PARTITION_RANGE_END, PARTITION_RANGE_START, main, summarize
from pipelines.definitions import build_definitions
from pipelines.resources import HttpResource, QualityResource, SourcesResource, StorageResource
from pipelines.storage.store import DataStore
from schemas.vocabularies import PRIVATE_ORGANISATION_TYPES
from tests.conftest import PROJECT, iati_xml
from tests.financing.test_iati_realdata import xml_counts

pytestmark = pytest.mark.slow
DAY = "2026-11-20"
TABLES = ("iati_activities", "iati_transactions", "iati_participating_orgs", "iati_budgets")


def run(data_dir: Path, sources: Path, *, partition: str | None = DAY, start=None, end=None, max_share=0.5,
        publish_url: str | None = None):
    defs = build_definitions({
        "sources": SourcesResource(sources_file=str(sources)),
        "storage": StorageResource(data_dir=str(data_dir), publish_url=publish_url),
        "quality": QualityResource(max_reject_share=max_share),
        "http": HttpResource(),
    })
    job = defs.resolve_job_def("nightly_snapshot")
    instance = dg.DagsterInstance.ephemeral()
    if start:
        result = job.execute_in_process(tags={PARTITION_RANGE_START: start, PARTITION_RANGE_END: end},
                                        instance=instance, raise_on_error=False)
    else:
        result = job.execute_in_process(partition_key=partition, instance=instance, raise_on_error=False)
    return result


def table_hashes(data_dir: Path) -> dict[str, str]:
    return {str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((data_dir / "curated").rglob("*.parquet")) + sorted((data_dir / "quality").rglob("*.parquet"))}


SAMPLE_SOURCES = PROJECT / "config" / "sources.yaml"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """The sample's run, with its published copy in a folder beside the data dir (file://)."""
    data_dir = tmp_path_factory.mktemp("data")
    result = run(data_dir, SAMPLE_SOURCES, publish_url=f"file://{data_dir.parent}/published")
    assert result.success
    return data_dir, result


def test_the_run_ends_with_its_published_copy(sample_run):
    """The copy step lists every published partition of the data dir with its files' content
    (PARTNERSHIP_PUBLISH_URL; the copy itself is tested against S3 in tests/pipelines)."""
    data_dir, result = sample_run
    manifest = json.loads((data_dir.parent / "published" / "_published.json").read_text())
    copied = {"/".join([e["layer"], t, *(f"{k}={v}" for k, v in p["values"].items())]):
              sorted(o.split("/")[1].split(".")[0] for o in p["objects"])
              for t, e in manifest["tables"].items() for p in e["partitions"]}
    local = {}
    for layer in ("curated", "mart"):
        for folder in (data_dir / layer).glob("**/"):
            files = sorted(folder.glob("*.parquet"))
            if files:
                local[str(folder.relative_to(data_dir))] = sorted(hashlib.sha256(f.read_bytes()).hexdigest() for f in files)
    assert copied == local
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path == ["mart", "published_copy"]]
    assert event.materialization.metadata["partitions"].value == len(local)


def test_sample_graph_publishes_every_table_readable_by_duckdb(sample_run):
    data_dir, result = sample_run
    con = duckdb.connect()
    counts = {}
    for table in TABLES:
        counts[table] = con.execute(
            f"select count(*) from read_parquet('{data_dir}/curated/{table}/**/*.parquet', hive_partitioning=true) "
            f"where snapshot_date = DATE '{DAY}'").fetchone()[0]
    assert counts == {"iati_activities": 27, "iati_transactions": 80, "iati_participating_orgs": 81, "iati_budgets": 27}
    usd = con.execute(f"""
        select count(*) filter (where value_usd is null), count(distinct fx_source), sum(value_usd) > 0
        from read_parquet('{data_dir}/curated/iati_transactions/**/*.parquet', hive_partitioning=true)""").fetchone()
    assert usd == (1, 3, True)  # one XOF transaction without a rate; identity, ECB and IMF (KES) rates used
    private = con.execute(f"""
        select count(*) from read_parquet('{data_dir}/curated/iati_transactions/**/*.parquet', hive_partitioning=true)
        where provider_org_type_code in ('60', '70', '71', '72', '73') and transaction_type_code in ('1', '11')""").fetchone()[0]
    assert private == private_transactions_in_xml(data_dir)
    rejects = con.execute(f"""
        select "check", severity, count(*) from read_parquet('{data_dir}/quality/rejects/**/*.parquet', hive_partitioning=true)
        where source = 'iati_activities' group by all""").fetchall()
    checks = {r[0] for r in rejects}
    assert {"readable_file", "supported_version", "isin", "field_uniqueness", "parse", "fx_rate_found",
            "negative_budget", "parent_rejected"} <= checks

    mats = {m.asset_key.to_user_string(): m.metadata for m in result.asset_materializations_for_node("iati_curated_tables")}
    assert mats["curated/iati_activities"]["dagster/row_count"].value == 27
    checks = result.get_asset_check_evaluations()
    # every check of the graph ran once, and passed
    graph = build_definitions().get_repository_def().asset_graph
    assert sorted(c.asset_check_key.to_user_string() for c in checks) == sorted(
        k.to_user_string() for k in graph.asset_check_keys)
    assert all(c.passed for c in checks)
    assert pl.scan_parquet(data_dir / "curated" / "iati_budgets").collect().height == 27


def private_transactions_in_xml(data_dir: Path) -> int:
    """Incoming funds and commitments from private providers, counted with the standard library
    over the landed XML, for the activities the run published (a file that does not parse is
    quarantined whole, so it has none; of two activities with one identifier the first is kept)."""
    published = set(pl.read_parquet(data_dir / "curated" / "iati_activities" / "**" / "*.parquet")["iati_identifier"])
    seen: set[str] = set()
    count = 0
    for path in sorted((data_dir / "landing" / "iati_activities" / DAY).glob("*.xml")):
        try:
            root = ElementTree.parse(path).getroot()
        except ElementTree.ParseError:
            continue
        for activity in root.iter("iati-activity"):
            identifier = (activity.findtext("iati-identifier") or "").strip()
            if identifier not in published or identifier in seen:
                continue
            seen.add(identifier)
            for transaction in activity.iter("transaction"):
                kind = transaction.find("transaction-type")
                provider = transaction.find("provider-org")
                if (kind is not None and kind.get("code") in ("1", "11") and provider is not None
                        and provider.get("type") in PRIVATE_ORGANISATION_TYPES):
                    count += 1
    return count


def csv_records(path: Path) -> int:
    """Records of a CSV file with any non-blank field, by the standard library's csv module."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    return sum(1 for row in rows[1:] if any(cell.strip() for cell in row))


@pytest.mark.parametrize(("source", "table"), [("ungc_participants", "gc_participants"),
                                               ("un_revenue", "un_revenue_by_contributor"),
                                               ("ungc_local_networks", "local_networks")])
def test_every_record_of_every_tabular_file_is_published_or_rejected(sample_run, source, table):
    data_dir, _ = sample_run
    published = pl.read_parquet(data_dir / "curated" / table / f"snapshot_date={DAY}" / "*.parquet")
    rejects = pl.read_parquet(data_dir / "quality" / "rejects" / f"source={source}" / f"snapshot_date={DAY}" / "*.parquet")
    rejected = rejects.filter((pl.col("table") == table) & (pl.col("severity") == "error")).select("file", "line").unique()
    landed = sorted(p for p in (data_dir / "landing" / source / DAY).iterdir() if p.name != "_manifest.json")
    assert landed
    for path in landed:
        seen = csv_records(path)
        assert seen > 0
        assert published.filter(pl.col("source_file") == path.name).height + \
            rejected.filter(pl.col("file") == path.name).height == seen, path.name


def test_every_record_of_every_iati_file_is_published_or_rejected(sample_run):
    data_dir, _ = sample_run
    rejects = pl.read_parquet(data_dir / "quality" / "rejects" / "source=iati_activities" / f"snapshot_date={DAY}" / "*.parquet")
    errors = rejects.filter(pl.col("severity") == "error")
    for path in sorted((data_dir / "landing" / "iati_activities" / DAY).glob("*.xml")):
        try:
            held = xml_counts(path)
        except ElementTree.ParseError:  # unreadable: refused whole, nothing of it published
            assert errors.filter(pl.col("file") == path.name)["check"].to_list() == ["readable_file"]
            continue
        for table, count in held.items():
            published = pl.read_parquet(data_dir / "curated" / table / f"snapshot_date={DAY}" / "*.parquet").filter(
                pl.col("source_file") == path.name).height
            rejected = errors.filter((pl.col("file") == path.name) & (pl.col("table") == table)).select(
                "record_key", "line").unique().height
            assert published + rejected == count, (path.name, table)


def test_every_asset_reads_exactly_the_inputs_its_lineage_shows(sample_run):
    data_dir, result = sample_run
    # the graph of the run: with the published copy, whose place the sample run sets
    graph = build_definitions({"storage": StorageResource(data_dir=str(data_dir), publish_url="file:///copy")}
                              ).get_repository_def().asset_graph
    checked = set()
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        if event.asset_key.path[0] == "landing":
            continue  # landing assets read the sources file's locations, not assets
        assert INPUTS_READ in metadata, event.asset_key.to_user_string()
        lineage = sorted(parent.to_user_string() for parent in graph.get(event.asset_key).parent_keys)
        assert sorted(metadata[INPUTS_READ].value) == lineage, event.asset_key.to_user_string()
        checked.add(event.asset_key)
    # every table of the graph was materialized and said what it read
    assert checked == {k for k in graph.get_all_asset_keys() if k.path[0] != "landing"}
    assert {k.path[-1] for k in checked} >= {t for d in DERIVED.values() for t in d.outputs}


def test_a_subset_of_derived_assets_runs_alone_on_published_inputs(sample_run):
    data_dir, _ = sample_run
    before = table_hashes(data_dir)
    defs = build_definitions({"sources": SourcesResource(sources_file=str(SAMPLE_SOURCES)),
                              "storage": StorageResource(data_dir=str(data_dir)), "http": HttpResource()})
    job = defs.resolve_implicit_global_asset_job_def()
    subset = [dg.AssetKey(["curated", "financing_flows"]), dg.AssetKey(["curated", "partner_screening"]),
              dg.AssetKey(["mart", "mart_screening_summary"])]
    result = job.execute_in_process(asset_selection=subset, partition_key=DAY, instance=dg.DagsterInstance.ephemeral(),
                                    raise_on_error=False)
    assert result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} == set(subset)
    assert table_hashes(data_dir) == before


def test_rows_not_counted_are_exactly_those_with_a_double_counting_reason(sample_run):
    data_dir, result = sample_run
    flows = pl.read_parquet(data_dir / "curated" / "financing_flows" / "**" / "*.parquet")
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == "financing_flows"]
    reported = {k: v.value for k, v in event.materialization.metadata.items() if k.startswith("not_counted_")}
    not_counted = flows.filter(~pl.col("is_counted"))
    assert not_counted.height == flows["double_count_reason"].is_not_null().sum() == sum(reported.values())
    assert not_counted.height >= 1  # the sample holds a partner report that the UN entity also reported


def test_rerunning_a_partition_gives_identical_files(sample_run, tmp_path):
    data_dir, _ = sample_run
    before = table_hashes(data_dir)
    assert run(data_dir, SAMPLE_SOURCES).success
    assert table_hashes(data_dir) == before
    assert not any((data_dir / ".staging").iterdir())


def test_landing_is_immutable_for_past_dates(sample_run):
    data_dir, _ = sample_run
    manifest = data_dir / "landing" / "iati_activities" / DAY / "_manifest.json"
    assert manifest.is_file()
    files = sorted(p.name for p in manifest.parent.iterdir())
    assert files == ["_manifest.json", "undp-activities-2.03.xml", "undp-truncated-2.03.xml",
                     "unicef-activities-2.03.xml", "wfp-activities-2.03.xml"]


def test_a_date_range_backfills_in_one_run(tmp_path):
    result = run(tmp_path, SAMPLE_SOURCES, start="2026-11-01", end="2026-11-03")
    assert result.success
    con = duckdb.connect()
    per_day = con.execute(f"""select snapshot_date::varchar, count(*) from
        read_parquet('{tmp_path}/curated/iati_activities/**/*.parquet', hive_partitioning=true) group by 1 order by 1""").fetchall()
    assert per_day == [("2026-11-01", 27), ("2026-11-02", 27), ("2026-11-03", 27)]


def test_a_run_where_most_input_is_broken_fails_and_publishes_nothing(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "good.xml").write_text(iati_xml(
        '<iati-activity><iati-identifier>OK-1</iati-identifier><reporting-org ref="X" type="40"/></iati-activity>'))
    (inputs / "legacy.xml").write_text(iati_xml("".join(
        f'<iati-activity><iati-identifier>OLD-{i}</iati-identifier></iati-activity>' for i in range(5)), version="1.01"))
    (inputs / "garbage.xml").write_text("not xml at all")
    sources = tmp_path / "sources.yaml"
    sources.write_text("iati_activities: [in/*.xml]\n")
    data_dir = tmp_path / "data"
    result = run(data_dir, sources, max_share=0.5)
    assert not result.success
    [failure] = result.get_step_failure_events()
    message = failure.step_failure_data.error.message
    assert "Not published" in message and f"{DAY}: iati_activities" in message and "source=iati_activities" in message
    failed = [c for c in result.get_asset_check_evaluations() if not c.passed]
    assert {c.asset_key.path[-1] for c in failed} >= {"iati_activities"}
    assert not (data_dir / "curated" / "iati_activities" / f"snapshot_date={DAY}").exists()
    rejects = pl.read_parquet(data_dir / "quality" / "rejects" / "source=iati_activities" / f"snapshot_date={DAY}" / "*.parquet")
    assert rejects.filter(pl.col("check") == "readable_file")["file"].to_list() == ["garbage.xml"]
    assert rejects.filter(pl.col("check") == "supported_version").height == 5
    # with a laxer threshold the good activity is published and the rejects stay
    assert run(data_dir, sources, max_share=0.9).success
    assert pl.read_parquet(data_dir / "curated" / "iati_activities" / "**/*.parquet")["iati_identifier"].to_list() == ["OK-1"]


def test_a_sources_file_naming_only_some_sources_runs_those(tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"exchange_rates: [{PROJECT / 'data/sample/exchange_rates/imf-annual-sample.csv'}]\n")
    result = run(tmp_path / "data", sources)
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    reference = {f"curated/{t}" for t in REFERENCE_TABLES}  # built from packages and codelists, no source needed
    assert materialized == {"landing/exchange_rates"} | reference
    assert sorted(p.name for p in (tmp_path / "data" / "curated").iterdir()) == sorted(REFERENCE_TABLES)


def cli_environment(monkeypatch, data_dir: Path, sources: Path) -> None:
    """The command line's settings for a test: its data dir and sources, run history in the data dir."""
    monkeypatch.setenv("PARTNERSHIP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PARTNERSHIP_SOURCES", str(sources))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("PARTNERSHIP_LOG_LEVEL", raising=False)


def test_a_cli_run_of_some_sources_still_writes_the_catalog_and_dictionary(tmp_path, monkeypatch, capsys):
    import pycountry

    sources = tmp_path / "sources.yaml"
    sources.write_text(f"exchange_rates: [{PROJECT / 'data/sample/exchange_rates/imf-annual-sample.csv'}]\n")
    cli_environment(monkeypatch, tmp_path / "data", sources)
    assert main(["run", "--date", DAY]) == 0
    out = capsys.readouterr().out
    assert f"catalog: {tmp_path / 'data' / 'partnership.duckdb'}" in out and "data dictionary:" in out
    con = duckdb.connect(str(tmp_path / "data" / "partnership.duckdb"), read_only=True)
    assert con.execute("select count(*) from ref_countries").fetchall()[0][0] == len(pycountry.countries) + 1  # + Kosovo
    assert con.execute("select count(*) from latest_financing_flows").fetchall()[0][0] == 0  # there, empty


def test_a_cli_backfill_prints_a_progress_log_then_the_summary_and_remembers_how_it_ended(tmp_path, monkeypatch,
                                                                                          capsys):
    cli_environment(monkeypatch, tmp_path / "data", SAMPLE_SOURCES)
    assert main(["backfill", "--start", "2026-11-18", "--end", DAY]) == 0
    captured = capsys.readouterr()
    log, out = captured.err.splitlines(), captured.out
    # a graph of steps (the IATI tables) counts its ops; its mapped op, one step per unit, once
    steps = sum(len(n.definition.nodes) if isinstance(n.definition, dg.GraphDefinition) else 1
                for n in build_definitions().resolve_job_def("nightly_snapshot").graph.nodes)
    assert [line.split()[1] for line in log if "] " in line and line.split()[1].startswith("[")] == [
        f"[{i}/{steps}]" for i in range(1, steps + 1)]
    assert not any("Traceback" in line or "STEP_" in line for line in log)
    # a date's details (files landed, rows per date) are DEBUG in a run over several dates
    assert not any("sha256=" in line or "rows /" in line for line in log)
    assert any("(date 1/3): 4/4 files read" in line for line in log)
    # one line per table published, whatever the number of dates
    assert sum("curated/iati_activities:" in line for line in log) == 1
    assert len(log) < 2 * steps + 60
    # the summary on stdout
    assert f"Snapshot 2026-11-18..{DAY}: succeeded (run " in out
    assert "iati_transactions" in out and str(tmp_path / "data" / "curated" / "iati_budgets") in out
    row = summarize(DataStore(tmp_path / "data"), [DAY]).filter(pl.col("table") == "iati_activities").row(0, named=True)
    assert (row["rows"], row["rejected"]) == (27, 4)
    # how each date's run ended is remembered; run history is kept beside the data
    assert main(["summary", "--date", DAY]) == 0
    assert f"Snapshot {DAY}: succeeded (run " in capsys.readouterr().out
    assert (tmp_path / "data" / ".dagster" / "dagster.yaml").is_file()


def test_a_download_that_keeps_failing_is_one_line_with_its_cause_and_its_retries(tmp_path, capsys, monkeypatch):
    from pipelines.cli import execute, failed_steps
    from tests.conftest import unreachable_sources

    sources, url = unreachable_sources(tmp_path)
    monkeypatch.delenv("PARTNERSHIP_LOG_LEVEL", raising=False)
    result = execute(DAY, data_dir=tmp_path / "data", resources={
        "sources": SourcesResource(sources_file=str(sources)), "storage": StorageResource(data_dir=str(tmp_path / "data")),
        "http": HttpResource(max_attempts=3, backoff_seconds=0.01)})
    log = capsys.readouterr().err.splitlines()
    assert not result.success
    assert [line.split(" ", 1)[1] for line in log if "retry" in line] == [
        f"WARNING landing__un_revenue: un_revenue: {url}: retry {n}/3 in 0 s: connection failed"
        for n in (2, 3)]
    failures = [line for line in log if "FAILED" in line]
    assert len(failures) == 1 and failures[0].endswith(
        f"landing__un_revenue: FAILED: LandingError: {url}: failed after 3 attempts: connection failed")
    assert any(line.endswith("un_revenue_table: not run (a step it depends on failed)") for line in log)
    assert not any("Traceback" in line or "Blocking asset check" in line for line in log)
    assert failed_steps(result) == [failures[0].split("ERROR ", 1)[1].replace(": FAILED", "", 1)]


def test_reuse_landed_only_never_lands_todays_files_under_a_past_date(tmp_path, monkeypatch, capsys):
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"un_revenue: [{PROJECT / 'data/sample/financing/un-revenue.csv'}]\n")
    cli_environment(monkeypatch, tmp_path / "data", sources)
    landing = tmp_path / "data" / "landing" / "un_revenue"
    assert main(["run", "--date", "2026-11-19"]) == 0
    assert "the files as they are today" in capsys.readouterr().err  # a past date said so
    assert main(["backfill", "--start", "2026-11-19", "--end", "2026-11-20", "--reuse-landed-only"]) == 0
    err = capsys.readouterr().err
    assert "no files landed before for 1 past date(s) (2026-11-20..2026-11-20): not fetched" in err
    assert (landing / "2026-11-19").is_dir() and not (landing / "2026-11-20").exists()
    store = DataStore(tmp_path / "data")
    assert store.has_partition("un_revenue_by_contributor", "2026-11-19")
    assert not store.has_partition("un_revenue_by_contributor", "2026-11-20")


@pytest.mark.realdata
def test_whole_graph_on_real_data(real_run_outcome):
    data_dir, result = real_run_outcome  # the shared run of the real files (the default reject threshold, 0.5)
    con = duckdb.connect()
    by_file = dict(con.execute(f"""select source_file, count(*) from
        read_parquet('{data_dir}/curated/iati_transactions/**/*.parquet', hive_partitioning=true) group by 1""").fetchall())
    assert by_file["iom-XM-DAC-47066-real-577-activities-2.03.xml"] == 577
    assert by_file["nl-mfa-XM-DAC-7-real-13-activities-2.03.xml"] == 72
    assert by_file["gb-dfid-albania-real-8-activities-2.01.xml"] == 41
    quarantined = con.execute(f"""select file, reason from read_parquet('{data_dir}/quality/rejects/**/*.parquet',
        hive_partitioning=true) where "check" = 'readable_file'""").fetchall()
    assert quarantined == [("iati-official-organisation-example-annotated-2.03.xml",
                            "file quarantined: wrong root element <iati-organisations>, expected <iati-activities>")]

    def count(table):
        return con.execute(f"select count(*) from read_parquet('{data_dir}/curated/{table}/**/*.parquet', "
                           "hive_partitioning=true)").fetchone()[0]

    def rejected(source):
        return con.execute(f"""select count(distinct coalesce(record_key, file)) from read_parquet(
            '{data_dir}/quality/rejects/**/*.parquet', hive_partitioning=true)
            where source = '{source}' and severity = 'error'""").fetchone()[0]

    assert count("gc_participants") + rejected("ungc_participants") == 10229
    assert count("local_networks") == 76
    assert count("partnerships") == 2650 and count("partnership_sdg_targets") == 14834
    assert count("un_revenue_by_contributor") + rejected("un_revenue") == 6132
    assert count("network_coverage") >= 76
    assert count("gc_participant_status_history") == count("gc_participants")
    assert count("sanctioned_entities") == 1018 + 877
    changes = dict(con.execute(f"""select change, count(*) from read_parquet('{data_dir}/curated/sanctions_changes/*.parquet')
        group by 1""").fetchall())
    assert (changes["added"], changes["removed"]) == (45, 186)
    assert count("organizations") == count("partner_screening") > 10000
    assert con.execute(f"""select count(*) from read_parquet('{data_dir}/curated/partner_screening/**/*.parquet',
        hive_partitioning=true) where risk_level = 'high' and list_contains(flags, 'sanctions_match')""").fetchone()[0] == 0
    checks = result.get_asset_check_evaluations()
    assert [c.asset_key.path[-1] for c in checks if c.check_name == "reconciles_with_facts" and not c.passed] == []
    assert len([c for c in checks if c.check_name == "reconciles_with_facts"]) == 4


def test_sample_graph_publishes_the_partnership_network_and_revenue_tables(sample_run):
    data_dir, _ = sample_run
    con = duckdb.connect()

    def count(table, where="true"):
        return con.execute(f"select count(*) from read_parquet('{data_dir}/curated/{table}/**/*.parquet', "
                           f"hive_partitioning=true) where {where}").fetchone()[0]

    assert count("gc_participants") == 44
    assert count("local_networks") == 9
    assert count("network_coverage", "has_local_network") == 9
    assert count("partnerships") == 14
    assert count("partnership_sdg_targets", "kind = 'target'") > 0
    assert count("un_revenue_by_contributor", "contributor_type_method = 'unclassified'") == 1
    assert count("gc_participant_status_history") == 44
    # coverage reconciles with the participants it counts
    totals = con.execute(f"""select sum(participants_total) from read_parquet('{data_dir}/curated/network_coverage/**/*.parquet',
        hive_partitioning=true)""").fetchone()[0]
    assert totals == count("gc_participants", "country_iso3 is not null")


def test_status_history_is_built_across_partitions_in_date_order(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    header = "Participant,Type,Sector,Country,Joined On,Status,Ownership,Employees,Reporting Due On,Delisted On,Delisting Reason\n"
    sources = tmp_path / "sources.yaml"
    sources.write_text("ungc_participants: [in/participants.csv]\n")
    states = {
        "2026-01-01": "Acme,Company,Banks,Kenya,2020-01-01,Active,,10,,,\n",
        "2026-01-02": "Acme,Company,Banks,Kenya,2020-01-01,Non-communicating,,10,,,\n",
        "2026-01-03": "Acme,Company,Banks,Kenya,2020-01-01,Delisted,,10,,2026-01-03,Expulsion for failure to communicate progress\n",
    }
    data_dir = tmp_path / "data"
    # run the partitions out of order: the history still follows snapshot dates
    for day in ("2026-01-03", "2026-01-01", "2026-01-02"):
        (inputs / "participants.csv").write_text(header + states[day])
        assert run(data_dir, sources, partition=day).success
    history = pl.read_parquet(data_dir / "curated" / "gc_participant_status_history" / "*.parquet").sort("spell_number")
    assert history["status"].to_list() == ["Active", "Non-communicating", "Delisted"]
    assert [str(d) for d in history["valid_from"]] == ["2020-01-01", "2026-01-02", "2026-01-03"]
    assert [str(d) if d else None for d in history["valid_to"]] == ["2026-01-02", "2026-01-03", None]
    assert history["is_current"].to_list() == [False, False, True]
    assert history["days_since_joined"].to_list()[-1] == (date(2026, 1, 3) - date(2020, 1, 1)).days


def test_sample_graph_screens_partners_and_reconciles_marts(sample_run):
    data_dir, _ = sample_run
    screening = pl.read_parquet(data_dir / "curated" / "partner_screening" / "**" / "*.parquet")
    # two companies called Delta Logistics Ltd (Bangladesh, Norway): the country-less partner mention no
    # longer chains them into one organisation, and the reviewed decision stays with Bangladesh's
    deltas = screening.filter(pl.col("canonical_name") == "Delta Logistics Ltd")
    assert sorted(deltas["country_iso3"].to_list()) == ["BGD", "NOR"]
    delta = deltas.filter(pl.col("country_iso3") == "BGD").row(0, named=True)
    assert (delta["screened_risk_level"], delta["risk_level"], delta["decision"]) == ("high", "clear", "cleared")
    assert delta["sanctions_reference_number"] == "SAe.003"  # the newer list, by dateGenerated
    flows = pl.read_parquet(data_dir / "curated" / "financing_flows" / "**" / "*.parquet")
    mart = pl.read_parquet(data_dir / "mart" / "mart_private_contributions_by_entity_year" / "**" / "*.parquet")
    counted = flows.filter(pl.col("is_counted") & (pl.col("direction") == "to_un")
                           & pl.col("provider_type_code").is_in(["60", "70", "71", "72", "73"]) & pl.col("amount_usd").is_not_null())
    assert round(mart["amount_usd"].sum() * 100) == round(counted["amount_usd"].sum() * 100)
    rejects = pl.read_parquet(data_dir / "quality" / "rejects" / "source=partner_screening" / "**" / "*.parquet")
    assert rejects["record_key"].to_list() == ["org-0000000000000000"]


def test_unchanged_inputs_skip_the_parsing_and_say_so(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for f in (PROJECT / "data" / "sample" / "iati").glob("*-activities-2.03.xml"):
        (inputs / f.name).write_bytes(f.read_bytes())
    sources = tmp_path / "sources.yaml"
    sources.write_text("iati_activities: [in/*.xml]\n")
    data_dir = tmp_path / "data"
    assert run(data_dir, sources, partition="2026-11-01").success
    second = run(data_dir, sources, partition="2026-11-02")
    meta = {m.asset_key.to_user_string(): m.metadata for m in second.asset_materializations_for_node("iati_curated_tables")}
    assert meta["curated/iati_transactions"]["partitions_reused_unchanged_input"].value == 1
    assert meta["curated/iati_transactions"]["reused_from"].value == {"2026-11-02": "2026-11-01"}
    assert meta["curated/iati_transactions"]["dagster/row_count"].value == 80
    tables = data_dir / "curated" / "iati_transactions"
    day1, day2 = (pl.read_parquet(tables / f"snapshot_date=2026-11-0{d}" / "*.parquet") for d in (1, 2))
    assert day1.equals(day2)
    # a changed input is parsed again
    (inputs / "wfp-activities-2.03.xml").write_text((inputs / "wfp-activities-2.03.xml").read_text().replace("WFP-00001", "WFP-10001"))
    third = run(data_dir, sources, partition="2026-11-03")
    meta = {m.asset_key.to_user_string(): m.metadata for m in third.asset_materializations_for_node("iati_curated_tables")}
    assert meta["curated/iati_transactions"]["partitions_reused_unchanged_input"].value == 0
    ids = pl.read_parquet(data_dir / "curated" / "iati_activities" / "snapshot_date=2026-11-03" / "*.parquet")["iati_identifier"]
    assert "XM-DAC-41140-WFP-10001" in ids.to_list()
