"""Mistakes an operator makes get one line each, before anything runs, and no traceback."""

import os
import subprocess
import sys

import pytest

from pipelines.cli import main
from pipelines.partitions import FIRST_SNAPSHOT
from tests.conftest import PROJECT

SAMPLE_SOURCES = PROJECT / "config" / "sources.yaml"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean environment: the sample sources, a fresh data dir, no DAGSTER_HOME."""
    for name in list(os.environ):
        if name.startswith("PARTNERSHIP_") or name == "DAGSTER_HOME":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PARTNERSHIP_SOURCES", str(SAMPLE_SOURCES))
    monkeypatch.setenv("PARTNERSHIP_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def problems(capsys, argv) -> tuple[int, list[str]]:
    status = main(argv)
    err = capsys.readouterr().err
    return status, [line for line in err.splitlines() if line]


def test_a_typo_in_a_source_name_is_one_line_with_a_suggestion_and_nothing_runs(env, capsys, monkeypatch):
    sources = env / "sources.yaml"
    sources.write_text(SAMPLE_SOURCES.read_text().replace("iati_activities:", "iati_activites:"))
    # the locations are relative to the sources file: keep them pointing at the sample
    sources.write_text(sources.read_text().replace("../data/sample", str(PROJECT / "data" / "sample")))
    monkeypatch.setenv("PARTNERSHIP_SOURCES", str(sources))
    status, lines = problems(capsys, ["run", "--date", "2026-11-20"])
    assert status == 2
    assert lines == [f"partnership: sources file {sources}: unknown source 'iati_activites'; did you mean iati_activities?",
                     "partnership: 1 problem found; nothing was run"]
    assert not (env / "data").exists()


def test_malformed_yaml_names_the_line_and_column(env, capsys, monkeypatch):
    sources = env / "sources.yaml"
    sources.write_text("exchange_rates:\n  - a.csv\n un_revenue: [b.csv\n")
    monkeypatch.setenv("PARTNERSHIP_SOURCES", str(sources))
    status, lines = problems(capsys, ["check"])
    assert status == 2 and len(lines) == 2
    assert lines[0].startswith(f"partnership: sources file {sources} line 3 column 2: not valid YAML")


def test_a_date_in_another_format_or_outside_the_partitions_says_the_format_and_range(env, capsys):
    status, lines = problems(capsys, ["run", "--date", "25-11-2026"])
    assert status == 2
    assert lines[0] == (f"partnership: date '25-11-2026' is not a date written YYYY-MM-DD "
                        f"(snapshot dates run from {FIRST_SNAPSHOT} to {__import__('datetime').datetime.now(__import__('datetime').UTC).date()})")
    status, lines = problems(capsys, ["backfill", "--start", "2019-12-30", "--end", "2026-01-02"])
    assert status == 2 and lines[0].startswith("partnership: date 2019-12-30 is outside the snapshot dates")
    status, lines = problems(capsys, ["backfill", "--start", "2026-02-02", "--end", "2026-02-01"])
    assert status == 2 and lines == ["partnership: --end 2026-02-01 is before --start 2026-02-02; nothing was run"]


def test_every_problem_is_listed_at_once_one_line_each(env, capsys, monkeypatch):
    sources = env / "sources.yaml"
    sources.write_text(f"un_revenue: [{env / 'missing.csv'}]\nexchange_rates: [{env / 'nothing-*.csv'}]\n")
    monkeypatch.setenv("PARTNERSHIP_SOURCES", str(sources))
    (env / "a-file").write_text("")
    monkeypatch.setenv("PARTNERSHIP_DATA_DIR", str(env / "a-file"))
    monkeypatch.setenv("DAGSTER_HOME", str(env / "no-such-home"))
    monkeypatch.setenv("PARTNERSHIP_MAX_REJECT_SHARE", "half")
    status, lines = problems(capsys, ["run", "--date", "2026-11-20"])
    assert status == 2
    assert lines == [
        "partnership: PARTNERSHIP_MAX_REJECT_SHARE='half' is not a share between 0 and 1 (e.g. 0.5)",
        f"partnership: data dir {env / 'a-file'} is not a directory this user can write (set PARTNERSHIP_DATA_DIR to one)",
        f"partnership: DAGSTER_HOME={env / 'no-such-home'} is not an existing directory this user can write "
        "(create it, or unset DAGSTER_HOME to keep run history in <data dir>/.dagster)",
        f"partnership: source 'un_revenue': location '{env / 'missing.csv'}' does not exist ({env / 'missing.csv'})",
        f"partnership: source 'exchange_rates': location '{env / 'nothing-*.csv'}' matches no file ({env / 'nothing-*.csv'})",
        "partnership: 5 problems found; nothing was run",
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders: the permission cannot be tested as root")
def test_a_read_only_data_dir_is_named(env, capsys, monkeypatch):
    data = env / "readonly"
    data.mkdir()
    data.chmod(0o555)
    monkeypatch.setenv("PARTNERSHIP_DATA_DIR", str(data))
    status, lines = problems(capsys, ["check"])
    assert status == 2 and "set PARTNERSHIP_DATA_DIR" in lines[0]


def test_a_good_configuration_checks_ok(env, capsys):
    assert main(["check"]) == 0
    assert capsys.readouterr().out.strip() == "partnership: configuration ok"


def test_the_command_line_says_its_version_commands_and_formats_without_a_traceback(env, capsys):
    def helped(*argv) -> str:
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--help"])
        assert exited.value.code == 0
        return capsys.readouterr().out

    for command in ("run", "backfill", "check", "summary", "docs", "describe", "refresh-codelists"):
        assert command in helped()
    assert "YYYY-MM-DD" in helped("run") and "YYYY-MM-DD" in helped("backfill")
    # as a process: the version, and a bad date is two lines on stderr, no traceback
    version = subprocess.run([sys.executable, "-m", "pipelines.cli", "--version"], capture_output=True, text=True,
                             cwd=PROJECT, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("partnership ")
    bad = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--date", "2026-13-01"], capture_output=True,
                         text=True, cwd=PROJECT, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 2


def test_a_url_that_cannot_be_requested_is_a_problem_named_without_its_secrets(env, capsys, monkeypatch):
    sources = env / "sources.yaml"
    sources.write_text("un_revenue: ['http://alice:s3cr3t@/r.csv?token=s3cr3t', 'http://127.0.0.1:port/x.csv']\n")
    monkeypatch.setenv("PARTNERSHIP_SOURCES", str(sources))
    status, lines = problems(capsys, ["check"])
    assert status == 2 and lines == [
        "partnership: source 'un_revenue': location http:///r.csv cannot be requested: no host",
        "partnership: source 'un_revenue': location http://127.0.0.1:port/x.csv cannot be requested: not a valid URL",
        "partnership: 2 problems found; nothing was run"]


def test_summary_says_when_a_date_was_never_run(env, capsys):
    assert main(["summary", "--date", "2026-11-19"]) == 1
    assert "Snapshot 2026-11-19: never run from this data dir" in capsys.readouterr().out


def test_help_version_and_check_load_no_heavy_library(env):
    """--help, --version and check answer without importing Dagster, Pandera, pandas or Polars (the
    seconds those take are the cost of a command that runs something)."""
    probe = ("import sys\nfrom pipelines.cli import main\n"
             "for argv in ([], ['--help'], ['--version']):\n"
             "    try:\n        main(['check'] if not argv else argv)\n    except SystemExit:\n        pass\n"
             "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'pandera', 'pandas', 'polars'})\n"
             "print('heavy:', ','.join(heavy))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT, timeout=120,
                          env={**os.environ})
    assert "configuration ok" in done.stdout, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "heavy:", done.stdout
