"""The transparency report: one static HTML page per snapshot, built from the marts (and, for the
funders and provider types, from ``financing_flows``, with the marts' own rule for private money).

Every figure is a Vega-Lite chart (through Altair) with its data embedded, beside a table of the same
numbers; the Vega, Vega-Lite and vega-embed JavaScript is inlined, so the page renders offline and
makes no request. Each figure's data is also in the page as JSON (``<script type="application/json"
class="figure-data">``), so what the page shows can be checked against the marts.
"""

import functools
import html
import json
from dataclasses import dataclass

import altair as alt
import polars as pl

from assets.reporting.marts import private_to_un

TOP = 20  # bars per ranking chart


def vega_version() -> str:
    """The versions the bundled JavaScript is made of (vl-convert's, and the Vega-Lite Altair writes)."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    return f"{vl_convert.__version__}-{vl_version_for_vl_convert()}"


@functools.cache
def vega_javascript() -> str:
    """Vega, Vega-Lite (the version Altair writes) and vega-embed as one script, from vl-convert's
    bundled copies: nothing is fetched, when the page is built or when it is read."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    return vl_convert.javascript_bundle(vl_version=vl_version_for_vl_convert()).replace("</script", "<\\/script")


@dataclass(frozen=True)
class Figure:
    name: str
    title: str
    caption: str
    data: pl.DataFrame  # what the chart and the table show, one row per bar or cell
    chart: alt.TopLevelMixin | None  # None where there is nothing to draw
    columns: dict[str, str]  # column -> heading of the table


@dataclass(frozen=True)
class Headline:
    label: str
    value: str


def _money(value: float | None) -> str:
    if value is None:
        return "–"
    for size, unit in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(value) >= size:
            return f"USD {value / size:,.1f} {unit}"
    return f"USD {value:,.0f}"


def _tooltip(data: pl.DataFrame, column: str) -> alt.Tooltip:
    numeric = data.schema[column].is_numeric()
    return alt.Tooltip(column, type="quantitative" if numeric else "nominal", format=",.0f" if numeric else "")


def _bar(data: pl.DataFrame, x: str, y: str, color: str | None, x_title: str, y_title: str,
         tooltip: list[str]) -> alt.Chart:
    encoding = {"x": alt.X(x, type="quantitative", title=x_title),
                "y": alt.Y(y, type="nominal", title=y_title, sort="-x"),
                "tooltip": [_tooltip(data, t) for t in tooltip]}
    if color:
        encoding["color"] = alt.Color(color, type="nominal", title=None, legend=alt.Legend(orient="bottom", columns=4))
    return (alt.Chart(alt.Data(values=data.to_dicts())).mark_bar()
            .encode(**encoding).properties(width=560, height=alt.Step(18)))


def contributions_by_entity(mart: pl.DataFrame) -> Figure:
    data = (mart.group_by("un_entity", "contributor_group")
            .agg(pl.col("amount_usd").sum(), pl.col("flows").sum())
            .sort("amount_usd", "un_entity", "contributor_group", descending=[True, False, False]))
    top = data.group_by("un_entity").agg(pl.col("amount_usd").sum()).sort("amount_usd", "un_entity", descending=[True, False]).head(TOP)
    shown = data.filter(pl.col("un_entity").is_in(top["un_entity"].implode()))
    chart = _bar(shown, "amount_usd", "un_entity", "contributor_group", "USD", "UN entity",
                 ["un_entity", "contributor_group", "amount_usd", "flows"]) if data.height else None
    return Figure("contributions_by_entity", "Private and foundation contributions by UN entity",
                  f"Counted contributions to each UN entity, all years (the {TOP} largest entities are drawn; "
                  "the table lists all). Source: mart_private_contributions_by_entity_year.",
                  data, chart, {"un_entity": "UN entity", "contributor_group": "From", "amount_usd": "USD", "flows": "Flows"})


def contributions_by_year(mart: pl.DataFrame) -> Figure:
    data = (mart.group_by("year", "contributor_group").agg(pl.col("amount_usd").sum(), pl.col("flows").sum())
            .sort("year", "contributor_group"))
    chart = None
    if data.height:
        chart = (alt.Chart(alt.Data(values=data.with_columns(pl.col("year").cast(pl.Utf8)).to_dicts())).mark_bar()
                 .encode(x=alt.X("year", type="ordinal", title="Year (0: unknown)"),
                         y=alt.Y("amount_usd", type="quantitative", title="USD"),
                         color=alt.Color("contributor_group", type="nominal", title=None, legend=alt.Legend(orient="bottom")),
                         tooltip=["year:O", "contributor_group:N", alt.Tooltip("amount_usd:Q", format=",.0f"), "flows:Q"])
                 .properties(width=560, height=240))
    return Figure("contributions_by_year", "Private and foundation contributions by year",
                  "Counted contributions to all UN entities per year. Source: mart_private_contributions_by_entity_year.",
                  data, chart, {"year": "Year", "contributor_group": "From", "amount_usd": "USD", "flows": "Flows"})


