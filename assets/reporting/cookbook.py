"""The questions analysts ask, each answered by one query on the DuckDB catalog.

The data dictionary runs every query when it is built (a query that fails breaks the build) and
shows its first rows; the README's cookbook is generated from this list (a test holds them equal).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    name: str
    question: str
    sql: str
    tables: tuple[str, ...]  # the catalog views it reads, for the dictionary's cross-references


COOKBOOK: tuple[Query, ...] = (
    Query(
        "top_private_funders_by_year",
        "Who are the top private and foundation funders of a UN entity, year by year? "
        "(Here the entity that receives the most; replace the subquery by a name such as 'UNICEF'.)",
        """\
with entity as (
    select un_entity from latest_mart_private_contributions_by_entity_year
    group by un_entity order by sum(amount_usd) desc limit 1
)
select f.un_entity, f.year, f.provider_org_name, t.name as provider_type, sum(f.amount_usd) as usd
from latest_financing_flows f
join ref_organisation_types t on t.code = f.provider_type_code
where f.is_counted and f.direction = 'to_un' and t.is_private
  and f.un_entity = (select un_entity from entity)
group by f.un_entity, f.year, f.provider_org_name, t.name
qualify row_number() over (partition by f.year order by sum(f.amount_usd) desc) <= 3
order by f.year desc, usd desc""",
        ("latest_financing_flows", "ref_organisation_types", "latest_mart_private_contributions_by_entity_year"),
    ),
    Query(
        "delisted_by_year",
        "How many Global Compact participants were delisted each year, and after how long in the Compact?",
        """\
select year(valid_from) as year_delisted, count(*) as participants,
       round(median(days_since_joined) / 365.25, 1) as median_years_since_joining,
       count(*) filter (where delisting_reason ilike '%communicat%') as for_failure_to_communicate
from gc_participant_status_history
where status = 'Delisted' and valid_from is not null
group by all
order by year_delisted desc""",
        ("gc_participant_status_history",),
    ),
    Query(
        "local_network_coverage_by_region",
        "How well do Global Compact Local Networks cover each region?",
        """\
select coalesce(region, '(no M49 region)') as region,
       count(*) as countries_with_participants,
       count(*) filter (where has_local_network) as with_local_network,
       round(100.0 * count(*) filter (where has_local_network) / count(*), 1) as pct_with_network,
       sum(participants_active) as active_participants
from latest_mart_network_coverage_by_country
group by all
order by active_participants desc""",
        ("latest_mart_network_coverage_by_country",),
    ),
    Query(
        "partners_flagged",
        "Which partners are flagged high risk or for review, and why?",
        """\
select canonical_name, country_iso3, risk_level, flags, reasons, decision
from latest_partner_screening
where risk_level in ('high', 'review')
order by case risk_level when 'high' then 0 else 1 end, canonical_name
limit 25""",
        ("latest_partner_screening",),
    ),
    Query(
        "sdg_coverage_of_initiatives",
        "Which SDGs do partnership initiatives cover, and how many have a private-sector lead?",
        """\
select g.goal, g.title, count(distinct s.action_id) as initiatives,
       round(100.0 * count(distinct s.action_id)
             / (select count(*) from latest_partnerships), 1) as pct_of_initiatives,
       any_value(m.initiatives_with_private_lead) as with_private_lead
from ref_sdg_targets g
left join latest_partnership_sdg_targets s on s.goal = g.goal and s.kind = 'goal'
left join latest_mart_partnerships_by_sdg m on m.goal = g.goal
where g.kind = 'goal'
group by all
order by g.goal""",
        ("ref_sdg_targets", "latest_partnership_sdg_targets", "latest_partnerships", "latest_mart_partnerships_by_sdg"),
    ),
    Query(
        "money_from_flagged_partners",
        "How much money did the UN receive from organisations that screening flags?",
        """\
select s.risk_level, count(distinct f.provider_org_id) as providers, sum(f.amount_usd) as usd
from latest_financing_flows f
join latest_partner_screening s on s.org_id = f.provider_org_id
where f.is_counted and f.direction = 'to_un'
group by all
order by usd desc""",
        ("latest_financing_flows", "latest_partner_screening"),
    ),
    Query(
        "rejects_by_reason",
        "What was quarantined in the latest snapshot, and why?",
        """\
select source, "table", severity, "check", count(*) as records
from rejects
where snapshot_date = (select max(snapshot_date) from rejects)
group by all
order by records desc
limit 15""",
        ("rejects",),
    ),
)


def cookbook_markdown() -> str:
    """The README's cookbook section body."""
    blocks = []
    for query in COOKBOOK:
        blocks.append(f"**{query.question}**\n\n```sql\n{query.sql}\n```")
    return "\n\n".join(blocks)
