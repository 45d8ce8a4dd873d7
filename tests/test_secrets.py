"""A source token reaches the server and nothing else: not logs, metadata, manifests, errors or outputs."""

import http.server
import os
import subprocess
import sys
import threading

import pytest

from tests.conftest import PROJECT

pytestmark = pytest.mark.slow
SECRET = "tok-7f3c9b1e-SECRET"
SAMPLE = (PROJECT / "data" / "sample" / "iati" / "wfp-activities-2.03.xml").read_bytes()


class Handler(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):
        Handler.seen.append(self.headers.get("Authorization", ""))
        if self.headers.get("Authorization") != f"Bearer {SECRET}":
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = SAMPLE if self.path.startswith("/wfp.xml") else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def run_cli(tmp_path, sources_text, day, token=SECRET):
    sources = tmp_path / "sources.yaml"
    sources.write_text(sources_text)
    env = {**os.environ, "PARTNERSHIP_SOURCES": str(sources), "PARTNERSHIP_DATA_DIR": str(tmp_path / "data"),
           "PARTNERSHIP_HTTP_TOKEN": token, "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "PARTNERSHIP_LOG_LEVEL": "DEBUG"}
    (tmp_path / "dagster_home").mkdir(exist_ok=True)
    (tmp_path / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--date", day], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_token_is_sent_but_never_written(tmp_path, server):
    ok = run_cli(tmp_path, f"iati_activities: ['{server}/wfp.xml?key={SECRET}']\n", "2026-11-20")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert f"Bearer {SECRET}" in Handler.seen
    failed = run_cli(tmp_path, f"iati_activities: ['{server}/missing.xml']\n", "2026-11-21")
    assert failed.returncode != 0 and "missing.xml: HTTP 404" in failed.stdout + failed.stderr
    for output in (ok.stdout, ok.stderr, failed.stdout, failed.stderr):
        assert SECRET not in output
    leaks = []
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "sources.yaml" and SECRET.encode() in path.read_bytes():
            leaks.append(str(path.relative_to(tmp_path)))
    assert leaks == []
    assert (tmp_path / "data" / "curated" / "iati_activities" / "snapshot_date=2026-11-20").is_dir()


def leaks_under(tmp_path) -> list[str]:
    return [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
            if p.is_file() and p.name != "sources.yaml" and SECRET.encode() in p.read_bytes()]


@pytest.mark.parametrize("location,token,message", [
    ("http://alice:{secret}@/r.csv?token={secret}", SECRET, "cannot be requested"),  # credentials, no host
    ("http://alice:{secret}@127.0.0.1:9/r.csv", SECRET, "connection failed"),
    ("{server}/wfp.xml", SECRET + "\n", "PARTNERSHIP_HTTP_TOKEN holds characters"),  # a pasted newline
])
def test_malformed_urls_and_tokens_fail_without_writing_the_secret(tmp_path, server, location, token, message):
    url = location.format(secret=SECRET, server=server)
    failed = run_cli(tmp_path, f"iati_activities: ['{url}']\n", "2026-11-20", token=token)
    assert failed.returncode != 0
    assert message in failed.stdout + failed.stderr
    assert SECRET not in failed.stdout + failed.stderr
    assert leaks_under(tmp_path) == []  # run history, compute logs, event log, landing, outputs
