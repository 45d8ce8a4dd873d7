"""Landing copies or downloads files with a manifest; the same content lands only once."""

import http.server
import json
import threading
from datetime import UTC, datetime

import pytest

from pipelines.storage.fetch import HttpFetcher
from pipelines.storage.landed import LandingError, land_source, read_manifest
from pipelines.storage.settings import SourceSpec


def spec(tmp_path, *locations):
    return SourceSpec(name="iati_activities", locations=tuple(locations), base_dir=tmp_path)


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.xml").write_text("<a/>")
    (folder / "b.xml").write_text("<b/>")
    return folder


def test_files_are_copied_with_a_manifest(tmp_path, inputs):
    result = land_source(spec(tmp_path, "in/*.xml"), tmp_path / "landing", "2026-11-25", reuse_existing=False)
    folder = tmp_path / "landing" / "iati_activities" / "2026-11-25"
    assert sorted(p.name for p in folder.iterdir()) == ["_manifest.json", "a.xml", "b.xml"]
    manifest = read_manifest(folder)
    entry = manifest["files"][0]
    assert entry["name"] == "a.xml" and entry["bytes"] == 4 and len(entry["sha256"]) == 64
    assert entry["origin"] == str(inputs / "a.xml") and entry["fetched_at"]
    assert result.changed and (folder / "a.xml").read_text() == "<a/>"
    assert not any((tmp_path / "landing" / ".staging").iterdir())


def test_landing_the_same_content_again_changes_nothing(tmp_path, inputs):
    clock = iter([datetime(2026, 11, 25, 2, tzinfo=UTC), datetime(2026, 11, 25, 3, tzinfo=UTC),
                  datetime(2026, 11, 25, 4, tzinfo=UTC)])
    s = spec(tmp_path, "in/*.xml")
    land_source(s, tmp_path / "landing", "2026-11-25", reuse_existing=False, now=lambda: next(clock))
    manifest_path = tmp_path / "landing" / "iati_activities" / "2026-11-25" / "_manifest.json"
    before = manifest_path.read_bytes()
    mtime = manifest_path.stat().st_mtime_ns
    again = land_source(s, tmp_path / "landing", "2026-11-25", reuse_existing=False, now=lambda: next(clock))
    assert not again.changed
    assert manifest_path.read_bytes() == before and manifest_path.stat().st_mtime_ns == mtime

    (inputs / "b.xml").write_text("<b>changed</b>")
    changed = land_source(s, tmp_path / "landing", "2026-11-25", reuse_existing=False, now=lambda: next(clock))
    entries = {e["name"]: e for e in json.loads(manifest_path.read_text())["files"]}
    assert changed.changed
    assert entries["a.xml"]["fetched_at"] == "2026-11-25T02:00:00+00:00"  # unchanged file keeps its fetch time
    assert entries["b.xml"]["fetched_at"] == "2026-11-25T04:00:00+00:00"  # re-fetched


def test_a_past_snapshot_is_reused_as_landed(tmp_path, inputs):
    s = spec(tmp_path, "in/a.xml")
    land_source(s, tmp_path / "landing", "2026-01-01", reuse_existing=True)
    (inputs / "a.xml").write_text("<a>new</a>")
    result = land_source(s, tmp_path / "landing", "2026-01-01", reuse_existing=True)
    assert result.reused and (result.files[0].path.read_text() == "<a/>")


