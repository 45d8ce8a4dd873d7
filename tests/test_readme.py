"""The README documents the tables as the Pandera models define them."""

from pipelines.cli import describe_tables
from tests.conftest import PROJECT


def test_readme_tables_section_matches_the_models():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert describe_tables() in readme, "README is out of date: paste the output of `partnership describe`"


def test_readme_shows_the_quick_start_commands():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
