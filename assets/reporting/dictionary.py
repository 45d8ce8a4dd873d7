"""The data dictionary: one static HTML page generated from the table declarations, the Pandera
models, the asset graph's lineage and the catalog, never written by hand.

For every table: its grain, key, partitioning, the rows of its latest snapshot, its columns (type,
null, description, the codelist behind a coded column), how it joins other tables, what feeds it and
what it feeds. Then the reference tables' codes, a relationship diagram, and the cookbook's queries
with the rows they returned when the page was built.
"""

import html
from dataclasses import dataclass

import polars as pl

from assets.reporting.cookbook import Query
from schemas.base import column_order
from schemas.catalog import JOINS, TABLES, WHOLE, Join, column_descriptions


@dataclass(frozen=True)
class TableFacts:
    """What the catalog and the asset graph say about one table."""

    latest: str | None
    latest_rows: int
    partitions: int
    group: str  # the Dagster group of the asset that publishes it
    upstream: tuple[str, ...]  # asset keys it is built from
    downstream: tuple[str, ...]  # asset keys built on it


@dataclass(frozen=True)
class Example:
    query: Query
    result: pl.DataFrame  # its first rows


_PARTITIONING = {"snapshot_date": "one partition per snapshot date (snapshot_date)",
                 "list_date": "one partition per date of the source itself (snapshot_date = the list's dateGenerated)",
                 WHOLE: "one dataset, rebuilt whole on every run"}


def _keys(table: str) -> list[str]:
    columns = TABLES[table].model.to_schema().columns
    return [c for c in column_order(TABLES[table].model) if columns[c].unique]


def _codelists(table: str) -> dict[str, Join]:
    return {j.columns[-1]: j for j in JOINS if j.table == table and j.is_codelist}


def _esc(text) -> str:
    return html.escape("" if text is None else str(text))


def _frame_table(frame: pl.DataFrame, limit: int) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_esc(v)}</td>" for v in row) + "</tr>" for row in frame.head(limit).iter_rows())
    more = f'<p class="note">{frame.height - limit} more rows not shown.</p>' if frame.height > limit else ""
    return f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{more}'


def _join_line(join: Join, this: str) -> str:
    other = join.other if join.table == this else join.table
    condition = join.sql("a", "b") if join.table == this else join.sql("b", "a")
    note = f" ({_esc(join.note)})" if join.note else ""
    return f'<li><a href="#{other}"><code>{other}</code></a> on <code>{_esc(condition)}</code>{note}</li>'


