"""Sources files: lists or mappings, paths relative to the file, globs, URLs, partial files."""

import re

import pytest

from pipelines.resources import resolved_resources
from pipelines.storage.settings import SourcesConfigError, load_sources
from tests.conftest import PROJECT


def write(tmp_path, text):
    path = tmp_path / "config" / "sources.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_lists_and_mappings_relative_to_the_sources_file(tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("b.xml", "a.xml", "notes.txt"):
        (tmp_path / "in" / name).write_text("x")
    path = write(tmp_path, """
iati_activities:
  - ../in/*.xml
  - https://example.org/iati.xml
exchange_rates:
  locations: ../in/notes.txt
  format: imf
un_sanctions: []
""")
    specs = load_sources(path)
    assert [p.rsplit("/", 1)[-1] for p in specs["iati_activities"].resolve()] == ["a.xml", "b.xml", "iati.xml"]
    assert specs["exchange_rates"].format == "imf"
    assert specs["exchange_rates"].resolve() == [str(tmp_path / "in" / "notes.txt")]
    assert specs["un_sanctions"].locations == ()
    assert "ungc_participants" not in specs  # a partial file names only some sources


@pytest.mark.parametrize("text,message", [
    ("iati: [a.xml]", "unknown source 'iati'"),
    ("iati_activities: {paths: [a]}", "unknown keys"),
    ("iati_activities: 3", "must be a list"),
    ("- a\n- b", "top level must be a mapping"),
    ("iati_activities: [\n", "not valid YAML"),
])
def test_bad_sources_files_say_what_is_wrong(tmp_path, text, message):
    with pytest.raises(SourcesConfigError, match=message):
        load_sources(write(tmp_path, text))


def test_missing_file_and_folder_locations_are_errors(tmp_path):
    (tmp_path / "folder").mkdir()
    specs = load_sources(write(tmp_path, "iati_activities: [../missing.xml]\nexchange_rates: [../folder]"))
    with pytest.raises(SourcesConfigError, match="does not exist"):
        specs["iati_activities"].resolve()
    with pytest.raises(SourcesConfigError, match="is a folder"):
        specs["exchange_rates"].resolve()


def test_the_environment_chooses_the_sources_file(tmp_path, monkeypatch):
    path = write(tmp_path, "exchange_rates: []")
    monkeypatch.setenv("PARTNERSHIP_SOURCES", str(path))
    assert list(resolved_resources()["sources"].load()) == ["exchange_rates"]


ENVIRONMENT = {  # variable -> (resource, field, value set, value the field holds)
    "PARTNERSHIP_SOURCES": ("sources", "sources_file", "/x/sources.yaml", "/x/sources.yaml"),
    "PARTNERSHIP_MAX_TABLE_MB": ("sources", "max_table_mb", "7", 7),
    "PARTNERSHIP_DATA_DIR": ("storage", "data_dir", "/x/data", "/x/data"),
    "PARTNERSHIP_LOCK_TIMEOUT": ("storage", "lock_timeout_seconds", "12", 12),
    "PARTNERSHIP_DROP_FOLDER": ("storage", "drop_folder", "/x/drop", "/x/drop"),
    "PARTNERSHIP_MAX_REJECT_SHARE": ("quality", "max_reject_share", "0.25", 0.25),
    "PARTNERSHIP_DECISIONS": ("screening", "decisions_file", "/x/decisions.csv", "/x/decisions.csv"),
    "PARTNERSHIP_HTTP_TOKEN": ("http", "bearer_token", "s3cret", "s3cret"),
}


@pytest.mark.parametrize("variable", sorted(ENVIRONMENT))
def test_every_setting_from_the_environment_is_a_resource_field(variable, monkeypatch):
    resource, name, value, expected = ENVIRONMENT[variable]
    for other in ENVIRONMENT:
        monkeypatch.delenv(other, raising=False)
    default = getattr(resolved_resources()[resource], name)
    monkeypatch.setenv(variable, value)
    assert getattr(resolved_resources()[resource], name) == expected != default


def test_no_module_under_assets_or_schemas_reads_the_environment():
    offenders = [str(path.relative_to(PROJECT)) for folder in ("assets", "schemas") for path in (PROJECT / folder).rglob("*.py")
                 if re.search(r"\bos\.environ\b|\bgetenv\(|EnvVar", path.read_text(encoding="utf-8"))]
    assert offenders == []
