"""IATI as publishers really write it: empty attributes and elements, codes in the wrong case or
with spaces, refused activities that have children. The file is written here; every expected count
is by hand from it."""

import polars as pl
import pytest

from assets.financing.fx import load_rates
from tests.conftest import iati_xml
from tests.financing.test_iati_realdata import build

MESSY = iati_xml("""
<iati-activity default-currency="" humanitarian=" ">
  <iati-identifier>XM-EMPTY-1</iati-identifier>
  <reporting-org ref="XM-DAC-41122" type=" 40 "><narrative/></reporting-org>
  <title><narrative>   </narrative><narrative xml:lang="fr">Titre</narrative></title>
  <activity-status code=""/>
  <participating-org role="1" type="" ref=""><narrative>Acme Foundation</narrative></participating-org>
  <budget type="" status=""><period-start iso-date="2025-01-01"/><period-end iso-date="2025-12-31"/>
    <value currency="" value-date="2025-01-01">100</value></budget>
  <transaction><transaction-type code=" 11 "/><transaction-date iso-date="2025-03-01"/>
    <value currency="" value-date="">10</value><provider-org type="" ref=""><narrative/></provider-org></transaction>
  <transaction><transaction-type code="11"/><transaction-date iso-date="2025-03-02"/>
    <value currency="usd">20</value></transaction>
  <transaction><transaction-type code="3"/><transaction-date iso-date="2025-03-03"/>
    <value currency=" Usd ">30</value></transaction>
  <transaction><transaction-type code="C"/><transaction-date iso-date="2025-03-04"/>
    <value currency="USD">31</value></transaction>
</iati-activity>
<iati-activity default-currency="EUR">
  <iati-identifier>XM-DEFAULT-2</iati-identifier>
  <reporting-org ref="XM-DAC-7" type="10"/>
  <transaction><transaction-type code="1"/><transaction-date iso-date="2025-06-02"/>
    <value currency=" ">40</value></transaction>
</iati-activity>
<iati-activity version="1.01">
  <iati-identifier>XM-LEGACY-3</iati-identifier>
  <participating-org role="Funding">Old Donor</participating-org>
  <budget><value>5</value></budget>
  <transaction><transaction-type code="IF"/><value>1</value></transaction>
  <transaction><transaction-type code="D"/><value>2</value></transaction>
</iati-activity>
<iati-activity>
  <reporting-org ref="XM-DAC-7" type="10"/>
  <transaction><transaction-type code="1"/><value>3</value></transaction>
</iati-activity>
""")
HELD = {"iati_activities": 4, "iati_transactions": 8, "iati_budgets": 2, "iati_participating_orgs": 2}


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    path = tmp_path_factory.mktemp("iati") / "messy.xml"
    path.write_text(MESSY, encoding="utf-8")
    result, tables = build([path], load_rates())
    return result, tables


def test_every_record_is_published_or_rejected(messy):
    result, tables = messy
    errors = result.rejects.filter(pl.col("severity") == "error")
    for table, held in HELD.items():
        rejected = errors.filter(pl.col("table") == table).select("record_key", "line").unique().height
        assert tables[table].height + rejected == held, table
        assert result.rejected_records(table) == rejected
    assert tables["iati_activities"]["iati_identifier"].to_list() == ["XM-EMPTY-1", "XM-DEFAULT-2"]
    assert tables["iati_transactions"].height == 4 and tables["iati_budgets"].height == 1


def test_children_of_refused_activities_are_rejected_with_the_parents_reason(messy):
    result, _ = messy
    children = result.rejects.filter(pl.col("check") == "parent_rejected")
    by_table = dict(children.group_by("table").len().iter_rows())
    assert by_table == {"iati_transactions": 3, "iati_budgets": 1, "iati_participating_orgs": 1}
    legacy = children.filter(pl.col("value") == "XM-LEGACY-3")
    assert set(legacy["reason"]) == {"activity rejected: unsupported IATI version 1.01"}
    assert sorted(legacy.filter(pl.col("table") == "iati_transactions")["record_key"]) == [
        "XM-LEGACY-3#transaction[0]", "XM-LEGACY-3#transaction[1]"]
    unnamed = children.filter(pl.col("value").str.starts_with("line "))
    assert unnamed["reason"].to_list() == ["activity rejected: missing <iati-identifier>"]


def test_empty_values_take_the_path_of_missing_ones(messy):
    result, tables = messy
    act = tables["iati_activities"].filter(pl.col("iati_identifier") == "XM-EMPTY-1").row(0, named=True)
    assert act["default_currency"] is None and act["activity_status_code"] is None and act["humanitarian"] is None
    assert act["reporting_org_name"] is None and act["title"] == "Titre"
    assert act["reporting_org_type_code"] == "40"  # ' 40 ' normalized
    tx = tables["iati_transactions"].filter(pl.col("iati_identifier") == "XM-EMPTY-1").sort("transaction_index")
    first = tx.row(0, named=True)  # currency="" and no default: published, currency null, flagged
    assert (first["currency"], first["value_usd"], first["value"]) == (None, None, 10.0)
    assert first["value_date"] == first["transaction_date"]  # value-date="" falls back to the transaction date
    assert first["provider_org_type_code"] is None and first["provider_org_ref"] is None
    assert first["provider_org_name"] is None
    eur = tables["iati_transactions"].filter(pl.col("iati_identifier") == "XM-DEFAULT-2").row(0, named=True)
    assert (eur["currency"], eur["currency_from_default"]) == ("EUR", True)  # currency=" " takes the default
    warnings = result.rejects.filter(pl.col("severity") == "warning")
    assert sorted(warnings.filter(pl.col("check") == "currency_present")["record_key"]) == [
        "XM-EMPTY-1#budget[0]", "XM-EMPTY-1#transaction[0]"]
    budget = tables["iati_budgets"].row(0, named=True)
    assert (budget["budget_type_code"], budget["budget_status_code"], budget["currency"]) == ("1", "1", None)


def test_codes_in_another_case_or_with_spaces_are_normalized_with_a_warning(messy):
    result, tables = messy
    tx = tables["iati_transactions"].filter(pl.col("iati_identifier") == "XM-EMPTY-1").sort("transaction_index")
    assert tx["transaction_type_code"].to_list() == ["11", "11", "3"]
    assert tx["currency"].to_list() == [None, "USD", "USD"]
    assert tx["transaction_type_name"].to_list() == ["Incoming Commitment", "Incoming Commitment", "Disbursement"]
    normalized = result.rejects.filter(pl.col("check") == "code_normalized").sort("record_key", "column")
    assert normalized.select("record_key", "column", "value").rows() == [
        ("XM-EMPTY-1", "reporting_org_type_code", " 40 "),
        ("XM-EMPTY-1#transaction[0]", "transaction_type_code", " 11 "),
        ("XM-EMPTY-1#transaction[1]", "value_currency", "usd"),
        ("XM-EMPTY-1#transaction[2]", "value_currency", " Usd "),
    ]
    assert set(normalized["severity"]) == {"warning"}
    # a 1.0x letter code in a 2.03 file is not a case variant of a 2.0x code: rejected
    [letter] = result.rejects.filter((pl.col("severity") == "error") & (pl.col("table") == "iati_transactions")
                                     & (pl.col("check") == "isin")).rows(named=True)
    assert (letter["record_key"], letter["value"]) == ("XM-EMPTY-1#transaction[3]", "C")
