"""A year of the district through every asset, week by week: does a week cost the same in December as in January?

The same path as ``python -m sandbox demo``: the stand-ins (sandbox generator, department systems, receivers)
serve in a process of their own (``python -m sandbox serve``, no faults, so no rate limit of theirs slows the
bridge), and the bridge's ``daily_cases`` job runs in this process one week of days at a time, as a backfill does,
on a fresh instance: the embedded default (SQLite files), or with ``--postgres`` the warehouse and Dagster's storage
on a PostgreSQL database of the benchmark's own (created with ``random_page_cost`` 1.1, as docs/operations.md asks
of a database on solid-state storage, and dropped at the end). After each week the marts are
refreshed (``refresh_marts``), timed apart.

Per week it prints the case records pulled, wall and CPU seconds of the load (this process: every step runs in
it), the cost per record in milliseconds, the resolution's and the one network delivery's seconds, the marts'
refresh time, the warehouse's size, and the seconds this process spent collecting garbage with the objects it
holds at the week's end; at the end the peak memory of this process and of the stand-ins, and the
ratio of the last week's cost per record to the second week's. Everything also goes to a JSON file.

    .venv/bin/python benchmarks/year.py                                  # 52 weeks, 260 hall cases a day, SQLite
    .venv/bin/python benchmarks/year.py --weeks 8 --cases-per-day 910    # 3.5x the seed's volume, 8 weeks
    .venv/bin/python benchmarks/year.py --postgres                       # on PostgreSQL (127.0.0.1:5432)
    .venv/bin/python benchmarks/year.py --weeks 16 --fresh-process       # every week in a process of its own

``--fresh-process`` runs each week's load and refresh in a new process, as the daemon launches each run in a
process of its own, instead of all in this one: the load's wall and CPU seconds are still the run's own (the
process's start and imports apart, in the JSON as ``process_start_s``), so the two ways compare week by week.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
POSTGRES_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
RANDOM_PAGE_COST = 1.1  # PostgreSQL's documentation's figure for solid-state storage (the default, 4, is for disks)
COLUMNS = (
    f"{'week':>4} {'days':<23} {'records':>7} {'wall s':>7} {'cpu s':>7} {'ms/rec':>7} {'resolve':>7} "
    f"{'1net':>6} {'marts s':>7} {'warehouse':>9} {'gc s':>6} {'objects':>9}"
)


def _admin_database(admin_url: str, name: str, create: bool) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if create:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
                # as docs/operations.md asks of the bridge's database on solid-state storage (deploying, step 2)
                conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET random_page_cost = {RANDOM_PAGE_COST}')
            else:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()


def _serve(root: Path, days: int, cases_per_day: int, env: dict[str, str]) -> tuple[subprocess.Popen, dict]:
    """The stand-ins in a process of their own; their endpoints once they serve."""
    endpoints = root / "sandbox" / "endpoints.json"
    command = [sys.executable, "-m", "sandbox", "serve", "--days", str(days), "--cases-per-day", str(cases_per_day)]
    command += ["--faults", "none", "--free-ports", "--fresh"]
    log = open(root / "sandbox.log", "w")  # noqa: SIM115 (open for the child's whole life)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 1800  # a year at 3.5x takes minutes to generate
    while True:
        try:
            return process, json.loads(endpoints.read_text())
        except (OSError, ValueError):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the stand-ins did not come up (see {root / 'sandbox.log'})") from None
            time.sleep(0.5)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc), its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _size_mb(url: str) -> float:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database)
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
    engine = sa.create_engine(parsed)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar() / 2**20
    finally:
        engine.dispose()


def _step_seconds(instance, run_id: str) -> dict[str, float]:
    return {
        s.step_key: round(s.end_time - s.start_time, 1)
        for s in instance.get_run_step_stats(run_id)
        if s.start_time and s.end_time
    }


class Collections:
    """The interpreter's garbage collections in this process: seconds spent in them and how many were full ones
    (generation 2, which walk every object the process holds): a process that keeps more objects alive week after
    week pays for them here."""

    def __init__(self) -> None:
        self.seconds, self.full, self._started = 0.0, 0, None
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self.full += info["generation"] == 2
            self._started = None


COLLECTIONS = Collections()


def run_week(load, marts, instance, week: list[str]) -> dict:
    """One week's load (a backfill of its days in one run) and the marts' refresh after it, in this process."""
    from pipelines.partitions import partition_range_tags

    gc_seconds, gc_full = COLLECTIONS.seconds, COLLECTIONS.full
    wall, cpu = time.perf_counter(), time.process_time()
    result = load.execute_in_process(
        instance=instance, raise_on_error=False, run_config=QUIET, tags=partition_range_tags(week)
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    refresh = time.perf_counter()
    refreshed = marts.execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET)
    refresh = time.perf_counter() - refresh
    return {
        "load_run": result.run_id,
        "load_ok": result.success,
        "load_wall_s": wall,
        "load_cpu_s": cpu,
        "refresh_run": refreshed.run_id,
        "refresh_ok": refreshed.success,
        "refresh_s": refresh,
        "gc_s": round(COLLECTIONS.seconds - gc_seconds, 2),  # load and refresh
        "gc_full": COLLECTIONS.full - gc_full,
        "objects": len(gc.get_objects()),  # tracked by the collector at the week's end
    }


def _week_in_a_process(week: list[str]) -> dict:
    """:func:`run_week` in a new process (this script with ``--one-week``), on the same instance and warehouse."""
    started = time.perf_counter()
    command = [sys.executable, str(Path(__file__).resolve()), "--one-week", *week]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the week's process failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    ran = json.loads(done.stdout.strip().splitlines()[-1])
    ran["start_s"] = round(time.perf_counter() - started - ran["load_wall_s"] - ran["refresh_s"], 1)
    return ran


def _one_week(week: list[str]) -> None:
    """The child of ``--fresh-process``: the week's days, its figures as one JSON line on standard output."""
    from dagster import DagsterInstance

    from pipelines.definitions import build_definitions

    defs = build_definitions()
    load, marts = defs.resolve_job_def("daily_cases"), defs.resolve_job_def("refresh_marts")
    print(json.dumps(run_week(load, marts, DagsterInstance.get(), week)), flush=True)


