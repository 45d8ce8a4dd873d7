"""Organisation matching cost for 10k, 100k and 1M generated names, and the growth ratio.

    python benchmarks/org_matching.py [--sizes 10000,100000,1000000]

Names are generated (seeded) from syllables, legal suffixes and countries, with a share of
near-duplicates (case, punctuation, suffix, one transposed letter) so that blocks and matches look
like real data. Each size runs in a fresh process; the time covers normalization, candidate pairs,
scoring and clustering (``build_organizations``), and the process's peak RSS (generation included).
Target: 10x more names costs at most 15x more time.
"""

import random
import time
from pathlib import Path

from children import run_benchmark

ROOT = Path(__file__).resolve().parent.parent
SYLLABLES = ["ka", "ri", "to", "mo", "la", "zen", "vor", "pel", "dun", "sha", "qui", "bra", "nex", "tor", "lin", "gar",
             "mi", "so", "fu", "ter", "ax", "ol", "ven", "cor", "del", "sam", "tri", "um", "ha", "jo"]
WORDS = ["Holdings", "Foods", "Energy", "Logistics", "Partners", "Trading", "Health", "Water", "Solar", "Textiles"]
SUFFIXES = ["Ltd", "plc", "S.A.", "GmbH", "Inc.", "LLC", "AG", "", "", ""]
COUNTRIES = ["KEN", "BRA", "DEU", "IND", "JPN", "ZAF", "FRA", "USA", None]


def names(n: int, seed: int = 7) -> list[tuple[str, str | None]]:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
        name = f"{stem} {rng.choice(WORDS)} {rng.choice(SUFFIXES)}".strip()
        country = rng.choice(COUNTRIES)
        out.append((name, country))
        if rng.random() < 0.2:  # a variant of the same organisation
            chars = list(name.upper() if rng.random() < 0.5 else name)
            i = rng.randrange(1, max(2, len(stem) - 1))
            chars[i], chars[i - 1] = chars[i - 1], chars[i]
            out.append(("".join(chars).replace(" ", ", ", 1), country))
    return out[:n]


def _measure(n: int) -> dict:
    from datetime import date

    import polars as pl

    from assets.curated.organizations import RECORD_SCHEMA, build_organizations

    generated = names(n)
    records = pl.DataFrame({
        "source": ["benchmark"] * n, "source_table": ["benchmark"] * n, "source_key": [str(i) for i in range(n)],
        "source_name": [g[0] for g in generated], "iati_ref": [None] * n, "gc_participant_id": [None] * n,
        "country_iso3": [g[1] for g in generated], "source_type": [None] * n, "iati_type_code": [None] * n,
    }, schema=RECORD_SCHEMA)
    started = time.perf_counter()
    organizations, links = build_organizations(records, date(2026, 1, 1))
    seconds = time.perf_counter() - started
    import resource

    return {"names": n, "seconds": seconds, "organizations": organizations.height,
            "fuzzy_links": links.filter(pl.col("match_method") == "fuzzy").height,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    run_benchmark(__file__, __doc__, _measure, "10000,100000,1000000", lambda r: (
        f"{r['names']:>9,} names  {r['seconds']:8.2f} s  {r['organizations']:>9,} organisations  "
        f"{r['fuzzy_links']:>8,} fuzzy links  {r['names'] / r['seconds']:10,.0f} names/s  "
        f"peak RSS {r['peak_rss_mb']:6,.0f} MB"), "names", "names")

if __name__ == "__main__":
    main()
