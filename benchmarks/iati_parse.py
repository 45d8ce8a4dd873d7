"""IATI parsing throughput and memory, against raw lxml iterparse measured in the same run.

    python benchmarks/iati_parse.py [--size-mb 200] [--sizes 50,200]

Generates IATI files of the given sizes by repeating the sample's activities with new identifiers,
then measures, each in a fresh subprocess so that peak RSS belongs to one measurement:

* baseline: ``lxml.etree.iterparse`` over the file doing nothing (the tree grows with the file);
* streaming baseline: ``iterparse`` that only clears each finished activity, the least any
            bounded-memory reader must do (reported for honesty; the target is against the baseline);
* reader:   the project's streaming reader alone (flattened column lists);
* pipeline: reader + typing, codelists, USD conversion, Pandera validation and Parquet part files,
            i.e. the four curated tables as published.

Prints MB/s, the ratio to the baseline, and peak RSS. Targets: pipeline >= 40% of the baseline's
throughput, peak RSS < 400 MB whatever the file size.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample" / "iati"
_ACTIVITY = re.compile(rb"<iati-activity[ >].*?</iati-activity>", re.S)
_IDENTIFIER = re.compile(rb"<iati-identifier>([^<]+)</iati-identifier>")


def sample_activities() -> list[bytes]:
    """The sample's activities, as templates."""
    templates = []
    for sample in sorted(SAMPLE.glob("*-activities-2.03.xml")):
        templates += _ACTIVITY.findall(sample.read_bytes())
    return templates


def write_activities(path: Path, target_bytes: int, templates: list[bytes], first: int) -> int:
    """Write an IATI 2.03 file of about ``target_bytes`` from ``templates``, each activity with a new
    identifier numbered from ``first``; returns the next number."""
    written, count = 0, first
    with open(path, "wb") as out:
        out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<iati-activities version="2.03">\n')
        while written < target_bytes:
            template = templates[count % len(templates)]
            block = _IDENTIFIER.sub(rb"<iati-identifier>\1-R%d</iati-identifier>" % count, template, count=1)
            out.write(block + b"\n")
            written += len(block) + 1
            count += 1
        out.write(b"</iati-activities>\n")
    return count


def generate(path: Path, size_mb: int) -> int:
    """Write an IATI 2.03 file of about ``size_mb`` MB; returns the number of activities."""
    return write_activities(path, size_mb * 1024 * 1024, sample_activities(), 0)


class TreeRss:
    """Peak resident memory of this process and all its descendants (the worker processes), summed,
    sampled every ``interval`` seconds from /proc while in use (0 where /proc is missing)."""

    def __init__(self, interval: float = 0.05):
        import threading

        self.interval, self.peak_mb = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "TreeRss":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def sample_mb() -> float:
        import os

        page = os.sysconf("SC_PAGE_SIZE")
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                    parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
                except (OSError, ValueError):
                    continue
        tree, grew = {os.getpid()}, True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= more
            grew = bool(more)
        total = 0
        for pid in tree:
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
            except (OSError, ValueError, IndexError):
                continue
        return total / 1024 / 1024

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.sample_mb())
            self._stop.wait(self.interval)


def build_tables(paths: list[Path]):
    """(seconds, build): the four curated IATI tables built from ``paths`` and written as a run does
    (reader, typing, codelists, USD conversion, Pandera, Parquet parts), without Dagster. Loading
    the exchange rates is a one-off, not timed."""
    from datetime import date

    from assets.financing.fx import load_rates
    from assets.financing.iati import build_iati_tables
    from assets.financing.iati_transform import TABLES
    from pipelines.storage.publish import PartitionWriter

    rates = load_rates([])
    rates.ecb  # noqa: B018 - the packaged history is parsed on first use: here, before the clock starts
    with tempfile.TemporaryDirectory() as out:
        partition = {"snapshot_date": "2026-01-01"}
        writers = {t: PartitionWriter(Path(out) / t, partition, Path(out) / ".staging") for t in TABLES}
        rejects = PartitionWriter(Path(out) / "rejects", partition, Path(out) / ".staging")
        started = time.perf_counter()
        build = build_iati_tables([(p, p.name) for p in paths], date(2026, 1, 1), rates, writers, rejects)
        for writer in [*writers.values(), rejects]:
            writer.commit()
        return time.perf_counter() - started, build


def _measure(mode: str, path: str) -> dict:
    import resource

    started = time.perf_counter()
    rows = 0
    if mode == "baseline":
        from lxml import etree

        for _ in etree.iterparse(path):
            rows += 1
    elif mode == "streaming":
        from lxml import etree

        for _, element in etree.iterparse(path, tag="iati-activity"):
            rows += 1
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
    elif mode == "reader":
        from assets.financing.iati_reader import iter_iati_batches

        for batch in iter_iati_batches(path):
            rows += len(batch.transactions["iati_identifier"])
    else:
        with TreeRss() as tree:
            seconds, build = build_tables([Path(path)])
        return {"seconds": seconds, "rows": build.rows["iati_transactions"],
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "peak_tree_rss_mb": tree.peak_mb}
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(mode: str, path: Path, script: str = __file__) -> dict:
    """``script --child mode path`` in a fresh process (so peak RSS is one measurement's): its JSON."""
    out = subprocess.run([sys.executable, script, "--child", mode, str(path)], check=True, capture_output=True,
                         text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,200", help="file sizes in MB, comma-separated")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_measure(*args.child)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in args.sizes.split(",")]:
            path = Path(tmp) / f"iati-{size}mb.xml"
            activities = generate(path, size)
            mb = path.stat().st_size / 1024 / 1024
            print(f"\nfile: {mb:.0f} MB, {activities} activities")
            results = {mode: measure(mode, path) for mode in ("baseline", "streaming", "reader", "pipeline")}
            base = mb / results["baseline"]["seconds"]
            for mode, r in results.items():
                speed = mb / r["seconds"]
                print(f"  {mode:10s} {speed:7.1f} MB/s  {r['seconds']:6.1f} s  ratio {speed / base:5.2f}  "
                      f"peak RSS {r['peak_rss_mb']:6.0f} MB")
            ratio = (mb / results["pipeline"]["seconds"]) / base
            strict = results["streaming"]["seconds"] / results["pipeline"]["seconds"]
            print(f"  pipeline/baseline throughput: {ratio:.0%} (target >= 40%); against the streaming baseline: {strict:.0%}")
            print(f"  pipeline peak RSS {results['pipeline']['peak_rss_mb']:.0f} MB (target < 400 MB); with its worker "
                  f"processes, summed: {results['pipeline']['peak_tree_rss_mb']:.0f} MB")
            path.unlink()


if __name__ == "__main__":
    main()