def main() -> None:
    if sys.argv[1:2] == ["--one-week"]:
        _one_week(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weeks", type=int, default=52, help="weeks of days to run (default 52: a year)")
    parser.add_argument("--cases-per-day", type=int, default=260, help="hall cases a day (the seed's: 260)")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=POSTGRES_ADMIN,
        metavar="ADMIN_URL",
        help="warehouse and Dagster storage on a new database of this server (default %(const)s)",
    )
    parser.add_argument("--json", type=Path, help="where to write the figures (default year-<volume>-<db>.json)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the working folder and the PostgreSQL database (both printed)"
    )
    parser.add_argument(
        "--fresh-process", action="store_true", help="run each week in a new process, as the daemon launches runs"
    )
    parser.add_argument(
        "--first-weeks",
        type=int,
        metavar="K",
        help="run only the first K weeks of the window (the same days as a longer run's first weeks)",
    )
    args = parser.parse_args()
    days = args.weeks * 7
    backend = "postgresql" if args.postgres else "sqlite"
    output = args.json or Path(f"year-{args.cases_per_day}-{backend}.json")
    root = Path(tempfile.mkdtemp(prefix="year-"))
    home = root / "dagster_home"
    home.mkdir()
    database = f"bench_year_{uuid.uuid4().hex[:8]}"
    if args.postgres:
        _admin_database(args.postgres, database, create=True)
        url = str(sa.make_url(args.postgres).set(database=database).render_as_string(hide_password=False))
        shutil.copy(ROOT / "dagster_home" / "production" / "dagster.yaml", home / "dagster.yaml")
        os.environ["DAGSTER_POSTGRES_URL"] = url
    else:
        url = f"sqlite:///{home / 'warehouse.sqlite'}"
        shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    os.environ.update(
        {"DAGSTER_HOME": str(home), "BRIDGE_SANDBOX_DIR": str(root / "sandbox"), "BRIDGE_WAREHOUSE_URL": url}
    )
    from sandbox.demo import DemoOptions, demo_window
    from sandbox.runtime import environment_for

    keys = demo_window(DemoOptions(days=days))  # the days the stand-ins serve: ending yesterday
    os.environ["BRIDGE_PARTITIONS_START"] = keys[0]
    print(f"{args.weeks} weeks ({keys[0]} … {keys[-1]}), {args.cases_per_day} hall cases a day, {backend}; in {root}")
    started = time.perf_counter()
    # the stand-ins bring their own databases and refuse to start beside the bridge's own warehouse URL
    own = {"BRIDGE_WAREHOUSE_URL", "DAGSTER_POSTGRES_URL"}
    try:
        env = {k: v for k, v in os.environ.items() if k not in own}
        sandbox, endpoints = _serve(root, days, args.cases_per_day, env)
    except BaseException:
        if args.postgres:
            _admin_database(args.postgres, database, create=False)
        raise
    print(f"stand-ins up in {time.perf_counter() - started:.0f}s (pid {sandbox.pid})", flush=True)
    os.environ.update(environment_for(endpoints))
    # the receivers' own limits are lifted (no faults), so are the bridge's client-side ones: the bridge's cost is
    # what is measured, not a pace a receiver asked for
    os.environ.update(
        {
            "MUNICIPAL_REQUESTS_PER_SECOND": "0",
            "SUPERVISION_REQUESTS_PER_SECOND": "0",
            "ONE_NETWORK_ROWS_PER_SECOND": "0",
        }
    )
    weeks: list[dict] = []
    try:
        from dagster import DagsterInstance

        from pipelines.definitions import build_definitions

        defs = build_definitions()
        instance = DagsterInstance.get()
        load, marts = defs.resolve_job_def("daily_cases"), defs.resolve_job_def("refresh_marts")
        records = sa.create_engine(url)
        print(COLUMNS, flush=True)
        weeks_run = [keys[i : i + 7] for i in range(0, len(keys), 7)][: args.first_weeks]
        for number, week in enumerate(weeks_run, start=1):
            ran = _week_in_a_process(week) if args.fresh_process else run_week(load, marts, instance, week)
            wall, cpu, refresh = ran["load_wall_s"], ran["load_cpu_s"], ran["refresh_s"]
            if not ran["load_ok"]:
                raise SystemExit(f"week {number} ({week[0]} … {week[-1]}) failed: run {ran['load_run']}")
            if not ran["refresh_ok"]:
                raise SystemExit(f"the marts' refresh after week {number} failed: run {ran['refresh_run']}")
            steps = _step_seconds(instance, ran["load_run"])
            with records.connect() as conn:
                pulled = conn.execute(
                    sa.text("SELECT COUNT(*) FROM raw_records WHERE partition_date BETWEEN :a AND :b"),
                    {"a": week[0], "b": week[-1]},
                ).scalar()
            figures = {
                "week": number,
                "first": week[0],
                "last": week[-1],
                "records": int(pulled),
                "wall_s": round(wall, 1),
                "cpu_s": round(cpu, 1),
                "ms_per_record": round(wall * 1000 / max(pulled, 1), 2),
                "resolution_s": steps.get("case_resolution"),
                "one_network_s": steps.get("one_network_delivery"),
                "marts_refresh_s": round(refresh, 1),
                "warehouse_mb": round(_size_mb(url), 1),
                "steps_s": steps,
                "marts_steps_s": _step_seconds(instance, ran["refresh_run"]),
                "process_start_s": ran.get("start_s"),
                "gc_s": ran["gc_s"],
                "gc_full": ran["gc_full"],
                "objects": ran["objects"],
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
            weeks.append(figures)
            output.write_text(json.dumps({"command": " ".join(sys.argv), "weeks": weeks}, indent=2))  # so far
            print(
                f"{number:>4} {week[0] + ' … ' + week[-1][5:]:<23} {pulled:>7} {wall:>7.1f} {cpu:>7.1f} "
                f"{figures['ms_per_record']:>7.2f} {figures['resolution_s'] or 0:>7.1f} "
                f"{figures['one_network_s'] or 0:>6.1f} {refresh:>7.1f} {figures['warehouse_mb']:>7.1f}MB "
                f"{figures['gc_s']:>6.1f} {figures['objects']:>9}",
                flush=True,
            )
        records.dispose()
        stand_ins = {"cpu_s": round(_cpu_seconds(sandbox.pid), 1), "peak_rss_mb": round(_peak_rss_mb(sandbox.pid), 1)}
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=60)
        if args.postgres:
            from dagster import DagsterInstance

            DagsterInstance.get().dispose()
            if args.keep:
                print(f"kept the database {database}")
            else:
                _admin_database(args.postgres, database, create=False)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = weeks[-1]["ms_per_record"] / weeks[1]["ms_per_record"] if len(weeks) > 1 else None
    summary = {
        "date": dt.date.today().isoformat(),
        "command": " ".join(sys.argv),
        "backend": backend,
        "cases_per_day": args.cases_per_day,
        "weeks": weeks,
        "records": sum(w["records"] for w in weeks),
        "load_wall_s": round(sum(w["wall_s"] for w in weeks), 1),
        "load_cpu_s": round(sum(w["cpu_s"] for w in weeks), 1),
        "marts_refresh_s": round(sum(w["marts_refresh_s"] for w in weeks), 1),
        "total_wall_s": round(total, 1),
        "peak_rss_mb": round(peak, 1),
        "stand_ins": stand_ins,
        "last_to_second_week": round(ratio, 3) if ratio else None,
    }
    output.write_text(json.dumps(summary, indent=2))
    print(
        f"\n{len(weeks)} weeks, {summary['records']} records: load {summary['load_wall_s']:.0f}s wall, "
        f"{summary['load_cpu_s']:.0f}s CPU; marts {summary['marts_refresh_s']:.0f}s; all {total:.0f}s "
        f"(stand-ins up included)"
    )
    print(f"peak memory {peak:.0f} MB (the stand-ins' process {stand_ins['peak_rss_mb']:.0f} MB, "
          f"{stand_ins['cpu_s']:.0f}s CPU)")  # fmt: skip
    if ratio:
        print(f"cost per record, last week / second week: {ratio:.2f}")
    print(f"figures written to {output}")


if __name__ == "__main__":
    main()
