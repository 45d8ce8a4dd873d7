"""A nightly run with nothing new against a full run, as the operator runs them: the ``partnership``
command in its own process, with the data dir's persistent run history. Beside them, the floor of
any run of this shape: a job of as many no-op steps as the nightly job, with the same imports and the
same kind of run history, in the same conditions.

    python benchmarks/nightly.py [--sources config/sources.realdata.yaml] [--rounds 2] [--publish]

``--publish`` sends each run's published copy to moto's S3 server (PARTNERSHIP_PUBLISH_URL) and
prints what each run uploaded.

Each round uses a fresh data dir: ``run --date D`` (full), then ``run --date D+1`` (the same files:
nothing new). The default sources are the real files' (../shared/realdata) where present, else the
sample's.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
REALDATA = ROOT.parent / "shared" / "realdata"
FULL_DATE, NEXT_DATE = "2026-11-20", "2026-11-21"


def timed(command: list[str], env: dict[str, str], said: list[str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1: the run finished but refused something (printed in the summary)
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    if said is not None:
        said += [line.split("published copy ", 1)[1] for line in (done.stdout + done.stderr).splitlines()
                 if "published copy " in line]
    return elapsed


def floor_job(steps: int, home: str, day: str) -> None:
    """In a process of its own: a job of ``steps`` partitioned no-op assets in a chain, run like the
    nightly job (same imports, a persistent SQLite run history, the same exit)."""
    import gc

    import dagster as dg
    import pandera.polars  # noqa: F401 - imported by every run of the project
    import polars  # noqa: F401

    from pipelines.instance import ensure_instance_settings
    from pipelines.partitions import daily_snapshot_partitions

    assets, previous = [], None
    for i in range(steps):
        @dg.asset(name=f"step_{i}", partitions_def=daily_snapshot_partitions, deps=[previous] if previous else [])
        def _step():
            return dg.MaterializeResult(metadata={"rows": 0})

        assets.append(_step)
        previous = _step
    job = dg.Definitions(assets=assets, jobs=[dg.define_asset_job("floor", selection=assets)]).resolve_job_def("floor")
    ensure_instance_settings(Path(home))  # the run history settings the command writes
    os.environ["DAGSTER_HOME"] = home
    result = job.execute_in_process(partition_key=day, instance=dg.DagsterInstance.get(),
                                    run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    assert result.success
    gc.freeze()  # as the command does at exit


def nightly_steps() -> int:
    from pipelines.definitions import build_definitions

    return len(build_definitions().resolve_job_def("nightly_snapshot").graph.nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = ROOT / "config" / ("sources.realdata.yaml" if REALDATA.is_dir() else "sources.yaml")
    parser.add_argument("--sources", type=Path, default=default)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--publish", action="store_true", help="copy each run to moto's S3 server")
    parser.add_argument("--floor", nargs=3, metavar=("STEPS", "HOME", "DAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        floor_job(int(args.floor[0]), args.floor[1], args.floor[2])
        return
    steps = nightly_steps()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PARTNERSHIP_", "DAGSTER_"))}
    cli = [sys.executable, "-m", "pipelines.cli", "run", "--date"]
    print(f"sources: {args.sources}; nightly job: {steps} steps")
    print(f"{'round':>5} {'full s':>8} {'nothing new s':>14} {'floor s':>8} {'new/full':>9} {'floor/full':>11}")
    for round_ in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="nightly-bench-") as folder, ExitStack() as stack:
            env = {**base, "PARTNERSHIP_SOURCES": str(args.sources), "PARTNERSHIP_DATA_DIR": f"{folder}/data"}
            said: list[str] | None = None
            if args.publish:
                from distributed import object_store

                env.update(stack.enter_context(object_store()))
                said = []
            full = timed([*cli, FULL_DATE], env, said)
            again = timed([*cli, NEXT_DATE], env, said)
            floor_env = {**base, "PYTHONPATH": str(ROOT)}
            home = f"{folder}/floor-home"
            os.makedirs(home)
            timed([sys.executable, __file__, "--floor", str(steps), home, FULL_DATE], floor_env)  # creates the history
            floor = timed([sys.executable, __file__, "--floor", str(steps), home, NEXT_DATE], floor_env)
        print(f"{round_:>5} {full:>8.1f} {again:>14.1f} {floor:>8.1f} {again / full:>9.0%} {floor / full:>11.0%}")
        for run, line in zip(("full", "nothing new"), said or [], strict=False):
            print(f"      published copy, {run}: {line}")


if __name__ == "__main__":
    main()
