"""Downloads against a local HTTP server that misbehaves on purpose (127.0.0.1 only)."""

import base64
import gzip
import hashlib
import http.server
import threading
import time

import pytest

from pipelines.storage.fetch import FetchError, HttpFetcher
from pipelines.storage.landed import LandingError, land_source, read_manifest
from pipelines.storage.publish import owner_tag
from pipelines.storage.settings import SourceSpec

BODY = b"<iati-activities version='2.03'>" + b"x" * 50_000 + b"</iati-activities>"
SHA = hashlib.sha256(BODY).hexdigest()


class Script:
    """What the server answers, per path: a list of behaviours consumed one request at a time."""

    def __init__(self):
        self.plans: dict[str, list[str]] = {}
        self.calls: dict[str, int] = {}
        self.headers: list[dict] = []


def make_handler(script: Script):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            path = self.path.split("?")[0]
            script.calls[path] = script.calls.get(path, 0) + 1
            script.headers.append(dict(self.headers))
            plan = script.plans.get(path, ["ok"])
            behaviour = plan.pop(0) if len(plan) > 1 else plan[0]
            if behaviour == "ok" or behaviour == "etag":
                if behaviour == "etag" and self.headers.get("If-None-Match") == '"v1"':
                    self.send_response(304)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(BODY)))
                self.send_header("ETag", '"v1"')
                self.send_header("Repr-Digest", f"sha-256=:{base64.b64encode(hashlib.sha256(BODY).digest()).decode()}:")
                self.end_headers()
                self.wfile.write(BODY)
            elif behaviour == "500":
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif behaviour == "429":
                self.send_response(429)
                self.send_header("Retry-After", "2")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif behaviour in ("truncated", "drop"):
                self.send_response(200)
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY[: len(BODY) // 3])
                self.wfile.flush()
                if behaviour == "drop":
                    self.connection.shutdown(2)
                self.close_connection = True
            elif behaviour == "slow":
                time.sleep(1.5)
                self.send_response(200)
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY)
            elif behaviour == "other":
                other = BODY.replace(b"x", b"y")
                self.send_response(200)
                self.send_header("Content-Length", str(len(other)))
                self.end_headers()
                self.wfile.write(other)
            elif behaviour == "trickle-headers":
                self.close_connection = True
                try:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    for _ in range(40):  # one byte every 0.2 s: each byte restarts a read timeout
                        self.wfile.write(b"X")
                        self.wfile.flush()
                        time.sleep(0.2)
                except OSError:  # the client gave up, as it should
                    return
            elif behaviour == "trickle-body":
                self.send_response(200)
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.close_connection = True
                try:
                    for byte in BODY[:40]:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.2)
                except OSError:
                    return
            elif behaviour == "redirect-loop":
                self.send_response(302)
                self.send_header("Location", path)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif behaviour == "redirect-file":
                self.send_response(302)
                self.send_header("Location", "file:///etc/passwd")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif behaviour == "gzip":
                body = gzip.compress(BODY)
                self.send_response(200)
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif behaviour == "404":
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

    return Handler


@pytest.fixture
def server():
    script = Script()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(script))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def fetcher(sleeps, **kwargs):
    return HttpFetcher(timeout_seconds=0.5, connect_timeout_seconds=0.5, backoff_seconds=0.01, max_attempts=3,
                       sleep=sleeps.append, **kwargs)


def land(tmp_path, url, f):
    return land_source(SourceSpec(name="iati_activities", locations=(url,), base_dir=tmp_path), tmp_path / "landing",
                       "2026-11-25", reuse_existing=False, fetcher=f)


def assert_nothing_partial(tmp_path):
    landed = tmp_path / "landing" / "iati_activities" / "2026-11-25"
    for path in landed.glob("*") if landed.exists() else []:
        assert path.name == "_manifest.json" or path.read_bytes() == BODY, path
    assert not any((tmp_path / "landing" / ".staging").iterdir())


@pytest.mark.parametrize("plan,attempts,waits", [
    (["500", "ok"], 2, [0.01]),
    (["500", "500", "ok"], 3, [0.01, 0.02]),
    (["429", "ok"], 2, [2.0]),
    (["drop", "ok"], 2, [0.01]),
    (["truncated", "ok"], 2, [0.01]),
    (["slow", "ok"], 2, [0.01]),
], ids=["500-then-200", "two-500s", "429-retry-after", "dropped-mid-body", "truncated", "slow"])
def test_transient_failures_are_retried_then_succeed(tmp_path, server, plan, attempts, waits):
    base, script = server
    script.plans["/a.xml"] = plan
    sleeps = []
    result = land(tmp_path, f"{base}/a.xml", fetcher(sleeps))
    assert script.calls["/a.xml"] == attempts and sleeps == waits
    assert result.files[0].sha256 == SHA and result.files[0].path.read_bytes() == BODY
    assert_nothing_partial(tmp_path)


def test_each_retry_is_announced_with_its_attempt_and_wait(tmp_path, server):
    base, script = server
    script.plans["/a.xml"] = ["500", "429", "ok"]
    told, sleeps = [], []
    f = fetcher(sleeps, on_retry=lambda url, attempt, attempts, wait, reason: told.append((url, attempt, attempts, wait, reason)))
    land(tmp_path, f"{base}/a.xml", f)
    assert [(a, n, w) for _, a, n, w, _ in told] == [(1, 3, 0.01), (2, 3, 2.0)] and sleeps == [0.01, 2.0]
    assert told[0][0] == f"{base}/a.xml" and "500" in told[0][4] and "429" in told[1][4]