def test_same_names_from_two_folders_do_not_overwrite_each_other(tmp_path, inputs):
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.xml").write_text("<other/>")
    result = land_source(spec(tmp_path, "in/a.xml", "other/a.xml"), tmp_path / "landing", "2026-11-25", reuse_existing=False)
    assert [f.name for f in result.files] == ["a.xml", "01-a.xml"]
    assert result.files[1].path.read_text() == "<other/>"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/private/") and self.headers.get("Authorization") != "Bearer s3cret-token":
            self.send_response(401)
            self.end_headers()
            return
        if self.path.split("?")[0] in ("/iati.xml", "/private/iati.xml"):
            body = b"<iati-activities/>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_urls_are_downloaded_and_failures_leave_nothing(tmp_path, server):
    ok = land_source(spec(tmp_path, f"{server}/iati.xml?token=abc"), tmp_path / "landing", "2026-11-25", reuse_existing=False)
    assert ok.files[0].name == "iati.xml" and ok.files[0].path.read_bytes() == b"<iati-activities/>"
    with pytest.raises(LandingError, match="missing.xml: HTTP 404") as err:
        land_source(spec(tmp_path, f"{server}/missing.xml?token=s3cret"), tmp_path / "landing", "2026-11-26",
                    reuse_existing=False)
    assert "s3cret" not in str(err.value)  # query strings may carry tokens: never in messages
    assert not (tmp_path / "landing" / "iati_activities" / "2026-11-26" / "missing.xml").exists()
    assert not any((tmp_path / "landing" / ".staging").iterdir())


def test_a_bearer_token_is_sent_and_never_written_anywhere(tmp_path, server):
    fetcher = HttpFetcher(bearer_token="s3cret-token", max_attempts=1)
    result = land_source(spec(tmp_path, f"{server}/private/iati.xml"), tmp_path / "landing", "2026-11-25",
                         reuse_existing=False, fetcher=fetcher)
    assert result.files[0].path.read_bytes() == b"<iati-activities/>"
    with pytest.raises(LandingError) as err:
        land_source(spec(tmp_path, f"{server}/private/missing.xml"), tmp_path / "landing", "2026-11-26",
                    reuse_existing=False, fetcher=HttpFetcher(bearer_token="wrong-s3cret", max_attempts=1))
    assert "HTTP 401" in str(err.value) and "s3cret" not in str(err.value)
    for path in (tmp_path / "landing").rglob("*"):
        if path.is_file():
            assert b"s3cret" not in path.read_bytes(), path


def test_identical_content_is_stored_once_across_dates_and_readable_by_all(tmp_path, inputs, monkeypatch):
    import hashlib
    import os
    import stat

    from pipelines.storage import landed

    days = [f"2026-11-{d:02d}" for d in range(20, 27)]
    land_source(spec(tmp_path, "in/*.xml"), tmp_path / "landing", days[0], reuse_existing=False)

    def no_copy(*args, **kwargs):
        raise AssertionError("content already landed was copied again")

    monkeypatch.setattr(landed.shutil, "copyfileobj", no_copy)  # hashed first, linked, never copied
    for day in days[1:]:
        land_source(spec(tmp_path, "in/*.xml"), tmp_path / "landing", day, reuse_existing=False)
    files = [tmp_path / "landing" / "iati_activities" / d / "a.xml" for d in days]
    inodes = {f.stat().st_ino for f in files}
    assert len(inodes) == 1 and files[0].stat().st_nlink == len(days) + 1  # the dates and the one stored object
    sha = hashlib.sha256(b"<a/>").hexdigest()
    assert (tmp_path / "landing" / ".objects" / sha[:2] / sha).stat().st_ino in inodes
    for f in files:
        mode = stat.S_IMODE(f.stat().st_mode)
        assert mode & 0o444 == 0o444 and not mode & 0o222, oct(mode)  # readable by all, written by none
        assert f.read_bytes() == b"<a/>"
    manifest = tmp_path / "landing" / "iati_activities" / days[0] / "_manifest.json"
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o644
    # new content on a later date is a new object; the earlier dates keep theirs
    monkeypatch.undo()
    (inputs / "a.xml").write_text("<a>changed</a>")
    land_source(spec(tmp_path, "in/*.xml"), tmp_path / "landing", "2026-11-27", reuse_existing=False)
    assert (tmp_path / "landing" / "iati_activities" / "2026-11-27" / "a.xml").read_text() == "<a>changed</a>"
    assert files[0].read_text() == "<a/>" and os.stat(files[0]).st_ino in inodes
