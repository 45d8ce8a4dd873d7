"""Every reader against hostile and broken files: a clear error naming the file, or rows; never a
crash, a hang or a memory blow-up (3 GiB address-space limit, 60 s per case)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile")
    out = subprocess.run([sys.executable, str(PROJECT / "tests" / "hostile_matrix.py"), str(work)], cwd=PROJECT,
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    for f in work.iterdir():
        f.unlink()
    return results


def test_no_reader_crashes_hangs_or_runs_out_of_memory(matrix):
    bad = [r for r in matrix[:-1] if not (r["outcome"] == "ok" or r["outcome"].startswith("error:"))]
    assert bad == []
    assert matrix[-1]["peak_rss_mb"] < 2048


def test_every_error_names_the_file(matrix):
    unnamed = [r for r in matrix[:-1] if r["outcome"].startswith("error:") and r["case"] not in r["message"]]
    assert unnamed == []


def test_hostile_xml_is_refused_by_the_xml_readers(matrix):
    for reader in ("iati", "sanctions"):
        for case in ("xxe.xml", "billion-laughs.xml", "external-dtd.xml", "huge-text-node.xml", "truncated.xml.gz"):
            [r] = [r for r in matrix[:-1] if r["reader"] == reader and r["case"] == case]
            assert r["outcome"].startswith("error:"), (reader, case, r)
            assert r["seconds"] < 30, (reader, case, r)
            assert "root:" not in r["message"]  # /etc/passwd never read


def test_oversized_tables_are_refused_without_reading_them(matrix):
    for reader in ("participants", "local_networks", "partnerships", "revenue", "rates", "decisions"):
        [r] = [r for r in matrix[:-1] if r["reader"] == reader and r["case"] == "huge-text-node.xml"]
        assert r["outcome"].startswith("error:") and "MB limit" in r["message"], r


def test_a_stray_nul_byte_keeps_the_good_rows(matrix):
    [r] = [r for r in matrix[:-1] if r["reader"] == "revenue" and r["case"] == "nul-in-row.csv"]
    assert (r["outcome"], r["message"]) == ("ok", "1001")
    [f] = [r for r in matrix[:-1] if r["reader"] == "revenue" and r["case"] == "formula.csv"]
    assert f["outcome"] == "ok"


def test_xml_given_to_a_csv_reader_is_a_layout_error(matrix):
    for reader in ("participants", "local_networks", "partnerships", "revenue", "decisions"):
        [r] = [r for r in matrix[:-1] if r["reader"] == reader and r["case"] == "xxe.xml"]
        assert r["outcome"].startswith("error:") and "layout" in r["message"], r


def test_xlsx_ranges_and_bombs_are_refused_before_the_engine_reads_them(matrix):
    [wide] = [r for r in matrix[:-1] if r["reader"] == "partnerships" and r["case"] == "huge-range.xlsx"]
    assert wide["outcome"].startswith("error:") and "cells: refused" in wide["message"], wide
    [bomb] = [r for r in matrix[:-1] if r["reader"] == "partnerships" and r["case"] == "bomb.xlsx"]
    assert bomb["outcome"].startswith("error:") and "refused" in bomb["message"], bomb


def test_millions_of_harmless_elements_keep_memory_flat_and_are_not_a_list(matrix):
    [r] = [r for r in matrix[:-1] if r["reader"] == "sanctions" and r["case"] == "many-elements.xml.gz"]
    assert r["outcome"].startswith("error:") and "holds no INDIVIDUAL or ENTITY" in r["message"], r


def test_a_csv_cut_mid_row_or_with_a_repeated_column_is_refused(matrix):
    for reader in ("participants", "local_networks", "revenue"):
        for case, words in (("cut-mid-row.csv", "ends in the middle of a record"),
                            ("repeated-header.csv", "names a column more than once")):
            [r] = [r for r in matrix[:-1] if r["reader"] == reader and r["case"] == case]
            assert r["outcome"].startswith("error:") and words in r["message"], (reader, case, r)
