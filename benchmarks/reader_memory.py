"""Peak memory of the tabular readers on files near the size limit, each in a fresh process.

    python benchmarks/reader_memory.py [--sizes 50,150]

Generates (seeded) an SDG Actions records CSV and a Global Compact participant export of each size
in MB, then measures, each in its own process: the bare batched CSV read (``read_csv_batches``), the
partnerships and the participants source paths as a run takes them (batches built, validated with
Pandera, written as part files and published), and ``build_organizations`` on the participants'
records. Prints seconds, peak RSS and RSS per input MB, so a reader
whose memory grows faster than its input shows. The baseline is the file size itself.
"""

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTICIPANTS_HEADER = ("Participant,Type,Sector,Country,Joined On,Status,Ownership,Employees,Reporting Due On,"
                       "Delisted On,Delisting Reason\n")
WORDS = [f"{a}{b}" for a in ("Alpha", "Beta", "Gamma", "Delta", "Nord", "Sud", "Terra", "Aqua", "Sol", "Luna")
         for b in ("tech", "corp", "group", "trade", "energy", "foods", "logistics", "consult", "bank", "media")]
DAY = date(2026, 11, 25)
COUNTRIES = ["France", "Germany", "Brazil", "India", "Kenya", "Japan", "Chile", "Spain", "Italy", "Peru", "Ghana"]


def write_partnerships(path: Path, mb: int) -> None:
    rng = random.Random(1)
    with path.open("w") as fh:
        fh.write("id,title,lead_entity,partners,sdgs,targets\n")
        i = 0
        while fh.tell() < mb << 20:
            i += 1
            partners = ";".join(f"Partner organisation {rng.randint(1, 50_000)}" for _ in range(rng.randint(1, 8)))
            fh.write(f'#SDGAction{i},Title of action {i} about oceans,Lead entity {i % 5000},"{partners}","14,13",14.1\n')


def write_participants(path: Path, mb: int) -> None:
    rng = random.Random(2)
    with path.open("w") as fh:
        fh.write(PARTICIPANTS_HEADER)
        i = 0
        while fh.tell() < mb << 20:
            i += 1
            fh.write(f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i} Ltd,Company,Banks,{rng.choice(COUNTRIES)},2019-05-01,"
                     "Active,Private Company,120,2026-05-01,,\n")


def publish(builder, tables: list[str], path: str, data_dir: str) -> int:
    """The source path of a run: batches built, validated and written as part files, then published."""
    from assets.wiring.tables import RunTotals, validate_and_publish_batches
    from pipelines.resources import QualityResource
    from pipelines.storage.store import DataStore

    batches = builder([(Path(path), "bench.csv")], None, DAY, max_table_bytes=1 << 30)
    rows = validate_and_publish_batches(batches, tables, store=DataStore(data_dir), quality=QualityResource(),
                                        source="bench", snapshot_date=DAY.isoformat(), totals=RunTotals(tables=tables))
    return rows[tables[0]]


def measure(mode: str, path: str, batch_mb: float | None = None) -> dict:
    sys.path.insert(0, str(ROOT))
    if batch_mb:
        import assets.io
        assets.io.CSV_BATCH_BYTES = int(batch_mb * (1 << 20))
    started = time.perf_counter()
    if mode == "csv":
        from assets.io import read_csv_batches
        rows = sum(frame.height for frame, _ in read_csv_batches(Path(path), "bench.csv", max_bytes=1 << 30))
    elif mode == "partnerships":
        from assets.partnerships.sdg_partnerships import TABLES, partnership_batches
        with tempfile.TemporaryDirectory() as data_dir:
            rows = publish(partnership_batches, list(TABLES), path, data_dir)
    elif mode == "participants":
        from assets.partnerships.ungc_participants import participant_batches
        with tempfile.TemporaryDirectory() as data_dir:
            rows = publish(participant_batches, ["gc_participants"], path, data_dir)
    else:
        from assets.curated.organizations import build_organizations, source_records
        from assets.partnerships.ungc_participants import read_participants
        frame, _ = read_participants([(Path(path), "bench.csv")], "export", DAY, max_table_bytes=1 << 30)
        rows = build_organizations(source_records({"gc_participants": frame}), DAY)[0].height
    return {"mode": mode, "rows": rows, "seconds": time.perf_counter() - started,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,150")
    parser.add_argument("--modes", default="csv,partnerships,participants,organizations")
    parser.add_argument("--batch-mb", type=float, help="CSV batch size (default: the readers' own)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, batch_mb=args.batch_mb)))
        return
    with tempfile.TemporaryDirectory() as folder:
        for mb in (int(s) for s in args.sizes.split(",")):
            partnerships, participants = Path(folder) / f"p{mb}.csv", Path(folder) / f"gc{mb}.csv"
            write_partnerships(partnerships, mb)
            write_participants(participants, mb)
            print(f"\n{mb} MB files")
            for mode, path in (("csv", partnerships), ("partnerships", partnerships), ("participants", participants),
                               ("organizations", participants)):
                if mode not in args.modes.split(","):
                    continue
                batch = ["--batch-mb", str(args.batch_mb)] if args.batch_mb else []
                out = subprocess.run([sys.executable, __file__, "--child", mode, str(path), *batch], check=True,
                                     capture_output=True, text=True, cwd=ROOT)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"  {mode:14s} {r['rows']:>10,} rows  {r['seconds']:6.1f} s  peak RSS {r['peak_rss_mb']:6.0f} MB  "
                      f"({r['peak_rss_mb'] / mb:5.1f} MB per input MB)")


if __name__ == "__main__":
    main()
