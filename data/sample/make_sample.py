"""Write the embedded sample inputs (seeded, so the files are the same on every run).

    python data/sample/make_sample.py

IATI 2.03 activity files for three UN reporting organisations with private-sector (70-73) and
foundation (60) funders, several currencies and value dates, budgets and SDG tags; a few records
are wrong on purpose (unknown codes, a negative budget, a duplicate identifier, a 1.03 activity, a
value that is not a number, a currency without a rate) and one file is truncated, so that the
rejects path runs in the demo. Also Global Compact participants (export layout) and Local
Networks, SDG partnership records (JSON) and UN revenue by contributor (CEB layout), each with a few
wrong rows. Organisation names are invented.
"""

import csv
import json
import random
from datetime import date, timedelta
from pathlib import Path

from lxml import etree

HERE = Path(__file__).resolve().parent
SEED = 20261125

REPORTERS = [
    ("XM-DAC-41114", "United Nations Development Programme (UNDP)", "undp", "USD"),
    ("XM-DAC-41122", "United Nations Children's Fund (UNICEF)", "unicef", "EUR"),
    ("XM-DAC-41140", "World Food Programme (WFP)", "wfp", "CHF"),
]
FUNDERS = [  # ref, name, organisation type, currency they pay in
    ("GB-COH-04512345", "Northwind Beverages plc", "71", "GBP"),
    ("CH-FDJP-CHE-101.222.333", "Alpenrose Pharma AG", "70", "CHF"),
    ("JP-CN-5010001098765", "Kaiyo Shipping Co., Ltd.", "73", "JPY"),
    ("KE-RCO-CPR2011123", "Savanna Mobile Money Ltd", "72", "KES"),
    ("US-EIN-94-1234567", "Harbor Light Foundation", "60", "USD"),
    ("NL-KVK-41234567", "Stichting Blauwe Oceaan", "60", "EUR"),
    ("NO-BRC-912345678", "Fjordkraft Energi ASA", "70", "NOK"),
    ("SN-NINEA-005678901", "Teranga Agro SARL", "72", "XOF"),  # no ECB or sample IMF rate: flagged
]
RECEIVERS = [
    ("KE-RCO-PVT-7ABC12", "Maji Safi Water Services Ltd", "72"),
    ("IN-MCA-U74999DL2010PTC123456", "Sunrise Solar Installers Pvt Ltd", "72"),
    ("BD-RJSC-C-98765", "Delta Logistics Ltd", "72"),
]
COUNTRIES = ["KE", "BD", "SS", "HT", "JO", "CO", "NP", "SN", "MZ", "UA"]
SECTORS = ["12220", "14030", "15110", "31120", "43010", "72010", "11220", "23210"]
TARGETS = ["1.2", "2.1", "3.8", "4.1", "6.1", "7.2", "13.1", "14.1", "16.6", "17.17"]


def _narrative(parent, text, lang=None):
    n = etree.SubElement(parent, "narrative")
    if lang:
        n.set("{http://www.w3.org/XML/1998/namespace}lang", lang)
    n.text = text


def _org(parent, tag, ref, org_type, name, **attrs):
    el = etree.SubElement(parent, tag, ref=ref, type=org_type, **attrs)
    _narrative(el, name)
    return el