def top_private_funders(flows: pl.DataFrame) -> Figure:
    private = private_to_un(flows)
    data = (private.group_by("provider_org_id").agg(
        pl.col("provider_org_name").drop_nulls().mode().sort().first().alias("funder"),
        pl.col("contributor_group").first(), pl.col("amount_usd").sum(), pl.len().cast(pl.Int64).alias("flows"),
        pl.col("un_entity").n_unique().cast(pl.Int64).alias("un_entities"))
        .with_columns(pl.col("funder").fill_null(pl.col("provider_org_id")).fill_null("(unnamed)"))
        .sort("amount_usd", "funder", descending=[True, False]))
    shown = data.head(TOP)
    chart = _bar(shown, "amount_usd", "funder", "contributor_group", "USD", "Funder",
                 ["funder", "contributor_group", "amount_usd", "flows", "un_entities"]) if data.height else None
    return Figure("top_private_funders", "Top private and foundation funders of the UN",
                  f"Counted contributions per funding organisation (org_id), all years; the {TOP} largest are drawn "
                  "and listed. Their sum over all funders equals the contributions above. Names such as "
                  "'Private Donors' or 'Private Sector' are totals a UN entity reports for many unnamed donors, "
                  "not one organisation. Source: financing_flows.",
                  shown.drop("provider_org_id"), chart,
                  {"funder": "Funder", "contributor_group": "Type", "amount_usd": "USD", "flows": "Flows",
                   "un_entities": "UN entities"})


def flows_by_provider_type(flows: pl.DataFrame) -> Figure:
    data = (flows.filter(pl.col("is_counted") & pl.col("amount_usd").is_not_null())
            .with_columns(pl.col("provider_type_name").fill_null(pl.col("provider_type_code")).fill_null("(unknown)"))
            .group_by("direction", "provider_type_name").agg(pl.col("amount_usd").sum(), pl.len().cast(pl.Int64).alias("flows"))
            .sort("amount_usd", "provider_type_name", descending=[True, False]))
    chart = _bar(data, "amount_usd", "provider_type_name", "direction", "USD", "Provider type",
                 ["provider_type_name", "direction", "amount_usd", "flows"]) if data.height else None
    return Figure("flows_by_provider_type", "Financing flows by provider type",
                  "Counted flows (double counting removed) by the type of the organisation providing the money; "
                  "to_un: money the UN receives, from_un: money UN entities pass on. Source: financing_flows.",
                  data, chart, {"direction": "Direction", "provider_type_name": "Provider type", "amount_usd": "USD",
                                "flows": "Flows"})


def partnerships_by_goal(mart: pl.DataFrame) -> Figure:
    data = (mart.select("goal", pl.col("goal_title").fill_null(""), "initiatives", "initiatives_with_private_lead",
                        "initiatives_with_high_risk_lead").sort("goal"))
    chart = None
    if data.height:
        chart = (alt.Chart(alt.Data(values=data.with_columns(pl.format("SDG {}", "goal").alias("sdg")).to_dicts()))
                 .mark_bar().encode(x=alt.X("sdg", type="ordinal", title="Goal", sort=None),
                                    y=alt.Y("initiatives", type="quantitative", title="Initiatives"),
                                    tooltip=["sdg:N", "goal_title:N", "initiatives:Q", "initiatives_with_private_lead:Q",
                                             "initiatives_with_high_risk_lead:Q"])
                 .properties(width=560, height=240))
    return Figure("partnerships_by_goal", "SDG partnership initiatives by goal",
                  "Initiatives naming each goal (an initiative naming several goals counts under each). "
                  "Source: mart_partnerships_by_sdg.",
                  data, chart, {"goal": "Goal", "goal_title": "Title", "initiatives": "Initiatives",
                                "initiatives_with_private_lead": "Private lead",
                                "initiatives_with_high_risk_lead": "High-risk lead"})


