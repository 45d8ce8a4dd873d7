"""Typing, codelist names, fallbacks, currency conversion and rejects of the IATI tables."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from assets.financing.fx import load_rates
from assets.financing.iati_reader import iter_iati_batches
from assets.financing.iati_transform import transform_batch
from tests.conftest import iati_xml

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "iati"
SNAPSHOT = date(2026, 11, 25)


@pytest.fixture(scope="module")
def rates():
    return load_rates([])


def transform(path, rates):
    [batch] = list(iter_iati_batches(path))
    return transform_batch(batch, path.name, SNAPSHOT, rates)


def test_full_activity_is_typed_labelled_and_converted(rates):  # noqa: PLR0915
    result = transform(FIXTURES / "full-activity-2.03.xml", rates)
    assert result.rejects.filter(pl.col("severity") == "error").height == 0
    a = result.tables["iati_activities"].row(0, named=True)
    assert a["reporting_org_type_name"] == "Multilateral"
    assert a["activity_status_name"] == "Implementation"
    assert a["actual_end_date"] == date(2026, 1, 15)  # datetime value: date part
    assert a["humanitarian"] is True and a["hierarchy"] == 2
    assert a["recipient_countries_iso3"] == ["KEN", "XKX"]
    assert a["sdg_goals"] == [3, 6, 14] and a["sdg_targets"] == ["14.a", "6.1"]
    assert a["sectors"][0] == {"vocabulary": "1", "code": "14030", "percentage": 70.0}
    assert a["snapshot_date"] == SNAPSHOT and a["source_file"] == "full-activity-2.03.xml"

    t = result.tables["iati_transactions"].sort("transaction_index").to_dicts()
    assert t[0]["transaction_type_name"] == "Incoming Commitment"
    assert t[0]["currency"] == "GBP" and t[0]["currency_from_default"] is False
    assert t[0]["value_date"] == date(2024, 2, 29)
    assert t[0]["provider_org_type_name"] == "Private Sector in Provider Country"
    assert t[0]["fx_source"] == "ECB reference rate" and t[0]["fx_rate_date"] == date(2024, 2, 29)
    assert t[0]["value_usd"] == pytest.approx(1000.5 * t[0]["fx_rate"])
    gbp = rates.ecb.filter((pl.col("currency") == "GBP") & (pl.col("rate_date") == date(2024, 2, 29)))
    assert t[0]["fx_rate"] == gbp["usd_per_unit"].item()
    assert t[0]["humanitarian"] is False and t[0]["aid_type_code"] == "C01"
    # second transaction: currency, value date, flow/finance/aid type and humanitarian fall back
    assert (t[1]["currency"], t[1]["currency_from_default"], t[1]["value_date"]) == ("EUR", True, date(2024, 6, 15))
    assert (t[1]["flow_type_code"], t[1]["finance_type_code"], t[1]["aid_type_code"]) == ("30", "110", "B03")
    assert t[1]["humanitarian"] is True
    assert t[1]["transaction_type_name"] == "Disbursement"

    orgs = result.tables["iati_participating_orgs"]
    assert orgs["role_name"].to_list() == ["Funding", "Funding", "Implementing"]
    assert orgs["org_type_name"].to_list()[:2] == ["Private Sector in Provider Country", "Foundation"]

    b = result.tables["iati_budgets"].sort("budget_index").to_dicts()
    assert (b[0]["budget_type_name"], b[0]["budget_status_name"]) == ("Revised", "Committed")
    assert (b[1]["budget_type_name"], b[1]["budget_status_name"], b[1]["currency"]) == ("Original", "Indicative", "EUR")
    assert b[0]["value_usd"] == 250000 and b[0]["fx_source"] == "identity"


def _activity(identifier, *, status="2", body=""):
    return (f'<iati-activity default-currency="USD"><iati-identifier>{identifier}</iati-identifier>'
            f'<reporting-org ref="XM-1" type="40"><narrative>Org</narrative></reporting-org>'
            f'<activity-status code="{status}"/>{body}</iati-activity>')


def _tx(type_code="1", value="100", currency="USD", value_date="2024-01-02", tx_date="2024-01-02"):
    return (f'<transaction><transaction-type code="{type_code}"/><transaction-date iso-date="{tx_date}"/>'
            f'<value currency="{currency}" value-date="{value_date}">{value}</value></transaction>')


def test_unknown_codes_and_bad_values_are_rejected_with_reasons(write_xml, rates):
    body_ok = _tx() + _tx(type_code="99") + _tx(value="1,2k") + _tx(tx_date="31/12/2024")
    budget = ('<budget><period-start iso-date="2024-01-01"/><period-end iso-date="2024-12-31"/>'
              '<value value-date="2024-01-01">-5</value></budget>'
              '<budget><period-start iso-date="2024-06-01"/><period-end iso-date="2024-01-01"/>'
              '<value value-date="2024-01-01">5</value></budget>'
              '<budget><period-start iso-date="2024-01-01"/><period-end iso-date="2024-12-31"/></budget>')
    xml = iati_xml(_activity("GOOD", body=body_ok + budget) + _activity("BADSTATUS", status="42", body=_tx()))
    result = transform(write_xml(xml), rates)
    assert result.tables["iati_activities"]["iati_identifier"].to_list() == ["GOOD"]
    assert result.tables["iati_transactions"]["transaction_index"].to_list() == [0]
    assert result.tables["iati_budgets"]["value"].to_list() == [-5.0]  # negative budgets are valid IATI
    r = {(row["record_key"], row["check"]): row for row in result.rejects.to_dicts()}
    assert r[("BADSTATUS", "isin")]["value"] == "42"
    assert r[("BADSTATUS#transaction[0]", "parent_rejected")]["reason"].startswith("activity rejected: activity_status_code")
    assert r[("GOOD#transaction[1]", "isin")]["column"] == "transaction_type_code"
    assert r[("GOOD#transaction[2]", "parse")]["value"] == "1,2k"
    assert r[("GOOD#transaction[3]", "parse")]["column"] == "transaction_date"
    assert (r[("GOOD#budget[0]", "negative_budget")]["value"], r[("GOOD#budget[0]", "negative_budget")]["severity"]) == (
        "-5.0", "warning")
    assert ("GOOD#budget[1]", "period_end_after_start") in r
    assert r[("GOOD#budget[2]", "not_nullable")]["column"] == "value"  # budget without <value>
    assert set(result.rejects.filter(pl.col("check") != "negative_budget")["severity"]) == {"error"}


def test_missing_rate_keeps_the_row_and_flags_a_warning(write_xml, rates):
    xml = iati_xml(_activity("A", body=_tx(currency="XOF") + _tx(currency="EUR", value_date="1990-01-01")))
    result = transform(write_xml(xml), rates)
    tx = result.tables["iati_transactions"]
    assert tx.height == 2 and tx["value_usd"].null_count() == 2
    warnings = result.rejects.filter(pl.col("check") == "fx_rate_found")
    assert warnings["severity"].to_list() == ["warning", "warning"]
    assert warnings["value"].to_list() == ["100.0 XOF on 2024-01-02", "100.0 EUR on 1990-01-01"]


def test_unknown_country_is_left_out_of_iso3_with_a_warning(write_xml, rates):
    xml = iati_xml(_activity("A", body='<recipient-country code="KE"/><recipient-country code="QQ"/>'))
    result = transform(write_xml(xml), rates)
    assert result.tables["iati_activities"]["recipient_countries_iso3"].to_list() == [["KEN"]]
    [warning] = result.rejects.to_dicts()
    assert (warning["value"], warning["severity"]) == ("QQ", "warning")


def test_duplicates_are_rejected_with_their_children(write_xml, rates):
    xml = iati_xml(_activity("A", body=_tx()) + _activity("A", body=_tx() + _tx()))
    [batch] = list(iter_iati_batches(write_xml(xml)))
    result = transform_batch(batch, "f.xml", SNAPSHOT, rates, duplicate_seqs={1}, first_seen={"A": "f.xml"})
    assert result.tables["iati_activities"].height == 1
    assert result.tables["iati_transactions"].height == 1
    checks = result.rejects["check"].to_list()
    assert checks.count("field_uniqueness") == 1 and checks.count("parent_rejected") == 2
