"""The data dir's own Dagster instance: its event log keeps engines open but writes the same SQLite
files Dagster's own storage (the webserver's, the daemon's) reads."""

from pathlib import Path

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.instance import LEGACY_SETTINGS, MARKER, PooledSqliteEventLogStorage, ensure_instance_settings


@dg.asset
def one() -> int:
    return 1


@dg.asset
def two(one: int) -> int:
    return one + 1


def test_a_run_through_the_pooled_event_log_reads_back_with_dagsters_own_storage(tmp_path, monkeypatch):
    home = tmp_path / "home"
    ensure_instance_settings(home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.get()
    assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
    runs = [dg.materialize([one, two], instance=instance) for _ in range(PooledSqliteEventLogStorage.MAX_ENGINES + 3)]
    assert all(r.success for r in runs)
    # one engine per database file, never more than the cap however many runs wrote
    assert len(instance.event_log_storage._engines) <= PooledSqliteEventLogStorage.MAX_ENGINES
    instance.dispose()
    assert not instance.event_log_storage._engines

    plain = SqliteEventLogStorage(str(home / "history" / "runs"))
    for result in runs:
        logs = plain.get_logs_for_run(result.run_id)
        kinds = [e.dagster_event.event_type_value for e in logs if e.dagster_event]
        assert kinds.count("ASSET_MATERIALIZATION") == 2 and kinds[-1] == "PIPELINE_SUCCESS"
    latest = plain.get_latest_materialization_events([dg.AssetKey("two")])[dg.AssetKey("two")]
    assert latest.run_id == runs[-1].run_id


def test_the_settings_file_follows_the_data_dir_but_never_replaces_the_operators_own(tmp_path):
    home = tmp_path / "a" / ".dagster"
    settings = ensure_instance_settings(home)
    text = settings.read_text()
    assert text.startswith(MARKER) and f"'{home.resolve() / 'history' / 'runs'}'" in text
    # the data dir moved: the file written here is rewritten for the new place
    moved = tmp_path / "b" / ".dagster"
    moved.mkdir(parents=True)
    (moved / "dagster.yaml").write_text(text)
    assert str(moved.resolve()) in ensure_instance_settings(moved).read_text()
    # the file earlier versions wrote is upgraded; an operator's own file is left as it is
    legacy = tmp_path / "c"
    legacy.mkdir()
    (legacy / "dagster.yaml").write_text(LEGACY_SETTINGS)
    assert ensure_instance_settings(legacy).read_text().startswith(MARKER)
    own = tmp_path / "d"
    own.mkdir()
    (own / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    assert ensure_instance_settings(own).read_text() == "telemetry:\n  enabled: true\n"
    assert Path(own / "dagster.yaml").stat().st_size > 0