def _table_section(name: str, facts: TableFacts | None, references: dict[str, pl.DataFrame]) -> str:
    spec = TABLES[name]
    schema = spec.model.to_schema().columns
    codelists = _codelists(name)
    rows = []
    for column, description in column_descriptions(name).items():
        c = schema[column]
        codes = ""
        if column in codelists:
            join = codelists[column]
            codes = f'{"" if description.endswith(".") else "."} Codes: <a href="#{join.other}"><code>{join.other}</code></a>'
            if join.other_where:
                codes += f" ({_esc(join.other_where.format(b=join.other))})"
        rows.append(f"<tr><td><code>{column}</code></td><td>{_esc(c.dtype)}</td><td>{'yes' if c.nullable else 'no'}</td>"
                    f"<td>{_esc(description)}{codes}</td></tr>")
    if spec.partitioning != WHOLE and "snapshot_date" not in schema:
        rows.append("<tr><td><code>snapshot_date</code></td><td>Date</td><td>no</td>"
                    "<td>Snapshot date (the hive partition folder of the file)</td></tr>")
    joins = [j for j in JOINS if name in (j.table, j.other)]
    keys = _keys(name)
    lines = [f"<dt>Grain</dt><dd>{_esc(spec.description)}</dd>",
             f"<dt>Key</dt><dd>{', '.join(f'<code>{k}</code>' for k in keys) or 'no single-column key; see the grain'}"
             f"{' (per snapshot)' if keys and spec.partitioning != WHOLE else ''}</dd>",
             f"<dt>Files</dt><dd><code>{spec.layer}/{name}/</code>: {_PARTITIONING[spec.partitioning]}</dd>",
             f"<dt>In the catalog</dt><dd><code>{name}</code>"
             + (f", <code>latest_{name}</code> (latest snapshot only)" if spec.partitioning != WHOLE else "") + "</dd>"]
    if facts is not None:
        when = f"latest snapshot {facts.latest}, " if facts.latest else ""
        lines.append(f"<dt>Rows</dt><dd>{facts.latest_rows:,} ({when}{facts.partitions} partitions published)</dd>")
        lines.append(f"<dt>Built from</dt><dd>{', '.join(f'<code>{_esc(u)}</code>' for u in facts.upstream) or 'its source files'}</dd>")
        lines.append(f"<dt>Feeds</dt><dd>{', '.join(f'<code>{_esc(d)}</code>' for d in facts.downstream) or 'nothing'}</dd>")
    join_html = f"<h4>Joins</h4><ul>{''.join(_join_line(j, name) for j in joins)}</ul>" if joins else ""
    codes_html = ""
    if name in references:
        codes_html = f"<details><summary>Every code ({references[name].height})</summary>{_frame_table(references[name], 400)}</details>"
    return (f'<section id="{name}"><h3><code>{name}</code></h3><p>{_esc((spec.model.__doc__ or "").strip().splitlines()[0])}</p>'
            f"<dl>{''.join(lines)}</dl>"
            f'<table class="columns"><thead><tr><th>column</th><th>type</th><th>null</th><th>description</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>{join_html}{codes_html}</section>")


def relationship_diagram(groups: dict[str, str]) -> str:
    """An SVG of the tables (one column per group) and the joins between them (codelist joins left
    out: they are listed under each table)."""
    order = ["financing", "partnerships", "networks", "due_diligence", "curated", "reporting", "reference"]
    columns: dict[str, list[str]] = {}
    for table in TABLES:
        group = "reference" if table.startswith("ref_") else groups.get(table, "curated")
        columns.setdefault(group, []).append(table)
    present = [g for g in order if g in columns] + sorted(set(columns) - set(order))
    box_w, box_h, gap_x, gap_y, top = 196, 22, 40, 12, 40
    position = {}
    for i, group in enumerate(present):
        for j, table in enumerate(columns[group]):
            position[table] = (20 + i * (box_w + gap_x), top + j * (box_h + gap_y))
    width = 20 + len(present) * (box_w + gap_x)
    height = top + max(len(v) for v in columns.values()) * (box_h + gap_y) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             'aria-label="How the tables join" font-family="sans-serif" font-size="11">']
    for i, group in enumerate(present):
        parts.append(f'<text x="{20 + i * (box_w + gap_x)}" y="20" font-weight="bold">{_esc(group)}</text>')
    for join in JOINS:
        if join.is_codelist:
            continue
        (x1, y1), (x2, y2) = position[join.table], position[join.other]
        a = (x1 + box_w, y1 + box_h / 2) if x1 < x2 else (x1, y1 + box_h / 2)
        b = (x2, y2 + box_h / 2) if x1 < x2 else (x2 + box_w, y2 + box_h / 2)
        if x1 == x2:
            a, b = (x1 + box_w, y1 + box_h / 2), (x2 + box_w, y2 + box_h / 2)
            bend = x1 + box_w + 30
            parts.append(f'<path d="M{a[0]},{a[1]} C{bend},{a[1]} {bend},{b[1]} {b[0]},{b[1]}" fill="none" stroke="#7a8ca5"/>')
        else:
            parts.append(f'<line x1="{a[0]}" y1="{a[1]}" x2="{b[0]}" y2="{b[1]}" stroke="#7a8ca5"/>')
    for table, (x, y) in position.items():
        parts.append(f'<a href="#{table}"><rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="4" fill="#eef3f9" '
                     f'stroke="#34557a"/><text x="{x + 5}" y="{y + 15}" textLength="{min(box_w - 10, 6.2 * len(table)):.0f}" '
                     f'lengthAdjust="spacingAndGlyphs">{table}</text></a>')
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1b1b1b; max-width: 80rem; }
code { font-size: .9em; } h3 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; }
th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid #eee; vertical-align: top; }
dl { display: grid; grid-template-columns: 9rem 1fr; gap: .2rem .75rem; } dt { font-weight: 600; }
.scroll { overflow-x: auto; } .note { color: #555; font-size: .85rem; } pre { background: #f5f7fa; padding: .75rem; overflow-x: auto; }
nav ul { columns: 3; }
"""


def build_dictionary(facts: dict[str, TableFacts], references: dict[str, pl.DataFrame], examples: list[Example],
                     built_from: str) -> str:
    """The page; ``references``: the reference tables' rows, ``examples``: the cookbook's results."""
    groups = {t: f.group for t, f in facts.items()}
    toc = "".join(f'<li><a href="#{t}"><code>{t}</code></a></li>' for t in TABLES)
    sections = "".join(_table_section(t, facts.get(t), references) for t in TABLES)
    cookbook = "".join(
        f'<section id="q-{e.query.name}"><h3>{_esc(e.query.question)}</h3><pre><code>{_esc(e.query.sql)}</code></pre>'
        f"<p class=\"note\">{e.result.height} rows shown (at most 10), from the catalog when this page was built.</p>"
        f"{_frame_table(e.result, 10)}</section>" for e in examples)
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Partnership Transparency: data dictionary</title><style>{_STYLE}</style></head>
<body>
<h1>Partnership Transparency: data dictionary</h1>
<p>Every published table, what one row is, its columns, codes and joins, and where it comes from. Generated from
the table declarations, the Pandera models and the asset graph; row counts and example results come from
<code>{_esc(built_from)}</code>.</p>
<h2>Reading the tables</h2>
<p>Open <code>partnership.duckdb</code> in the data dir with DuckDB: every table below is a view of the same name, and
<code>latest_&lt;table&gt;</code> holds only the latest snapshot of a table published per snapshot. Filter on one
snapshot before summing: each snapshot is a full copy. The Parquet files are under <code>curated/</code> and
<code>mart/</code>, with the column descriptions in their schema metadata.</p>
<pre><code>import duckdb
con = duckdb.connect("data/partnership.duckdb", read_only=True)
con.sql("select * from latest_financing_flows limit 10")</code></pre>
<nav><ul>{toc}</ul></nav>
<h2>How the tables join</h2>
<div class="scroll">{relationship_diagram(groups)}</div>
<h2>Tables</h2>
{sections}
<h2>Cookbook</h2>
{cookbook}
</body>
</html>
"""
