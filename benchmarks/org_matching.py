"""Organisation matching cost for 10k, 100k and 1M generated names, and the growth ratio.

    python benchmarks/org_matching.py [--sizes 10000,100000,1000000]

Names are generated (seeded) from syllables, legal suffixes and countries, with a share of
near-duplicates (case, punctuation, suffix, one transposed letter) so that blocks and matches look
like real data. Each size runs in a fresh process; the time covers normalization, candidate pairs,
scoring and clustering (``build_organizations``). Target: 10x more names costs at most 15x more time.
"""

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

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
    return {"names": n, "seconds": seconds, "organizations": organizations.height,
            "fuzzy_links": links.filter(pl.col("match_method") == "fuzzy").height}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_measure(args.child)))
        return
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        out = subprocess.run([sys.executable, __file__, "--child", str(n)], check=True, capture_output=True, text=True, cwd=ROOT)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{r['names']:>9,} names  {r['seconds']:8.2f} s  {r['organizations']:>9,} organisations  "
              f"{r['fuzzy_links']:>8,} fuzzy links  {r['names'] / r['seconds']:10,.0f} names/s")
    for small, large in zip(results, results[1:], strict=False):
        growth = large["seconds"] / small["seconds"]
        print(f"{small['names']:,} -> {large['names']:,}: {large['names'] / small['names']:.0f}x names cost "
              f"{growth:.1f}x time (target <= 15x)")


if __name__ == "__main__":
    main()
