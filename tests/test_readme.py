"""The README documents the tables as the Pandera models define them, and its commands and settings exist."""

import re
import subprocess

import pytest

from pipelines.cli import describe_tables
from tests.conftest import PROJECT


def test_readme_tables_section_matches_the_models():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert describe_tables() in readme, "README is out of date: paste the output of `partnership describe`"


def test_the_quick_start_commands_are_make_targets_that_exist():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = quick_start.split("```bash", 1)[1].split("```", 1)[0]
    targets = re.findall(r"^make (\w+)", block, flags=re.M)
    assert targets == ["run", "test"]
    for target in targets:  # -n: print what would run, run nothing
        result = subprocess.run(["make", "-n", target], cwd=PROJECT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    assert "pytest" in subprocess.run(["make", "-n", "test"], cwd=PROJECT, capture_output=True, text=True).stdout
    assert "make test" in (PROJECT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_environment_variable_the_code_reads_is_documented_and_every_documented_one_is_read():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    configuration = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(PARTNERSHIP_\w+)`", configuration, flags=re.M))
    code = "\n".join(p.read_text(encoding="utf-8") for folder in ("pipelines", "assets", "schemas")
                     for p in (PROJECT / folder).rglob("*.py"))
    read = set(re.findall(r"[\"'](PARTNERSHIP_[A-Z_]+)[\"']", code))
    assert documented == read


def test_readme_cookbook_section_is_the_cookbook():
    from assets.reporting.cookbook import cookbook_markdown

    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Cookbook", 1)[1].split("\n## ", 1)[0]
    assert cookbook_markdown() in section, "README cookbook is out of date: paste cookbook_markdown()"


@pytest.mark.realdata
@pytest.mark.slow
def test_every_python_snippet_of_the_readme_runs_as_written_on_a_real_data_run(real_run, tmp_path, monkeypatch, capsys):
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    snippets = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert len(snippets) >= 2
    (tmp_path / "data").symlink_to(real_run)  # the snippets read ./data, the default data dir
    monkeypatch.chdir(tmp_path)
    for number, snippet in enumerate(snippets, start=1):
        exec(compile(snippet, f"README.md python block {number}", "exec"), {})
        printed = capsys.readouterr().out
        assert printed.strip(), f"python block {number} printed nothing"


@pytest.mark.realdata
@pytest.mark.slow
def test_every_cookbook_query_answers_on_the_real_data_catalog(real_run):
    import duckdb

    from assets.reporting.cookbook import COOKBOOK

    con = duckdb.connect(str(real_run / "partnership.duckdb"), read_only=True)
    for query in COOKBOOK:
        rows = con.sql(query.sql).fetchall()
        assert rows, f"{query.name}: no answer on the real files"
