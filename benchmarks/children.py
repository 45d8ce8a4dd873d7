"""Running one measurement per size in a fresh process, so that sizes do not share caches or memory."""

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure_in_children(script: str, sizes: list[int]) -> Iterator[dict]:
    """Run ``script --child N`` for each size; yield the JSON each child prints last."""
    for n in sizes:
        out = subprocess.run([sys.executable, script, "--child", str(n)], check=True, capture_output=True, text=True,
                             cwd=ROOT)
        yield json.loads(out.stdout.strip().splitlines()[-1])


def run_child(measure: Callable[[int], dict], n: int) -> None:
    sys.path.insert(0, str(ROOT))
    print(json.dumps(measure(n)))


def print_growth(results: list[dict], key: str, unit: str, target: float = 15.0) -> None:
    """How much more time each larger size took than the previous one."""
    for small, large in zip(results, results[1:], strict=False):
        print(f"{small[key]:,} -> {large[key]:,}: {large[key] / small[key]:.0f}x {unit} cost "
              f"{large['seconds'] / small['seconds']:.1f}x time (target <= {target:.0f}x)")


def run_benchmark(script: str, doc: str, measure: Callable[[int], dict], default_sizes: str,
                  line: Callable[[dict], str], key: str, unit: str) -> None:
    """The command line every size-scaling benchmark shares: ``[--sizes a,b,c]``; one child a size."""
    import argparse

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=default_sizes)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(measure, args.child)
        return
    results = []
    for result in measure_in_children(script, [int(s) for s in args.sizes.split(",")]):
        results.append(result)
        print(line(result))
    print_growth(results, key, unit)