def _activity(root, rng, reporter, number, *, status="2", version=None, budget_value=None):
    ref, name, slug, currency = reporter
    act = etree.SubElement(root, "iati-activity", {
        "last-updated-datetime": "2026-11-01T00:00:00Z", "default-currency": currency,
        "humanitarian": rng.choice(["0", "1"]), "hierarchy": "1",
        "{http://www.w3.org/XML/1998/namespace}lang": "en"})
    if version:
        act.set("version", version)
    identifier = f"{ref}-{slug.upper()}-{number:05d}"
    etree.SubElement(act, "iati-identifier").text = identifier
    _org(act, "reporting-org", ref, "40", name)
    title = etree.SubElement(act, "title")
    _narrative(title, f"{slug.upper()} partnership programme {number}")
    _narrative(title, f"Programme de partenariat {number}", "fr")
    funder = rng.choice(FUNDERS[:-1])
    _org(act, "participating-org", funder[0], funder[2], funder[1], role="1")
    _org(act, "participating-org", ref, "40", name, role="2")
    receiver = rng.choice(RECEIVERS)
    _org(act, "participating-org", receiver[0], receiver[2], receiver[1], role="4")
    etree.SubElement(act, "activity-status", code=status)
    start = date(2023, 1, 1) + timedelta(days=rng.randrange(0, 700))
    end = start + timedelta(days=rng.choice([365, 540, 730]))
    etree.SubElement(act, "activity-date", type="1", **{"iso-date": start.isoformat()})
    etree.SubElement(act, "activity-date", type="2", **{"iso-date": (start + timedelta(days=14)).isoformat()})
    etree.SubElement(act, "activity-date", type="3", **{"iso-date": end.isoformat()})
    for country in rng.sample(COUNTRIES, rng.choice([1, 1, 2])):
        etree.SubElement(act, "recipient-country", code=country, percentage="100")
    etree.SubElement(act, "sector", code=rng.choice(SECTORS), vocabulary="1", percentage="100")
    target = rng.choice(TARGETS)
    etree.SubElement(act, "sector", code=target.split(".")[0], vocabulary="7")
    etree.SubElement(act, "tag", code=target, vocabulary="3")
    etree.SubElement(act, "tag", code=target.split(".")[0], vocabulary="2")
    # A publisher extension in its own namespace: ignored by the reader.
    etree.SubElement(act, "{http://example.org/ns/partner-ext}programme-code").text = f"PX-{number}"
    etree.SubElement(act, "default-flow-type", code="30")
    etree.SubElement(act, "default-finance-type", code="110")
    etree.SubElement(act, "default-aid-type", code="B03", vocabulary="1")

    budget = etree.SubElement(act, "budget", type="1", status="2")
    etree.SubElement(budget, "period-start", **{"iso-date": start.isoformat()})
    etree.SubElement(budget, "period-end", **{"iso-date": (start + timedelta(days=364)).isoformat()})
    value = etree.SubElement(budget, "value", currency=currency, **{"value-date": start.isoformat()})
    value.text = str(budget_value if budget_value is not None else rng.randrange(50, 900) * 1000)

    # Incoming commitment and incoming funds from the private funder, disbursement to a company.
    for type_code, days in (("11", 0), ("1", 30)):
        tr = etree.SubElement(act, "transaction", ref=f"{identifier}-T{type_code}")
        etree.SubElement(tr, "transaction-type", code=type_code)
        when = start + timedelta(days=days)
        etree.SubElement(tr, "transaction-date", **{"iso-date": when.isoformat()})
        v = etree.SubElement(tr, "value", currency=funder[3], **{"value-date": when.isoformat()})
        v.text = f"{rng.randrange(10, 500) * 1000}.00"
        _org(tr, "provider-org", funder[0], funder[2], funder[1])
        _org(tr, "receiver-org", ref, "40", name, **{"receiver-activity-id": identifier})
    tr = etree.SubElement(act, "transaction")
    etree.SubElement(tr, "transaction-type", code="3")
    when = start + timedelta(days=90)
    etree.SubElement(tr, "transaction-date", **{"iso-date": when.isoformat()})
    v = etree.SubElement(tr, "value")  # no currency: falls back to the activity's default-currency
    v.text = str(rng.randrange(5, 100) * 1000)
    _org(tr, "receiver-org", receiver[0], receiver[2], receiver[1])
    return act


