"""Financing flows: selection of private flows and the double-counting rules."""

from datetime import date

import polars as pl

from assets.curated.flows import financing_flows


def test_commitments_superseded_by_funds_and_flows_reported_by_both_sides():
    activities = pl.DataFrame({
        "iati_identifier": ["UN-1", "CO-1"], "reporting_org_ref": ["XM-UN", "GB-COH-1"],
        "reporting_org_name": ["UN Agency", "Acme plc"], "reporting_org_type_code": ["40", "70"],
        "sdg_goals": [[6], []]}, schema_overrides={"sdg_goals": pl.List(pl.Int32)})
    tx = pl.DataFrame({
        "iati_identifier": ["UN-1", "UN-1", "UN-1", "UN-1", "CO-1"],
        "transaction_index": [0, 1, 2, 3, 0],
        "transaction_type_code": ["11", "1", "3", "1", "3"],
        "provider_org_ref": ["GB-COH-1", "GB-COH-1", None, "GB-GOV-1", "GB-COH-1"],
        "provider_org_name": ["Acme plc", "Acme plc", "UN Agency", "UK Gov", "Acme plc"],
        "provider_org_type_code": ["70", "70", "40", "10", "70"],
        "receiver_org_ref": [None, None, "KE-1", None, "XM-UN"],
        "receiver_org_name": [None, None, "Pump Ltd", None, "UN Agency"],
        "receiver_org_type_code": [None, None, "72", None, "40"],
        "value": [1000.0, 1000.0, 200.0, 50.0, 1005.0], "currency": ["USD"] * 5,
        "value_usd": [1000.0, 1000.0, 200.0, 50.0, 1005.0],
        "value_date": [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1), date(2024, 2, 1), date(2024, 1, 20)],
    })
    links = pl.DataFrame({
        "source_table": ["iati_transactions.provider_org", "iati_transactions.receiver_org", "iati_activities",
                         "iati_activities", "iati_transactions.receiver_org", "iati_transactions.provider_org"],
        "source_key": ["GB-COH-1", "KE-1", "XM-UN", "GB-COH-1", "XM-UN", "GB-GOV-1"],
        "org_id": ["org-acme", "org-pump", "org-un", "org-acme", "org-un", "org-uk"]})
    organizations = pl.DataFrame({"org_id": ["org-acme", "org-un"], "organization_type_code": ["70", "40"],
                                  "canonical_name": ["Acme plc", "UN Agency"], "country_iso3": ["GBR", None]})
    flows, excluded = financing_flows(tx, activities, None, links, organizations, date(2026, 1, 1))
    rows = {r["source_ref"]: r for r in flows.to_dicts()}
    assert "iati:UN-1#transaction[3]" not in rows  # government funds are not a private flow
    commitment = rows["iati:UN-1#transaction[0]"]
    assert commitment["is_counted"] is False and "superseded" in commitment["double_count_reason"]
    funds = rows["iati:UN-1#transaction[1]"]
    assert funds["is_counted"] and funds["provider_org_id"] == "org-acme" and funds["recipient_org_id"] == "org-un"
    assert funds["sdg_goals"] == [6] and funds["direction"] == "to_un"
    out = rows["iati:UN-1#transaction[2]"]
    assert (out["direction"], out["provider_org_id"], out["recipient_org_id"]) == ("from_un", "org-un", "org-pump")
    both = rows["iati:CO-1#transaction[0]"]
    assert both["reported_by"] == "partner" and both["is_counted"] is False
    assert excluded == {"commitment_superseded": 1, "reported_by_both_sides": 1}
    assert flows["flow_id"].n_unique() == flows.height
    # names beside codes
    assert (funds["provider_org_name"], funds["recipient_org_name"], funds["provider_type_name"],
            funds["transaction_type_name"], funds["provider_country_name"]) == (
        "Acme plc", "UN Agency", "Private Sector", "Incoming Funds", "United Kingdom")
    assert commitment["provider_type_method"] == "transaction"
