"""Funders of an activity: named by a funding participating-org of a private or foundation type;
amounts only from the activity's own incoming transactions from them, never invented."""

from datetime import date

import polars as pl

from assets.curated.funders import WITH_TRANSACTIONS, WITHOUT_TRANSACTIONS, activity_funders

ORGS = pl.DataFrame({
    "iati_identifier": ["A", "A", "A", "A", "B"],
    "org_index": pl.Series([0, 1, 2, 3, 0], dtype=pl.Int32),
    "role_code": ["1", "1", "4", "1", "1"],
    "org_ref": ["GB-COH-1", None, None, "XM-DAC-41122", None],
    "org_name": ["Acme Ltd", "The Rainbow Foundation", "Acme Ltd", "UNICEF", "Quiet Fund Inc."],
    "org_type_code": ["70", "60", "70", "40", "70"],
    "org_type_name": ["Private Sector", "Foundation", "Private Sector", "Multilateral", "Private Sector"],
})
TRANSACTIONS = pl.DataFrame({
    "iati_identifier": ["A", "A", "A", "A", "B"],
    "transaction_index": pl.Series([0, 1, 2, 3, 0], dtype=pl.Int32),
    "transaction_type_code": ["11", "1", "11", "3", "3"],
    "provider_org_ref": ["GB-COH-1", None, None, None, None],
    "provider_org_name": [None, "Acme", "rainbow foundation", "Acme Ltd", None],
    "value_usd": [100.0, 40.0, 7.5, 999.0, 5.0],
})
ACTIVITIES = pl.DataFrame({"iati_identifier": ["A", "B"], "reporting_org_ref": ["XM-DAC-47066", "XM-DAC-47066"],
                           "reporting_org_name": ["IOM", "IOM"], "reporting_org_type_code": ["40", "40"]})


def test_funders_and_their_amounts_follow_the_stated_rule():
    funders = activity_funders(ORGS, TRANSACTIONS, ACTIVITIES, None, date(2026, 1, 1))
    rows = {(r["iati_identifier"], r["org_name"]): r for r in funders.iter_rows(named=True)}
    # role 4 (implementing) and the multilateral funder are not private funders
    assert sorted(rows) == [("A", "Acme Ltd"), ("A", "The Rainbow Foundation"), ("B", "Quiet Fund Inc.")]
    acme = rows[("A", "Acme Ltd")]  # matched by ref (transaction 0) and by normalized name (transaction 1)
    assert (acme["transactions"], acme["committed_usd"], acme["received_usd"], acme["amount_rule"]) == (
        2, 100.0, 40.0, WITH_TRANSACTIONS)
    rainbow = rows[("A", "The Rainbow Foundation")]  # "the" and case do not matter
    assert (rainbow["committed_usd"], rainbow["received_usd"]) == (7.5, None)
    quiet = rows[("B", "Quiet Fund Inc.")]  # named as funder, no incoming transaction: no amount
    assert (quiet["transactions"], quiet["committed_usd"], quiet["received_usd"], quiet["amount_rule"]) == (
        0, None, None, WITHOUT_TRANSACTIONS)
    assert funders.filter(pl.col("iati_identifier") == "A")["reporting_org_type_name"].to_list() == ["Multilateral"] * 2
