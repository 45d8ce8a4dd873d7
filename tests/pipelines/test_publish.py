"""Atomic, hive-partitioned Parquet publication."""

import polars as pl
import pytest

from pipelines.storage.publish import PartitionWriter, publish_frame


def frame(n, offset=0):
    return pl.DataFrame({"id": list(range(offset, offset + n)), "snapshot_date": ["2026-11-25"] * n})


def read(dataset):
    return pl.read_parquet(dataset / "**/*.parquet", hive_partitioning=True)


def test_partition_is_published_in_hive_layout_without_the_partition_column(tmp_path):
    target = publish_frame(frame(3), tmp_path / "curated" / "t", {"snapshot_date": "2026-11-25"}, tmp_path / ".staging")
    assert target == tmp_path / "curated" / "t" / "snapshot_date=2026-11-25"
    [part] = list(target.iterdir())
    assert pl.read_parquet(part).columns == ["id"]
    assert read(tmp_path / "curated" / "t")["snapshot_date"].cast(pl.Utf8).to_list() == ["2026-11-25"] * 3


def test_republishing_replaces_the_partition_and_leaves_no_staging(tmp_path):
    dataset, staging = tmp_path / "t", tmp_path / ".staging"
    writer = PartitionWriter(dataset, {"snapshot_date": "2026-11-25"}, staging)
    writer.write(frame(2), "part-00000-00000")
    writer.write(frame(2, 10), "part-00001-00000")
    writer.commit()
    writer = PartitionWriter(dataset, {"snapshot_date": "2026-11-25"}, staging)
    writer.write(frame(1, 100), "part-00000-00000")
    writer.commit()
    assert read(dataset)["id"].to_list() == [100]
    assert list(staging.iterdir()) == []


def test_same_rows_give_the_same_bytes(tmp_path):
    a = publish_frame(frame(50), tmp_path / "a", {"snapshot_date": "x"}, tmp_path / ".s")
    b = publish_frame(frame(50), tmp_path / "b", {"snapshot_date": "x"}, tmp_path / ".s")
    assert (a / "part-00000-00000.parquet").read_bytes() == (b / "part-00000-00000.parquet").read_bytes()


def test_discard_and_abort_leave_the_published_version(tmp_path):
    dataset, staging = tmp_path / "t", tmp_path / ".staging"
    publish_frame(frame(2), dataset, {"snapshot_date": "2026-11-25"}, staging)
    writer = PartitionWriter(dataset, {"snapshot_date": "2026-11-25"}, staging)
    writer.write(frame(5, 50), "part-00003-00000")
    writer.write(frame(5, 60), "part-00003-00001")
    assert writer.discard("part-00003-") == 10 and writer.rows == 0
    writer.abort()
    assert read(dataset)["id"].to_list() == [0, 1]
    assert list(staging.iterdir()) == []


def test_an_empty_partition_still_carries_the_schema(tmp_path):
    writer = PartitionWriter(tmp_path / "t", {"snapshot_date": "d"}, tmp_path / ".s")
    writer.commit(empty_schema={"id": pl.Int64, "name": pl.Utf8, "snapshot_date": pl.Date})
    [part] = list((tmp_path / "t" / "snapshot_date=d").iterdir())
    assert pl.read_parquet(part).schema == pl.Schema({"id": pl.Int64, "name": pl.Utf8})


def test_writing_a_part_twice_is_an_error(tmp_path):
    writer = PartitionWriter(tmp_path / "t", {"snapshot_date": "d"}, tmp_path / ".s")
    writer.write(frame(1), "p")
    with pytest.raises(ValueError, match="written twice"):
        writer.write(frame(1), "p")
