"""UN revenue by contributor: contributor types normalized and reclassified, never dropped."""

from datetime import date

import polars as pl
import pytest

from assets.financing.un_revenue import read_revenue
from assets.io import SourceFileError

SNAPSHOT = date(2026, 11, 25)
HEADER = "amount,_currency,entity,calendar_year,rev_type,donor,contrib_type\n"


def revenue(tmp_path, body):
    path = tmp_path / "rev.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return read_revenue([(path, "rev.csv")], None, SNAPSHOT)


def test_contributor_types_are_normalized_and_reclassified(tmp_path):
    frame, rejects = revenue(tmp_path, "\n".join([
        "100,USD,WFP,2018,R03,Acme,C06",
        "200,USD,WFP,2019,R03E,Acme,C06",
        "300,USD,WFP,2016,R09,Acme,2",                      # history: C06
        "400,USD,WFP,2016,R09,Private Donors,2",            # no history: donor mapping C06
        "500,USD,WFP,2016,R09,Nobody Knows,2",              # unclassified
        "600,USD,UNICEF,2015,Assessed contributions,Gov,1",  # legacy number for government
        "700,USD,UNICEF,2019,R08b,Kind Foundation,Foundation",
        "  -    ,USD,UNICEF,2019,R03,Acme,C06",
        "800,USD,UNICEF,2019,R99,Acme,C06",
    ]) + "\n")
    by_amount = {r["amount_usd"]: r for r in frame.to_dicts()}
    assert (by_amount[100]["contributor_type_code"], by_amount[100]["contributor_type_method"]) == ("C06", "code")
    assert (by_amount[300]["contributor_type_code"], by_amount[300]["contributor_type_method"]) == ("C06", "donor history")
    assert (by_amount[400]["contributor_type_code"], by_amount[400]["contributor_type_method"]) == ("C06", "donor mapping")
    assert (by_amount[500]["contributor_type_code"], by_amount[500]["contributor_type_method"]) == ("UNG", "unclassified")
    assert by_amount[500]["contributor_type_name"] == "Unclassified non-government"
    assert (by_amount[600]["contributor_type_code"], by_amount[600]["revenue_type_code"]) == ("C01", "R01")
    assert (by_amount[700]["contributor_type_code"], by_amount[700]["contributor_type_method"]) == ("C05", "label")
    assert by_amount[700]["revenue_type_code"] == "R08B" and by_amount[700]["revenue_type_name"]
    assert sorted((r["value"].strip(), r["check"]) for r in rejects.to_dicts()) == [("-", "parse"), ("R99", "isin")]
    assert by_amount[100]["source_row_ref"] == "rev.csv:2"


def test_formula_cells_stay_text_and_wrong_layout_fails(tmp_path):
    frame, _ = revenue(tmp_path, '100,USD,WFP,2018,R03,"=cmd|\' /C calc\'!A0",C06\n')
    assert frame["donor"].to_list() == ["=cmd|' /C calc'!A0"]
    path = tmp_path / "other.csv"
    path.write_text("donor,amount\nA,1\n")
    with pytest.raises(SourceFileError, match="other.csv: not the UN CEB revenue by contributor layout"):
        read_revenue([(path, "other.csv")], None, SNAPSHOT)


def test_real_ceb_file_no_row_lost_and_2s_reclassified(realdata):
    path = realdata / "financing" / "ceb-revenue_non_gov_donors.csv"
    frame, rejects = read_revenue([(path, path.name)], None, SNAPSHOT)
    assert frame.height + rejects.height == 6132 and rejects.height == 22
    assert set(rejects["check"]) == {"parse"} and set(rejects["value"].str.strip_chars()) == {"-"}
    twos = frame.filter(pl.col("contributor_type_source") == "2")
    assert twos.height + rejects.filter(pl.col("value").is_not_null()).height >= 1218 - 22
    assert set(twos["contributor_type_method"]) <= {"donor history", "donor mapping", "unclassified"}
    assert frame.filter(pl.col("donor") == "European Union", pl.col("contributor_type_source") == "2")[
        "contributor_type_code"].unique().to_list() == ["C08A"]
    assert frame["contributor_type_name"].null_count() == 0 and frame["revenue_type_name"].null_count() == 0
