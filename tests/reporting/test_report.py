"""The transparency report: every figure reconciles with the marts (each recomputed here with SQL
on the Parquet files, not through the project's code), the page needs nothing from the network, a
hostile name cannot break out of it, and it renders in a real browser without an error."""

import json
import re
import shutil
import subprocess
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import polars as pl
import pytest

from assets.reporting import report
from tests.test_end_to_end import DAY

pytestmark = pytest.mark.slow
PRIVATE = "('60', '70', '71', '72', '73')"  # IATI OrganisationType: foundations and the private sector


class _Islands(HTMLParser):
    """The JSON data of each figure (<script type="application/json" class="figure-data">)."""

    def __init__(self):
        super().__init__()
        self.figures: dict[str, list[dict]] = {}
        self._name: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("class") == "figure-data":
            self._name = attrs["data-figure"]

    def handle_endtag(self, tag):
        self._name = None if tag == "script" else self._name

    def handle_data(self, data):
        if self._name:
            self.figures[self._name] = json.loads(data)


def figures(page: str) -> dict[str, list[dict]]:
    parser = _Islands()
    parser.feed(page)
    return parser.figures


def sql(data_dir: Path, query: str) -> list[tuple]:
    """``query`` with {table} replaced by a read of that table's Parquet files of the run's date."""
    def files(m):
        layer = "mart" if m.group(1).startswith("mart_") else "curated"
        return f"read_parquet('{data_dir}/{layer}/{m.group(1)}/snapshot_date={DAY}/*.parquet')"
    return duckdb.connect().execute(re.sub(r"\{(\w+)\}", files, query)).fetchall()


def cents(value) -> int:
    return round(float(value) * 100)


@pytest.fixture(scope="module")
def page(sample) -> str:
    return (sample / "report" / f"{DAY}.html").read_text(encoding="utf-8")


def test_contribution_figures_equal_the_mart_and_the_counted_private_flows(sample, page):
    shown = figures(page)
    by_entity = {(r["un_entity"], r["contributor_group"]): cents(r["amount_usd"]) for r in shown["contributions_by_entity"]}
    expected = {(e, g): cents(a) for e, g, a in sql(sample, "select un_entity, contributor_group, sum(amount_usd) "
                                                            "from {mart_private_contributions_by_entity_year} group by all")}
    assert by_entity == expected and len(expected) > 3
    by_year = {(r["year"], r["contributor_group"]): cents(r["amount_usd"]) for r in shown["contributions_by_year"]}
    assert by_year == {(y, g): cents(a) for y, g, a in sql(
        sample, "select year, contributor_group, sum(amount_usd) from {mart_private_contributions_by_entity_year} group by all")}
    # the mart is the counted money to the UN from private types, straight from the flows
    [(flows_total,)] = sql(sample, f"select sum(amount_usd) from {{financing_flows}} where is_counted and direction = 'to_un' "
                                   f"and provider_type_code in {PRIVATE} and amount_usd is not null")
    assert sum(by_entity.values()) == cents(flows_total)


def test_top_funders_are_the_largest_private_providers_of_the_flows(sample, page):
    shown = figures(page)["top_private_funders"]
    expected = sql(sample, f"""select provider_org_id, sum(amount_usd) as usd, count(*) from {{financing_flows}}
        where is_counted and direction = 'to_un' and provider_type_code in {PRIVATE} and amount_usd is not null
        group by all order by usd desc""")
    assert [cents(r["amount_usd"]) for r in shown] == [cents(u) for _, u, _ in expected[:report.TOP]]
    assert [r["flows"] for r in shown] == [n for _, _, n in expected[:report.TOP]]
    assert all(r["funder"] for r in shown)  # a funder known only by its id is still named


def test_flows_by_provider_type_add_up_to_the_counted_flows(sample, page):
    shown = {(r["direction"], r["provider_type_name"]): cents(r["amount_usd"]) for r in figures(page)["flows_by_provider_type"]}
    expected = {(d, n): cents(a) for d, n, a in sql(sample, """select direction,
        coalesce(provider_type_name, provider_type_code, '(unknown)'), sum(amount_usd) from {financing_flows}
        where is_counted and amount_usd is not null group by all""")}
    assert shown == expected


def test_partnership_coverage_and_screening_figures_equal_their_marts(sample, page):
    shown = figures(page)
    assert {r["goal"]: r["initiatives"] for r in shown["partnerships_by_goal"]} == dict(
        sql(sample, "select goal, initiatives from {mart_partnerships_by_sdg}"))
    regions = {r["region"]: (r["countries"], r["countries_with_local_network"], r["participants_total"])
               for r in shown["coverage_by_region"]}
    assert regions == {r: (c, n, p) for r, c, n, p in sql(sample, """select coalesce(region, '(no M49 region)'), count(*),
        count(*) filter (where has_local_network), sum(participants_total) from {mart_network_coverage_by_country} group by all""")}
    countries = {r["country_iso3"]: r["participants_total"] for r in shown["coverage_by_country"]}
    assert countries == dict(sql(sample, "select country_iso3, participants_total from {mart_network_coverage_by_country}"))
    by_risk: dict[str, int] = {}
    for r in shown["screening_outcomes"]:
        by_risk[r["risk_level"]] = by_risk.get(r["risk_level"], 0) + r["organizations"]
    assert by_risk == dict(sql(sample, "select risk_level, sum(organizations)::int from {mart_screening_summary} group by all"))
    [(screened,)] = sql(sample, "select count(*) from {partner_screening}")
    assert f">{screened:,}</span>Organisations screened" in page


