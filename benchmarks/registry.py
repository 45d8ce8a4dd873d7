"""A registry-shaped IATI run: many files, most small, a few very large, against raw iterparse over
the same files in the same run.

    python benchmarks/registry.py [--files 1000] [--total-mb 200] [--seed 7]

The IATI registry is ~10,000 files and 10-15 GB of XML with a heavy-tailed size distribution. This
generates ``--files`` files (seeded: the same sizes every run) whose sizes follow a Pareto law
scaled to ``--total-mb``, built from the sample's activities with new identifiers, then measures in
fresh subprocesses:

* floor:    ``lxml.etree.iterparse`` over every file, clearing each activity (the parser's floor);
* pipeline: the four curated IATI tables built and written as a run does (reader, typing,
            codelists, USD conversion, Pandera, Parquet parts), without Dagster.

Prints MB/s, files/s, peak RSS, the ratio to the floor, the fixed cost per file (from a second,
small-files-only run) and an extrapolation to a 12 GB, 10,000-file registry on this machine.
"""

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.iati_parse import TreeRss, build_tables, sample_activities, write_activities  # noqa: E402
from benchmarks.iati_parse import measure as run_child  # noqa: E402

REGISTRY_GB, REGISTRY_FILES = 12, 10_000


def sizes(files: int, total_mb: float, seed: int) -> list[int]:
    """Heavy-tailed file sizes in bytes (Pareto, alpha 1.16: 80 % of the bytes in 20 % of the files)."""
    rng = random.Random(seed)
    raw = [rng.paretovariate(1.16) for _ in range(files)]
    scale = total_mb * 1024 * 1024 / sum(raw)
    return [max(2048, int(r * scale)) for r in raw]


def generate(folder: Path, byte_sizes: list[int]) -> int:
    """One file per size, ``publisher-<n>.xml``; returns the number of activities written."""
    templates, count = sample_activities(), 0
    for index, target in enumerate(byte_sizes):
        count = write_activities(folder / f"publisher-{index:05d}.xml", target, templates, count)
    return count


def _measure(mode: str, folder: str) -> dict:
    import resource

    files = sorted(Path(folder).glob("*.xml"))
    started = time.perf_counter()
    if mode == "floor":
        from lxml import etree

        for path in files:
            for _, element in etree.iterparse(str(path), tag="iati-activity"):
                element.clear()
                while element.getprevious() is not None:
                    del element.getparent()[0]
    else:
        with TreeRss() as tree:
            seconds, _ = build_tables(files)
        return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "peak_tree_rss_mb": tree.peak_mb}
    return {"seconds": time.perf_counter() - started,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(mode: str, folder: Path) -> dict:
    return run_child(mode, folder, __file__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--total-mb", type=float, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(*args.child)))
        return
    byte_sizes = sizes(args.files, args.total_mb, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "registry"
        folder.mkdir()
        activities = generate(folder, byte_sizes)
        mb = sum(p.stat().st_size for p in folder.glob("*.xml")) / 1024 / 1024
        ordered = sorted(byte_sizes)
        print(f"registry sample: {args.files} files, {mb:.0f} MB, {activities} activities; median file "
              f"{ordered[len(ordered) // 2] / 1024:.0f} KB, largest {ordered[-1] / 1024 / 1024:.1f} MB (seed {args.seed})")
        floor, pipeline = measure("floor", folder), measure("pipeline", folder)
        # the fixed cost per file: the same number of tiny files
        tiny = Path(tmp) / "tiny"
        tiny.mkdir()
        generate(tiny, [2048] * min(args.files, 300))
        tiny_pipeline, tiny_floor = measure("pipeline", tiny), measure("floor", tiny)
        per_file = (tiny_pipeline["seconds"] - tiny_floor["seconds"]) / min(args.files, 300)
    for name, result in (("floor", floor), ("pipeline", pipeline)):
        print(f"  {name:9s} {mb / result['seconds']:7.1f} MB/s  {args.files / result['seconds']:7.1f} files/s  "
              f"{result['seconds']:7.1f} s  peak RSS {result['peak_rss_mb']:5.0f} MB"
              + (f" (with its worker processes, summed: {result['peak_tree_rss_mb']:.0f} MB)"
                 if "peak_tree_rss_mb" in result else ""))
    ratio = floor["seconds"] / pipeline["seconds"]
    print(f"  pipeline/floor throughput: {ratio:.2f} (target >= 0.5); fixed cost per file: {per_file * 1000:.0f} ms")
    byte_seconds = max(pipeline["seconds"] - args.files * per_file, 1e-9)  # the part that grows with the bytes
    seconds = REGISTRY_GB * 1024 / (mb / byte_seconds) + REGISTRY_FILES * per_file
    print(f"  extrapolated to a {REGISTRY_GB} GB, {REGISTRY_FILES:,}-file registry on this machine: "
          f"{seconds / 60:.0f} min (target < 10 min)")


if __name__ == "__main__":
    main()
