"""Partner screening cost: generated organisations against the real 2025 UN sanctions list.

    python benchmarks/screening.py [--sizes 10000,100000]

Organisation names are generated (seeded) as in ``org_matching.py``; a share of them are listed
names and aliases with the variations the recall test uses, so that scoring runs on real hits too.
Each size runs in a fresh process and reports seconds, peak RSS and how many were flagged; the
growth from the smaller to the larger size is the ratio to watch (10x organisations <= 15x time).
The list is read from ../shared/realdata (the benchmark says so and stops when it is absent).
"""

import random
import resource
import sys
import time
from pathlib import Path

from children import run_benchmark

ROOT = Path(__file__).resolve().parent.parent
LIST = ROOT.parent / "shared" / "realdata" / "sanctions" / "un-sc-consolidated-2025-04-19.xml"


def _measure(n: int) -> dict:
    from datetime import date

    import polars as pl

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from org_matching import names

    from assets.curated.matching import normalize_expr
    from assets.due_diligence.sanctions import read_sanctions_list
    from assets.due_diligence.screening import read_decisions, screen

    listing = read_sanctions_list(LIST, LIST.name)
    rng = random.Random(11)
    listed = listing.entities.filter(pl.col("record_type") == "entity")["name"].to_list()
    generated = [name for name, _ in names(n)]
    for i in rng.sample(range(n), min(n // 100, len(listed))):  # 1 % are listed names with a variation
        generated[i] = rng.choice(listed).title() + rng.choice(["", " Ltd", " S.A."])
    organizations = pl.DataFrame({"org_id": [f"o{i}" for i in range(n)], "canonical_name": generated}).with_columns(
        normalize_expr("canonical_name").alias("name_normalized"), pl.lit(None, pl.Utf8).alias("country_iso3"),
        pl.lit(None, pl.Utf8).alias("organization_type_code"), pl.lit(None, pl.Utf8).alias("gc_participant_id"))
    participants = pl.DataFrame(schema={"participant_id": pl.Utf8, "status": pl.Utf8, "delisting_reason": pl.Utf8,
                                        "sector": pl.Utf8})
    started = time.perf_counter()
    result, _ = screen(organizations, listing.entities, listing.aliases, participants, read_decisions(None)[0],
                       date(2026, 1, 1))
    seconds = time.perf_counter() - started
    return {"organizations": n, "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "flagged": result.filter(pl.col("flags").list.contains("sanctions_match")).height}


def main() -> None:
    if not LIST.is_file():
        print(f"the 2025 sanctions list is not at {LIST}: nothing to measure")
        return
    run_benchmark(__file__, __doc__, _measure, "10000,100000", lambda r: (
        f"{r['organizations']:>9,} organisations  {r['seconds']:7.2f} s  peak RSS {r['peak_rss_mb']:7.0f} MB  "
        f"{r['flagged']:>6,} flagged  {r['organizations'] / r['seconds']:10,.0f} organisations/s"),
        "organizations", "organisations")

if __name__ == "__main__":
    main()
