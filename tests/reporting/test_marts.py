"""Marts reconcile with the facts they aggregate, to the cent."""

import polars as pl

from assets.reporting import marts


def flows():
    return pl.DataFrame({
        "is_counted": [True, True, False, True, True], "direction": ["to_un"] * 4 + ["from_un"],
        "provider_type_code": ["70", "60", "70", "10", "40"], "amount_usd": [100.005, 50.0, 999.0, 7.0, 3.0],
        "un_entity": ["WFP", "WFP", "WFP", "WFP", "WFP"], "year": [2024] * 5, "provider_org_id": ["a", "b", "a", "c", "d"],
    })


def test_private_contributions_reconcile_and_a_changed_mart_does_not():
    mart = marts.private_contributions_by_entity_year(flows())
    assert mart.select("contributor_group", "amount_usd").rows() == [("foundation", 50.0), ("private sector", 100.005)]
    assert marts.reconcile_private_contributions(mart, flows())[0]
    tampered = mart.with_columns(pl.col("amount_usd") + pl.when(pl.int_range(pl.len()) == 0).then(0.01).otherwise(0.0))
    ok, meta = marts.reconcile_private_contributions(tampered, flows())
    assert not ok and meta["fact_total_usd"] == 150.005


def test_screening_summary_reconciles():
    screening = pl.DataFrame({"org_id": ["1", "2", "3"], "risk_level": ["high", "clear", "high"],
                              "organization_type_code": ["70", None, "70"],
                              "flags": [["sanctions_match"], [], ["excluded_sector", "gc_delisted"]]})
    mart = marts.screening_summary(screening)
    high = mart.filter(pl.col("risk_level") == "high").row(0, named=True)
    assert (high["organizations"], high["flag_sanctions_match"], high["flag_excluded_sector"]) == (2, 1, 1)
    assert marts.reconcile_screening_summary(mart, screening)[0]
    assert not marts.reconcile_screening_summary(mart.head(1), screening)[0]
