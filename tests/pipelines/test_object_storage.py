"""The published copy on object storage (PARTNERSHIP_PUBLISH_URL), against moto's S3 server started
here: every published file is there once, named by its content; the manifest lists every partition
with exactly its files; the DuckDB views over the copy count what the local catalog counts; a copy
cut short changes nothing readers see; objects no manifest needs are removed. Expected values come
from the data dir itself (hashlib, boto3, pyarrow), not from the copy's own code."""

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.storage import objects
from pipelines.storage.objects import PublishedCopyError, open_published
from pipelines.storage.store import DataStore
from schemas.catalog import TABLES

moto_server = pytest.importorskip("moto.server", reason="moto (a dev dependency: pip install -e '.[dev]') is needed")
boto3 = pytest.importorskip("boto3")

BUCKET, PREFIX = "published", "partnership"
URL = f"s3://{BUCKET}/{PREFIX}"


@pytest.fixture
def s3(monkeypatch):
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ENDPOINT_URL": f"http://{host}:{port}"}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client
    server.stop()


@pytest.fixture
def data(sample, tmp_path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(sample, copy, symlinks=True)
    return copy


def keys(client, prefix: str) -> set[str]:
    """The objects under ``prefix`` (not the empty "folder/" markers pyarrow's S3 file system keeps)."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/{prefix}")
    return {o["Key"][len(PREFIX) + 1:] for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/")}


def manifest(client, name: str = "_published.json") -> dict:
    return json.loads(client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{name}")["Body"].read())


def local_partitions(data: Path) -> dict[str, list[str]]:
    """Every published folder of the data dir (tables and rejects) -> sha256 of its Parquet files."""
    found = {}
    for layer in ("curated", "mart", "quality/rejects"):
        for folder, _, names in os.walk(data / layer):
            parquet = sorted(n for n in names if n.endswith(".parquet"))
            if parquet:
                found[str(Path(folder).relative_to(data))] = sorted(
                    hashlib.sha256((Path(folder) / n).read_bytes()).hexdigest() for n in parquet)
    return found


def local_landing(data: Path) -> dict[tuple[str, str, str], str]:
    """(source, date, file name) -> sha256 of every landed file."""
    return {(f.parent.parent.name, f.parent.name, f.name): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in (data / "landing").glob("*/*/*") if f.name != "_manifest.json" and not f.parent.parent.name.startswith(".")}


def manifest_partitions(document: dict) -> dict[str, list[str]]:
    found = {}
    for table, entry in document["tables"].items():
        for part in entry["partitions"]:
            folder = "/".join([entry["layer"], table, *(f"{k}={v}" for k, v in part["values"].items())])
            found[folder] = sorted(o.removeprefix("objects/").removesuffix(".parquet") for o in part["objects"])
    for part in document["rejects"]:
        folder = "/".join(["quality/rejects", *(f"{k}={v}" for k, v in part["values"].items())])
        found[folder] = sorted(o.removeprefix("objects/").removesuffix(".parquet") for o in part["objects"])
    return found


def local_counts(data: Path) -> dict[str, int]:
    con = duckdb.connect(str(data / "partnership.duckdb"), read_only=True)
    try:
        return {t: con.execute(f"select count(*) from {t}").fetchall()[0][0] for t in [*TABLES, "rejects"]}
    finally:
        con.close()


def copy_counts() -> dict[str, int]:
    con = open_published(URL)
    try:
        views = {r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()}
        return {t: con.execute(f"select count(*) from {t}").fetchall()[0][0] if t in views else 0
                for t in [*TABLES, "rejects"]}
    finally:
        con.close()


def test_the_copy_holds_every_published_file_once_and_reads_as_the_local_catalog(s3, data):
    store = DataStore(data)
    result = store.publish_copy(URL)
    expected, landed = local_partitions(data), local_landing(data)
    hashes = {h for files in expected.values() for h in files}
    assert len(expected) > 40 and keys(s3, "objects/") == {f"objects/{h}.parquet" for h in hashes}
    assert len(landed) >= 7 and keys(s3, "landing/") == {f"landing/{h}" for h in landed.values()}
    # identical partitions (and identical landed files) are one object each
    assert result.uploaded == len(hashes) + len(set(landed.values())) == result.objects
    document = manifest(s3)
    assert manifest_partitions(document) == expected
    assert {(source, day, f["name"]): f["object"].removeprefix("landing/") for source, days in document["landing"].items()
            for day, snapshot in days.items() for f in snapshot["files"]} == landed
    assert keys(s3, "catalog/") == {document["catalog_sql"]}
    # rows, read object by object with pyarrow, against the local catalog's views
    rows = {}
    for folder, files in manifest_partitions(document).items():
        rows[folder] = sum(pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/objects/{h}.parquet")
                                                      ["Body"].read())).num_rows for h in files)
    counts = local_counts(data)
    for table in TABLES:
        assert sum(n for f, n in rows.items() if f.split("/")[1] == table) == counts[table], table
    assert copy_counts() == counts
    assert {"docs/index.html", f"report/{sorted(p.name for p in (data / 'report').glob('2*.html'))[-1]}"} <= keys(s3, "")
    # again, with nothing new: nothing uploaded, nothing deleted, the same partitions
    again = store.publish_copy(URL)
    assert (again.uploaded, again.deleted) == (0, 0)
    assert manifest_partitions(manifest(s3)) == expected
    assert manifest_partitions(manifest(s3, "_published.previous.json")) == expected
    # a place that fails is named without the credentials its URL carries
    with pytest.raises(PublishedCopyError) as failed:
        store.publish_copy("s3://AKIAEXAMPLE:s3cr3t-key@missing-bucket/partnership")
    assert "missing-bucket" in str(failed.value) and "s3cr3t" not in str(failed.value)
    assert "AKIAEXAMPLE" not in str(failed.value)


def test_a_copy_cut_short_changes_nothing_readers_see_and_unneeded_objects_go(s3, data, monkeypatch):
    store = DataStore(data)
    store.publish_copy(URL)
    first, counts = manifest(s3), copy_counts()
    mart = "mart_screening_summary"
    day = store.partition_dates(mart)[-1]

    def republish_without_one_row():
        frame = store.read_partition(mart, day)
        store.publish_table(mart, frame.head(frame.height - 1), day)
        store.write_catalog()

    republish_without_one_row()
    real, calls = objects._upload, []

    def failing(*args, **kwargs):
        calls.append(1)
        raise OSError("connection reset by peer")

    monkeypatch.setattr(objects, "_upload", failing)
    with pytest.raises(PublishedCopyError, match="not switched: connection reset"):
        store.publish_copy(URL)
    assert calls and manifest(s3) == first and copy_counts() == counts
    monkeypatch.setattr(objects, "_upload", real)

    second = store.publish_copy(URL)
    assert second.uploaded == 1  # the one changed file
    assert copy_counts() == {**counts, mart: counts[mart] - 1} == local_counts(data)
    assert manifest(s3, "_published.previous.json") == first
    old_object = manifest_partitions(first)[f"mart/{mart}/snapshot_date={day}"]
    assert {f"objects/{h}.parquet" for h in old_object} <= keys(s3, "objects/")  # the previous manifest still reads
    republish_without_one_row()
    third = store.publish_copy(URL)
    assert third.deleted >= 2  # the first version's object and SQL: no manifest names them any more
    assert not {f"objects/{h}.parquet" for h in old_object} & keys(s3, "objects/")
    referenced = {o for part in manifest_partitions(manifest(s3)).values() for o in part}
    referenced |= {o for part in manifest_partitions(manifest(s3, "_published.previous.json")).values() for o in part}
    assert keys(s3, "objects/") == {f"objects/{h}.parquet" for h in referenced}


def test_a_place_that_is_not_object_storage_is_one_clear_line(tmp_path):
    from pipelines.preflight import check_settings

    assert check_settings({"PARTNERSHIP_PUBLISH_URL": "https://user:secret@example.org/x"}) == [
        "PARTNERSHIP_PUBLISH_URL: https://example.org/x is not an object storage URL (s3://, gs://, file://)"]
    assert check_settings({"PARTNERSHIP_PUBLISH_URL": "s3:///prefix"}) == ["PARTNERSHIP_PUBLISH_URL: s3:///prefix names no bucket"]
    with pytest.raises(PublishedCopyError, match="no catalog was built"):
        DataStore(tmp_path / "empty").publish_copy(f"file://{tmp_path}/copy")


def test_a_shared_folder_takes_the_same_copy(data, tmp_path):
    """file://: the same layout on a file system, each object written beside its place and renamed."""
    url = f"file://{tmp_path}/copy"
    DataStore(data).publish_copy(url)
    written = {p.name for p in (tmp_path / "copy" / "objects").iterdir()}
    assert written == {f"{h}.parquet" for files in local_partitions(data).values() for h in files}
    con = open_published(url)
    try:
        assert con.execute("select count(*) from partner_screening").fetchall()[0][0] == local_counts(data)["partner_screening"]
    finally:
        con.close()