def coverage_by_region(mart: pl.DataFrame) -> Figure:
    data = (mart.with_columns(pl.col("region").fill_null("(no M49 region)"))
            .group_by("region").agg(pl.len().cast(pl.Int64).alias("countries"),
                                    pl.col("has_local_network").sum().cast(pl.Int64).alias("countries_with_local_network"),
                                    pl.col("participants_active").sum(), pl.col("participants_non_communicating").sum(),
                                    pl.col("participants_delisted").sum(), pl.col("participants_total").sum())
            .sort("participants_total", "region", descending=[True, False]))
    long = data.unpivot(["participants_active", "participants_non_communicating", "participants_delisted"],
                        index="region", variable_name="status", value_name="participants").with_columns(
        pl.col("status").str.strip_prefix("participants_"))
    chart = _bar(long, "participants", "region", "status", "Participants", "Region",
                 ["region", "status", "participants"]) if data.height else None
    return Figure("coverage_by_region", "Global Compact participation and Local Network coverage by region",
                  "Participants by status, and countries with a Local Network, per UN M49 region. "
                  "Source: mart_network_coverage_by_country.",
                  data, chart, {"region": "Region", "countries": "Countries", "countries_with_local_network": "With a Local Network",
                                "participants_active": "Active", "participants_non_communicating": "Non-communicating",
                                "participants_delisted": "Delisted", "participants_total": "All participants"})


def coverage_by_country(mart: pl.DataFrame) -> Figure:
    data = (mart.select(pl.col("country_name").fill_null(pl.col("country_iso3")).alias("country"), "country_iso3",
                        pl.col("region").fill_null(""), "has_local_network", pl.col("network_stage").fill_null(""),
                        "participants_total", "participants_active", "high_risk_organizations", "review_organizations")
            .sort("participants_total", "country", descending=[True, False]))
    shown = data.head(TOP).with_columns(
        pl.when(pl.col("has_local_network")).then(pl.lit("with a Local Network"))
        .otherwise(pl.lit("without a Local Network")).alias("local_network"))
    chart = _bar(shown, "participants_total", "country", "local_network", "Participants", "Country",
                 ["country", "network_stage", "participants_total", "participants_active"]) if data.height else None
    return Figure("coverage_by_country", "Global Compact participants by country",
                  f"The {TOP} countries with the most participants, coloured by whether a Local Network exists; "
                  "the table lists every country. Source: mart_network_coverage_by_country.",
                  data, chart, {"country": "Country", "country_iso3": "ISO3", "region": "Region",
                                "has_local_network": "Local Network", "network_stage": "Stage",
                                "participants_total": "Participants", "participants_active": "Active",
                                "high_risk_organizations": "High risk", "review_organizations": "Review"})


def screening_outcomes(mart: pl.DataFrame) -> Figure:
    data = (mart.with_columns(pl.col("organization_type_name").fill_null(pl.col("organization_type_code")))
            .group_by("risk_level", "organization_type_name").agg(
                pl.col("organizations").sum(), pl.col("flag_sanctions_match").sum(), pl.col("flag_gc_delisted").sum(),
                pl.col("flag_exclusion_keyword").sum())
            .sort("risk_level", "organizations", "organization_type_name", descending=[False, True, False]))
    chart = _bar(data, "organizations", "risk_level", "organization_type_name", "Organisations", "Risk level",
                 ["risk_level", "organization_type_name", "organizations", "flag_sanctions_match"]) if data.height else None
    return Figure("screening_outcomes", "Due-diligence screening outcomes",
                  "Organisations screened against the UN Security Council sanctions list, Global Compact status "
                  "and the exclusion lists, by outcome and type. Source: mart_screening_summary.",
                  data, chart, {"risk_level": "Outcome", "organization_type_name": "Type", "organizations": "Organisations",
                                "flag_sanctions_match": "Sanctions match", "flag_gc_delisted": "GC delisted",
                                "flag_exclusion_keyword": "Exclusion keyword"})


def report_figures(tables: dict[str, pl.DataFrame | None]) -> list[Figure]:
    """The figures the tables of one snapshot allow (a figure whose table was not published is left out)."""
    makers = [
        ("mart_private_contributions_by_entity_year", contributions_by_entity),
        ("mart_private_contributions_by_entity_year", contributions_by_year),
        ("financing_flows", top_private_funders),
        ("financing_flows", flows_by_provider_type),
        ("mart_partnerships_by_sdg", partnerships_by_goal),
        ("mart_network_coverage_by_country", coverage_by_region),
        ("mart_network_coverage_by_country", coverage_by_country),
        ("mart_screening_summary", screening_outcomes),
    ]
    return [make(tables[table]) for table, make in makers if tables.get(table) is not None]