def _write(root, path: Path) -> None:
    path.write_bytes(etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8"))


def main() -> None:
    rng = random.Random(SEED)
    out = HERE / "iati"
    out.mkdir(exist_ok=True)
    for reporter in REPORTERS:
        root = etree.Element("iati-activities", version="2.03", **{"generated-datetime": "2026-11-01T00:00:00Z"})
        for number in range(1, 9):
            _activity(root, rng, reporter, number)
        slug = reporter[2]
        if slug == "undp":
            _activity(root, rng, reporter, 90, status="9")  # unknown ActivityStatus code
            _activity(root, rng, reporter, 91, budget_value=-25000)  # negative budget
            _activity(root, rng, reporter, 1)  # duplicate iati-identifier
        if slug == "unicef":
            _activity(root, rng, reporter, 92, version="1.03")  # legacy version: quarantined
            bad = _activity(root, rng, reporter, 93)
            bad.find("transaction/transaction-type").set("code", "99")  # unknown TransactionType
            bad.find("transaction/value").text = "1,2k"  # not a number
        if slug == "wfp":
            act = _activity(root, rng, reporter, 94)
            tr = act.find("transaction/value")
            tr.set("currency", "XOF")  # no rate available: published with value_usd null, flagged
        _write(root, out / f"{slug}-activities-2.03.xml")

    # A file cut off mid-way: quarantined whole, the other files still publish.
    broken = etree.Element("iati-activities", version="2.03")
    _activity(broken, rng, REPORTERS[0], 95)
    text = etree.tostring(broken, pretty_print=True, xml_declaration=True, encoding="UTF-8")
    (out / "undp-truncated-2.03.xml").write_bytes(text[: len(text) // 2])

    write_ungc(rng)
    write_partnerships(rng)
    write_revenue(rng)
    write_sanctions()

    # IMF annual end-of-period rates (national currency per USD) for a currency the ECB lacks.
    rates = HERE / "exchange_rates"
    rates.mkdir(exist_ok=True)
    (rates / "imf-annual-sample.csv").write_text(
        "Date,Rate,Currency,Frequency,Source,Country code,Country\n"
        "2023-12-31,156.4636,KES,A,IMF,KE,Kenya\n"
        "2024-12-31,129.2950,KES,A,IMF,KE,Kenya\n"
        "2025-12-31,129.2300,KES,A,IMF,KE,Kenya\n",
        encoding="utf-8",
    )


GC_COUNTRIES = ["Kenya", "Brazil", "Germany", "India", "Japan", "South Africa", "France", "United States",
                "Bangladesh", "Switzerland", "Norway", "Senegal"]
GC_TYPES = ["Company", "SME", "NGO Local", "Academic", "City", "Business Association Local", "Foundation",
            "Public Sector Organization", "Labour Global"]
GC_SECTORS = ["Beverages", "Pharmaceuticals & Biotechnology", "Industrial Transportation", "Banks", "Not Applicable",
              "Electricity", "Food Producers", "Media"]
DELISTING_REASONS = ["Expulsion for failure to communicate progress", "Participant requested withdrawal",
                     "Organization no longer exists (Merger, Ceased Trading etc.)"]


def write_ungc(rng: random.Random) -> None:
    out = HERE / "ungc"
    out.mkdir(exist_ok=True)
    rows = [["Participant", "Type", "Sector", "Country", "Joined On", "Status", "Ownership", "Employees",
             "Reporting Due On", "Delisted On", "Delisting Reason"]]
    names = [f[1] for f in FUNDERS] + [r[1] for r in RECEIVERS] + [
        f"{prefix} {suffix}" for prefix in ("Acacia", "Baobab", "Cedar", "Delta", "Ember", "Fern", "Granite", "Harbor")
        for suffix in ("Holdings", "Cooperative", "Institute", "Trust")]
    for i, name in enumerate(names):
        joined = date(2008, 1, 1) + timedelta(days=rng.randrange(0, 6500))
        status = rng.choices(["Active", "Non-communicating", "Delisted"], weights=[6, 2, 2])[0]
        delisted = joined + timedelta(days=rng.randrange(400, 2500)) if status == "Delisted" else None
        rows.append([name, rng.choice(GC_TYPES[:2]) if i < len(FUNDERS) + len(RECEIVERS) else rng.choice(GC_TYPES),
                     rng.choice(GC_SECTORS), GC_COUNTRIES[i % len(GC_COUNTRIES)], joined.isoformat(), status,
                     rng.choice(["Private Company", "Public Company", "Subsidiary", "State-owned", ""]),
                     str(rng.choice([12, 85, 240, 1300, 56000])), (joined + timedelta(days=365)).isoformat(),
                     delisted.isoformat() if delisted else "", rng.choice(DELISTING_REASONS) if delisted else ""])
    rows.append(["Orion Mining Corp.", "Company", "Mining", "Chile", "2019-04-02", "Suspended", "", "900", "", "", ""])  # unknown status
    rows.append(["Atlantis Trading Ltd", "SME", "Banks", "Atlantis", "2020-01-15", "Active", "", "many", "", "", ""])  # unknown country, bad employees
    rows.append([names[0], "Company", "Beverages", GC_COUNTRIES[0], "2012-03-01", "Active", "", "40", "", "", ""])  # duplicate
    with open(out / "participants-export.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)

    header = ["", "Country name", "", "Region", "RH", "Nov 2025 Development Stage", "Expected January 2026 Status",
              "2024 Baseline and 2026 Projections agreed", "2024 total contributions to GCO",
              "2024 total contributions to LN", "2024 combined contributions total", "Invoicing currency"]
    regions = {"Kenya": "Africa", "Brazil": "Americas", "Germany": "Europe", "India": "Asia", "Japan": "Asia",
               "South Africa": "Africa", "France": "Europe", "United States": "Americas", "Bangladesh": "Asia"}
    lines = [header]
    for country, region in regions.items():
        gco, ln = rng.randrange(0, 200) * 1000, rng.randrange(0, 150) * 500
        lines.append(["", country, "Link", region, "RH", rng.choice(["Advanced", "Active", "Emerging"]), "Local Network",
                      rng.choice(["Yes", "No"]), f"${gco:,} ", f"${ln:,} ", f"${gco + ln:,} ", "USD"])
    lines.append(["", "Switzerland", "Link", "Europe", "RH", "Active", "Local Network", "No", "TBD", "$0 ", "$0 ", "CHF"])
    with open(out / "local-networks.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(lines)


def write_partnerships(rng: random.Random) -> None:
    out = HERE / "partnerships"
    out.mkdir(exist_ok=True)
    records = []
    leads = [(f[1], "Private sector") for f in FUNDERS[:5]] + [("UNDP", "United Nations entity"),
                                                              ("Ministry of Fisheries of Kenya", "Government")]
    for i in range(14):
        lead = leads[i % len(leads)]
        goal = rng.choice([2, 6, 7, 13, 14, 17])
        targets = [t for t in TARGETS if t.startswith(f"{goal}.")] or [f"{goal}.1"]
        start = date(2022, 1, 1) + timedelta(days=rng.randrange(0, 900))
        records.append({
            "id": f"#{'OceanAction' if goal == 14 else 'SDGAction'}{50000 + i}",
            "title": f"Partnership for goal {goal} number {i}",
            "description": "Written for the sample data.",
            "lead_entity": lead[0], "lead_entity_type": lead[1],
            "partners": rng.sample([r[1] for r in RECEIVERS] + ["UNICEF", "WFP", "Harbor Light Foundation"], 2),
            "sdgs": [goal], "targets": targets,
            "start_date": start.isoformat(), "end_date": (start + timedelta(days=730)).isoformat(),
            "resources": rng.choice(["Financing (in USD): 250,000", "In-kind contribution", "Staff / Technical expertise"]),
            "progress_status": rng.choice(["On track", "Completed", "Not started"]),
        })
    records[3]["targets"] = records[3]["targets"] + ["14.z"]  # not a UN SDG target
    records.append({"id": "SDG-123", "title": "Malformed identifier", "lead_entity": "Unknown"})
    records[5]["start_date"] = "sometime in 2024"  # not a date: kept null, flagged
    (out / "sdg-actions.json").write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_revenue(rng: random.Random) -> None:
    out = HERE / "financing"
    out.mkdir(exist_ok=True)
    rows = [["amount", "_currency", "entity", "calendar_year", "rev_type", "donor", "contrib_type"]]
    donors = [("Northwind Beverages plc", "C06"), ("Harbor Light Foundation", "C05"), ("European Union", "C08A"),
              ("World Bank Group", "C04A"), ("Stichting Blauwe Oceaan", "Foundation"), ("Alpenrose Pharma AG", "Private Sector")]
    for year in range(2016, 2025):
        for entity in ("UNDP", "UNICEF", "WFP"):
            donor, code = donors[rng.randrange(len(donors))]
            legacy = year <= 2017 and rng.random() < 0.5
            rows.append([f"{rng.randrange(50, 5000) * 1000}", "USD", entity, str(year),
                         rng.choice(["R03E", "R02A", "Voluntary non-core (earmarked) contributions"]), donor,
                         "2" if legacy else code])
    rows.append(["125000", "USD", "WFP", "2016", "R09", "Private Donors", "2"])  # no history: donor mapping
    rows.append(["9000", "USD", "UNICEF", "2015", "R09", "Ocean Friends Circle", "2"])  # unclassified non-government
    rows.append(["  -    ", "USD", "UNDP", "2019", "R03E", "Northwind Beverages plc", "C06"])  # not a number
    with open(out / "un-revenue.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


SANCTIONED = [  # invented listings in the Consolidated List layout
    ("SAe.001", "NORTHERN STAR TRADING CORPORATION", "2019-03-04", ["Northern Star Trading Co."], "KP"),
    ("SAe.002", "GREEN VALLEY EXPORT LLC", "2020-07-21", ["Green Valley Exports"], "IR"),
    ("SAe.003", "DELTA LOGISTIC COMPANY", "2021-01-12", ["Delta Logistics"], "BD"),
    ("SAe.004", "RED HARBOUR SHIPPING", "2022-09-30", [], "LY"),
]


def write_sanctions() -> None:
    out = HERE / "sanctions"
    out.mkdir(exist_ok=True)

    def listing(entities, generated):
        root = etree.Element("CONSOLIDATED_LIST", dateGenerated=generated)
        etree.SubElement(root, "INDIVIDUALS")
        ents = etree.SubElement(root, "ENTITIES")
        for i, (ref, name, listed, aliases, country) in enumerate(entities):
            e = etree.SubElement(ents, "ENTITY")
            etree.SubElement(e, "DATAID").text = str(900000 + i)
            etree.SubElement(e, "VERSIONNUM").text = "1"
            etree.SubElement(e, "FIRST_NAME").text = name
            etree.SubElement(e, "UN_LIST_TYPE").text = "Sample"
            etree.SubElement(e, "REFERENCE_NUMBER").text = ref
            etree.SubElement(e, "LISTED_ON").text = listed
            etree.SubElement(etree.SubElement(e, "LIST_TYPE"), "VALUE").text = "UN List"
            etree.SubElement(etree.SubElement(e, "LAST_DAY_UPDATED"), "VALUE").text = listed
            for alias in aliases:
                a = etree.SubElement(e, "ENTITY_ALIAS")
                etree.SubElement(a, "QUALITY").text = "a.k.a."
                etree.SubElement(a, "ALIAS_NAME").text = alias
            etree.SubElement(etree.SubElement(e, "ENTITY_ADDRESS"), "COUNTRY").text = country
        return root

    _write(listing(SANCTIONED[:3], "2026-01-15T10:00:00Z"), out / "consolidated-2026-01-15.xml")
    later = [SANCTIONED[0], (*SANCTIONED[2][:3], ["Delta Logistics", "Delta Logistic Co"], "BD"), SANCTIONED[3]]
    _write(listing(later, "2026-06-01T10:00:00Z"), out / "consolidated-2026-06-01.xml")


if __name__ == "__main__":
    main()