@pytest.mark.parametrize("plan,message,attempts", [
    (["500"], "failed after 3 attempts: HTTP 500", 3),
    (["truncated"], "incomplete body", 3),
    (["slow"], "timed out", 3),
    (["404"], "HTTP 404", 1),
], ids=["always-500", "always-truncated", "always-slow", "404-no-retry"])
def test_lasting_failures_fail_clearly_and_land_nothing(tmp_path, server, plan, message, attempts):
    base, script = server
    script.plans["/a.xml"] = plan
    with pytest.raises(LandingError, match=message):
        land(tmp_path, f"{base}/a.xml?token=t0ps3cret", fetcher([]))
    assert script.calls["/a.xml"] == attempts
    assert_nothing_partial(tmp_path)


def test_a_different_file_than_published_fails_the_checksum(tmp_path, server):
    base, script = server
    script.plans["/a.xml"] = ["other"]
    with pytest.raises(LandingError, match="checksum mismatch"):
        land(tmp_path, f"{base}/a.xml#sha256={SHA}", fetcher([]))
    assert_nothing_partial(tmp_path)
    script.plans["/a.xml"] = ["ok"]
    assert land(tmp_path, f"{base}/a.xml#sha256={SHA}", fetcher([])).files[0].sha256 == SHA


def test_size_limit_is_enforced(tmp_path, server):
    base, _ = server
    with pytest.raises(LandingError, match="byte limit"):
        land(tmp_path, f"{base}/a.xml", fetcher([], max_bytes=1000))
    assert_nothing_partial(tmp_path)


def test_conditional_requests_do_not_download_an_unchanged_file_twice(tmp_path, server):
    base, script = server
    script.plans["/a.xml"] = ["etag"]
    first = land(tmp_path, f"{base}/a.xml", fetcher([]))
    manifest = read_manifest(tmp_path / "landing" / "iati_activities" / "2026-11-25")
    assert manifest["files"][0]["etag"] == '"v1"' and first.changed
    again = land(tmp_path, f"{base}/a.xml", fetcher([]))
    assert script.headers[-1].get("If-None-Match") == '"v1"'
    assert not again.changed and again.files[0].sha256 == SHA


def test_retry_after_is_capped():
    f = HttpFetcher(max_retry_after_seconds=5)
    assert f._retry_after("3600") == 5 and f._retry_after("2") == 2 and f._retry_after("soon") is None


def test_fetch_error_never_shows_query_or_credentials(tmp_path, server):
    base, script = server
    script.plans["/a.xml"] = ["404"]
    url = base.replace("http://", "http://user:pa55word@") + "/a.xml?api_key=k3y"
    with pytest.raises(FetchError) as err:
        HttpFetcher(max_attempts=1).fetch(url, tmp_path / "x")
    assert "pa55word" not in str(err.value) and "k3y" not in str(err.value)


@pytest.mark.parametrize("plan", ["trickle-headers", "trickle-body"])
def test_a_trickling_server_is_given_up_on_within_the_deadline(tmp_path, server, plan):
    base, script = server
    script.plans["/t.xml"] = [plan]
    sleeps = []
    f = HttpFetcher(timeout_seconds=0.5, connect_timeout_seconds=0.5, max_attempts=2, backoff_seconds=0.01,
                    attempt_deadline_seconds=1.5, min_bytes_per_second=1000, sleep=sleeps.append)
    started = time.monotonic()
    with pytest.raises(LandingError, match="gave up"):
        land(tmp_path, f"{base}/t.xml", f)
    assert time.monotonic() - started < 2 * 1.5 + 2  # two attempts, each cut at its deadline or sooner
    assert_nothing_partial(tmp_path)


@pytest.mark.parametrize("plan,message", [("redirect-loop", "redirects"), ("redirect-file", "cannot be requested")])
def test_redirect_loops_and_redirects_to_other_schemes_name_the_location(tmp_path, server, plan, message):
    base, script = server
    script.plans["/r.xml"] = [plan]
    with pytest.raises(FetchError) as err:
        HttpFetcher(max_attempts=1).fetch(f"{base}/r.xml?key=s3cret", tmp_path / "x")
    assert f"{base}/r.xml" in str(err.value) and message in str(err.value)
    assert "s3cret" not in str(err.value) and err.value.__cause__ is None


def test_a_gzip_encoded_answer_is_decoded_and_complete(tmp_path, server):
    base, script = server
    script.plans["/g.xml"] = ["gzip"]
    result = HttpFetcher(max_attempts=1).fetch(f"{base}/g.xml", tmp_path / "g.xml")
    assert (tmp_path / "g.xml").read_bytes() == BODY and result.sha256 == SHA


def test_staging_copies_of_a_killed_run_are_removed_at_the_next_landing(tmp_path, server):
    base, _ = server
    staging = tmp_path / "landing" / ".staging"
    staging.mkdir(parents=True)
    dead = staging / "p999999.12345-iati_activities-abc"  # a pid that does not run
    dead.write_bytes(b"x" * 1000)
    live = staging / f"{owner_tag()}-iati_activities-def"  # this process: still working on it
    live.write_bytes(b"y")
    land(tmp_path, f"{base}/a.xml", fetcher([]))
    assert not dead.exists() and live.exists()