def headlines(tables: dict[str, pl.DataFrame | None]) -> list[Headline]:
    out = []
    if (mart := tables.get("mart_private_contributions_by_entity_year")) is not None:
        out.append(Headline("Private and foundation contributions to the UN (all years)", _money(mart["amount_usd"].sum())))
    if (flows := tables.get("financing_flows")) is not None:
        out.append(Headline("Private and foundation funders", f"{private_to_un(flows)['provider_org_id'].n_unique():,}"))
    if (sdg := tables.get("mart_partnerships_by_sdg")) is not None:
        out.append(Headline("SDG goals with partnership initiatives", f"{sdg.filter(pl.col('initiatives') > 0).height}"))
    if (cov := tables.get("mart_network_coverage_by_country")) is not None:
        out.append(Headline("Global Compact participants", f"{int(cov['participants_total'].sum() or 0):,}"))
        out.append(Headline("Countries with a Local Network", f"{int(cov['has_local_network'].sum() or 0):,}"))
    if (screen := tables.get("mart_screening_summary")) is not None:
        by = dict(screen.group_by("risk_level").agg(pl.col("organizations").sum()).iter_rows())
        out.append(Headline("Organisations screened", f"{int(screen['organizations'].sum() or 0):,}"))
        out.append(Headline("Screened high risk / for review", f"{by.get('high', 0):,} / {by.get('review', 0):,}"))
    return out


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape("" if value is None else str(value))


def _table(figure: Figure) -> str:
    head = "".join(f"<th>{html.escape(t)}</th>" for t in figure.columns.values())
    rows = "".join("<tr>" + "".join(f"<td>{_cell(row[c])}</td>" for c in figure.columns) + "</tr>"
                   for row in figure.data.iter_rows(named=True))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _json_island(payload) -> str:
    # "</" cannot end the script element early
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str).replace("</", "<\\/")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 64rem; color: #1b1b1b; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
.headlines { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: .75rem; }
.headline { background: #f3f6fa; border-radius: 6px; padding: .75rem; }
.headline .value { font-size: 1.3rem; font-weight: 600; display: block; }
.chart { margin: 1rem 0; } details { margin: .5rem 0 1rem; }
table { border-collapse: collapse; font-size: .85rem; } th, td { padding: .2rem .5rem; border-bottom: 1px solid #eee; }
td { text-align: right; } td:first-child { text-align: left; } p.caption { color: #555; font-size: .9rem; }
"""


def render_report(figures: list[Figure], headline_list: list[Headline], snapshot_date: str, javascript: str,
                  other_snapshots: list[str] = ()) -> str:
    """The page: headline numbers, then each figure (chart, caption, table of its numbers)."""
    sections, scripts = [], []
    for figure in figures:
        chart_div = f'<div class="chart" id="chart-{figure.name}"></div>' if figure.chart is not None else \
            '<p class="caption">Nothing to draw for this snapshot.</p>'
        sections.append(
            f'<section id="{figure.name}"><h2>{html.escape(figure.title)}</h2>{chart_div}'
            f'<p class="caption">{html.escape(figure.caption)}</p>'
            f"<details><summary>The numbers ({figure.data.height} rows)</summary>{_table(figure)}</details>"
            f'<script type="application/json" class="figure-data" data-figure="{figure.name}">'
            f"{_json_island(figure.data.to_dicts())}</script></section>")
        if figure.chart is not None:
            scripts.append(f"vegaEmbed('#chart-{figure.name}', {_json_island(figure.chart.to_dict())}, "
                           "{actions: false, renderer: 'svg'}).catch(console.error);")
    tiles = "".join(f'<div class="headline"><span class="value">{html.escape(h.value)}</span>{html.escape(h.label)}</div>'
                    for h in headline_list)
    others = "".join(f'<a href="{d}.html">{d}</a> ' for d in other_snapshots if d != snapshot_date)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>UN partnerships with the private sector: transparency report, {snapshot_date}</title>
<style>{_STYLE}</style>
<script>{javascript}</script>
</head>
<body>
<h1>UN partnerships with the private sector: transparency report</h1>
<p>Snapshot of {snapshot_date}. Who partners with the United Nations, who finances what, how the Global Compact
Local Networks spread country by country, and what due-diligence screening found. Every figure is computed from
the published tables named under it; the numbers behind each chart are listed below it.</p>
{f'<p>Other snapshots: {others}</p>' if others else ''}
<div class="headlines">{tiles}</div>
{''.join(sections)}
<script>
{chr(10).join(scripts)}
</script>
</body>
</html>
"""
