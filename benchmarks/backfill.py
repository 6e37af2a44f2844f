"""Backfill benchmark: ``approval-bridge backfill`` over N days (default 90) in a running instance, twice.

Starts the sandbox with N days of cases, ``dagster dev`` on a fresh DAGSTER_HOME (the embedded default, or the
production configuration with ``--postgres URL``, which then holds both the instance and the warehouse), runs
the backfill, then the identical backfill again, and reports the time of each and whether the second changed any
row of what the days hold (load bookkeeping aside: fetch and link times, delivery progress).

    .venv/bin/python benchmarks/backfill.py                        # 90 days, SQLite
    .venv/bin/python benchmarks/backfill.py --postgres postgresql+psycopg2://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.instance import DevInstance, changed_tables, day_contents  # noqa: E402
from sandbox.runtime import Sandbox, SandboxSettings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--cases-per-day", type=int, default=6)
    parser.add_argument("--postgres", help="an empty PostgreSQL database for the instance and the warehouse")
    args = parser.parse_args()
    first = dt.date(2026, 6, 1)
    last = first + dt.timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ports = {"market_regulation": 0, "approval_platform": 0, "municipal": 0, "supervision": 0}
        settings = SandboxSettings(root=root / "sandbox", start=first, days=args.days,
                                   cases_per_day=args.cases_per_day, ports=ports, fault_level="none")  # fmt: skip
        home = root / "dagster_home"
        home.mkdir()
        production = args.postgres is not None
        source = ROOT / "dagster_home" / ("production/dagster.yaml" if production else "dagster.yaml")
        shutil.copy(source, home / "dagster.yaml")
        warehouse = args.postgres or f"sqlite:///{root / 'warehouse.sqlite'}"
        with Sandbox(settings) as sandbox:
            env = {**os.environ, **sandbox.environment(), "BRIDGE_WAREHOUSE_URL": warehouse}
            if production:
                env["DAGSTER_POSTGRES_URL"] = args.postgres
            instance = DevInstance(home, env)
            try:
                timings, seen = [], set()
                for attempt in ("first", "again"):
                    started = time.perf_counter()
                    output = instance.backfill(env, str(first), str(last))
                    timings.append(time.perf_counter() - started)
                    runs = [r for r in instance.runs() if r["runId"] not in seen]
                    seen |= {r["runId"] for r in runs}
                    print(f"{attempt}: {output.strip().splitlines()[-1]} in {timings[-1]:.0f}s; {_runs(runs)}")
                    if attempt == "first":
                        before = day_contents(warehouse)
                changed = changed_tables(before, day_contents(warehouse))
            finally:
                instance.stop()
    rows = {t: len(f) for t, f in before.items()}
    print(f"\n{args.days} days on {'PostgreSQL' if production else 'SQLite'}: first {timings[0]:.0f}s, "
          f"again {timings[1]:.0f}s ({args.days / timings[0] * 60:.1f} days a minute)")  # fmt: skip
    print("rows: " + ", ".join(f"{t} {n}" for t, n in rows.items()))
    print("tables changed by the second backfill: " + (", ".join(changed) or "none"))


def _runs(runs: list[dict]) -> str:
    """How many runs, how long each took, and how much of the wall time some run was executing."""
    spans = sorted((r["startTime"], r["endTime"]) for r in runs if r["startTime"] and r["endTime"])
    if not spans:
        return f"{len(runs)} runs"
    seconds = sorted(end - start for start, end in spans)
    busy, reach = 0.0, spans[0][0]
    for start, end in spans:  # the union of the runs' intervals
        busy += max(0.0, end - max(start, reach))
        reach = max(reach, end)
    return (
        f"{len(runs)} runs, each {seconds[0]:.0f}–{seconds[-1]:.0f}s (median {seconds[len(seconds) // 2]:.0f}s), "
        f"some run executing {busy:.0f}s of {spans[-1][1] - spans[0][0]:.0f}s"
    )


if __name__ == "__main__":
    main()