def test_the_page_loads_nothing_from_anywhere(page):
    markup = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", page, flags=re.S)  # the markup, scripts emptied
    assert markup.count("<script") == page.count("<script")
    assert not re.search(r"<(script|img|iframe|link|object|embed)\b[^>]*\b(src|href|data)\s*=", markup, flags=re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", markup) and "@import" not in markup
    assert "vegaEmbed" in page and page.count('class="chart"') == len(figures(page)) >= 6


def test_a_hostile_name_stays_text(tmp_path):
    hostile = "</script><script>alert('x')</script><b>Evil & Co</b>"
    flows = pl.DataFrame({
        "flow_id": ["f1", "f2"], "provider_org_id": ["org-1", None], "provider_org_name": [hostile, None],
        "provider_type_code": ["70", "60"], "provider_type_name": ["Private Sector", "Foundation"],
        "direction": ["to_un", "to_un"], "is_counted": [True, True], "amount_usd": [10.0, 5.0],
        "un_entity": [hostile, "UNICEF"], "year": [2024, 2024]})
    mart = pl.DataFrame({"un_entity": [hostile], "year": [2024], "contributor_group": ["private sector"],
                         "amount_usd": [10.0], "flows": [1], "contributors": [1],
                         "snapshot_date": [date(2026, 11, 20)]})
    tables = {"financing_flows": flows, "mart_private_contributions_by_entity_year": mart}
    page = report.render_report(report.report_figures(tables), report.headlines(tables), DAY, "/* no js */")
    # outside the script elements' text, the name never becomes markup: no element ends early
    markup = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", page, flags=re.S)
    assert "<script>alert" not in markup and "<b>Evil" not in markup and "&lt;b&gt;Evil &amp; Co" in markup
    assert markup.count("<script") == 1 + len(figures(page)) + 1  # the library, the data islands, the charts
    funders = figures(page)["top_private_funders"]
    assert {r["funder"] for r in funders} == {hostile, "(unnamed)"}  # the JSON gives the name back exactly


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


# Recorded by the page itself, so that --dump-dom shows it: every console error and uncaught error.
_CAPTURE = """<script>
window.__errors = [];
const __record = (m) => { window.__errors.push(String(m)); document.documentElement.setAttribute('data-errors', JSON.stringify(window.__errors)); };
const __error = console.error; console.error = (...a) => { __record(a.join(' ')); __error(...a); };
window.addEventListener('error', (e) => __record(e.message));
window.addEventListener('unhandledrejection', (e) => __record(e.reason));
</script>"""


def _render(page: str, tmp_path: Path) -> str:
    """The DOM of ``page`` after headless Chromium ran its scripts, with no network at all."""
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium found (Debian package chromium; `make test` installs it where apt-get can run)")
    probe = tmp_path / "report.html"
    probe.write_text(page.replace("<head>", "<head>" + _CAPTURE, 1), encoding="utf-8")
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", f"--user-data-dir={tmp_path / 'profile'}",
         "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing resolves: a request would fail and log an error
         "--virtual-time-budget=15000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "<body" in result.stdout, result.stderr[-2000:]
    return result.stdout


def _errors(dom: str) -> str | None:
    match = re.search(r'<html[^>]*\bdata-errors="([^"]*)"', dom)
    return match.group(1) if match else None


def test_the_report_renders_every_chart_in_headless_chromium_without_an_error(sample, tmp_path):
    page = (sample / "report" / f"{DAY}.html").read_text(encoding="utf-8")
    dom = _render(page, tmp_path)
    assert _errors(dom) is None, _errors(dom)  # no console error, no uncaught error
    # each chart's element, up to the caption that follows it
    drawn = dict(re.findall(r'id="chart-(\w+)"(.*?)<p class="caption"', dom, flags=re.S))
    assert set(drawn) == set(figures(page)) and len(drawn) >= 6
    for name, inner in drawn.items():
        assert "<svg" in inner, f"{name}: no chart drawn"
        assert len(re.findall(r'role="graphics-symbol"', inner)) >= 1, f"{name}: no marks drawn"


def test_a_chart_that_cannot_be_drawn_is_seen_as_an_error(sample, tmp_path):
    page = (sample / "report" / f"{DAY}.html").read_text(encoding="utf-8")
    broken = page.replace('"mark": {"type": "bar"}', '"mark": {"type": "no-such-mark"}', 1)
    assert broken != page
    assert _errors(_render(broken, tmp_path))
