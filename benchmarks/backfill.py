"""Backfill cost per partition (7-day vs 90-day, single run each) and a no-change nightly run
against a full one, on the embedded sample (config/sources.yaml).

    python benchmarks/backfill.py [--short 7] [--long 90]

Targets: the long backfill costs at most 1.2x per partition what the short one costs; a nightly run
whose landed inputs did not change takes under 20% of a full run.
"""

import argparse
import logging
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def runner(data_dir: Path, sources: Path = ROOT / "config" / "sources.yaml"):
    import dagster as dg

    from pipelines.cli import PARTITION_RANGE_END, PARTITION_RANGE_START
    from pipelines.definitions import build_definitions
    from pipelines.resources import (
        HttpResource,
        QualityResource,
        ScreeningResource,
        SourcesResource,
        StorageResource,
    )

    defs = build_definitions({
        "sources": SourcesResource(sources_file=str(sources)),
        "storage": StorageResource(data_dir=str(data_dir)),
        "quality": QualityResource(),
        "screening": ScreeningResource(decisions_file=str(ROOT / "config" / "reviewed_decisions.csv")),
        "http": HttpResource(),
    })
    job = defs.resolve_job_def("nightly_snapshot")
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}

    def run(start: str, end: str | None = None) -> float:
        started = time.perf_counter()
        tags = {PARTITION_RANGE_START: start, PARTITION_RANGE_END: end} if end else None
        result = job.execute_in_process(partition_key=None if end else start, tags=tags, run_config=quiet,
                                        instance=dg.DagsterInstance.ephemeral(), raise_on_error=True)
        assert result.success
        return time.perf_counter() - started

    return run


def days(first: date, n: int) -> tuple[str, str]:
    return first.isoformat(), (first + timedelta(days=n - 1)).isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", type=int, default=7)
    parser.add_argument("--long", type=int, default=90)
    args = parser.parse_args()
    logging.getLogger("dagster").setLevel(logging.ERROR)
    results = {}
    for label, n in (("short", args.short), ("long", args.long)):
        with tempfile.TemporaryDirectory() as tmp:
            run = runner(Path(tmp))
            seconds = run(*days(date(2026, 1, 1), n))
            results[label] = (n, seconds)
            print(f"{n:>3}-day backfill in one run: {seconds:7.2f} s, {seconds / n:6.3f} s per partition")
    (ns, ts), (nl, tl) = results["short"], results["long"]
    print(f"per-partition cost, {nl}-day vs {ns}-day: {(tl / nl) / (ts / ns):.2f}x (target <= 1.2x)")

    with tempfile.TemporaryDirectory() as tmp:
        runner(Path(tmp))("2026-06-01")  # warm-up: imports, caches
    inputs = [("sample", ROOT / "config" / "sources.yaml")]
    if (ROOT.parent / "shared" / "realdata").is_dir():
        inputs.append(("real data", ROOT / "config" / "sources.realdata.yaml"))
    for label, sources in inputs:
        with tempfile.TemporaryDirectory() as tmp:
            run = runner(Path(tmp), sources)
            full = run("2026-06-01")
            unchanged = run("2026-06-02")
        print(f"nightly run on {label}, full: {full:.2f} s; nothing changed since the last run: {unchanged:.2f} s "
              f"= {unchanged / full:.0%} of a full run (target < 20%)")


if __name__ == "__main__":
    main()
