"""What refreshing the month-scoped marts costs after a day's load, against rebuilding them from all history.

A warehouse with ``--months`` months of golden cases (default 24) at ``--cases-per-day`` (default 260, the seed's
hall volume) is made directly in the golden-case table (the marts read nothing else), the marts are built whole
once, and then a day's load is played: the day's new cases in the last month, status updates to cases of that
month and ``--corrections`` late corrections that move a case of an earlier month to another (each touches two
months). Printed: the touched refresh (``mart_daily_volume`` and ``mart_channel_monthly``, as the mart assets run
it: reporting/refresh.py) and a full rebuild of the same marts, each CPU seconds and wall seconds, the months each
rebuilt, and the process's peak RSS. Then the same for ``mart_case_deadlines``, kept per case (the cases of all but
the last month completed, those of the last month still running: a refresh computes them again every day).

    .venv/bin/python benchmarks/marts.py
    .venv/bin/python benchmarks/marts.py --months 36 --cases-per-day 900
    .venv/bin/python benchmarks/marts.py --url postgresql+psycopg2://postgres@127.0.0.1:5432/bench_marts

Figures on the 2-core machine: docs/operations.md ("The marts after a load").
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.warehouse import Warehouse, create_tables, insert_frame  # noqa: E402
from pipelines.marts.assets import refresh_channel, refresh_daily_volume  # noqa: E402
from reporting.deadlines import refresh_case_deadlines  # noqa: E402
from schemas.warehouse import (  # noqa: E402
    golden_cases,
    mart_case_deadlines,
    mart_channel_monthly,
    mart_daily_volume,
    refresh_marks,
)
from schemas.workdays import calendar  # noqa: E402

ITEMS = [("000102001000", "企业设立登记"), ("000102003000", "企业变更登记"), ("000105001000", "食品经营许可"),
         ("000201001000", "建筑工程施工许可"), ("000301001000", "医疗机构执业登记")]  # fmt: skip
DEPTS = ["market_regulation", "housing", "health", "approval_platform"]
CHANNELS = ["1", "2", "3", None]


def cases(ids: np.ndarray, submitted: pd.Series, rng: random.Random, status: str = "受理") -> pd.DataFrame:
    """Golden cases as case_resolution writes them, with the columns the month-scoped marts read."""
    n = len(ids)
    item = [ITEMS[rng.randrange(len(ITEMS))] for _ in range(n)]
    frame = pd.DataFrame(
        {
            "golden_case_id": ids,
            "source_system": [rng.choice(DEPTS) for _ in range(n)],
            "source_record_id": ids,
            "item_code": [i[0] for i in item],
            "item_name": [i[1] for i in item],
            "submitted_at": submitted.to_numpy(),
            "accepted_at": (submitted + pd.Timedelta(hours=1)).to_numpy(),
            "status": status,
            "handling_dept": [rng.choice(DEPTS) for _ in range(n)],
            "submission_channel": [rng.choice(CHANNELS) for _ in range(n)],
            "delivery_method": [rng.choice(["1", "2", None]) for _ in range(n)],
            "accepting_place": None,
            "approval_mode": [rng.choice(["审批", "备案", "告知承诺", "容缺受理"]) for _ in range(n)],
            "record_count": [rng.choice([1, 1, 1, 2, 3]) for _ in range(n)],
            "version": 1,
            "first_partition": submitted.dt.date.to_numpy(),
            "updated_partition": submitted.dt.date.to_numpy(),
            "updated_at": submitted.to_numpy(),
        }
    )
    frame["content_hash"] = [
        hashlib.sha256(f"{i}|{s}|{status}|{c}".encode()).hexdigest()
        for i, s, c in zip(frame["golden_case_id"], frame["submitted_at"], frame["submission_channel"], strict=True)
    ]
    return frame


def history(warehouse: Warehouse, first: dt.date, months: int, per_day: int, rng: random.Random) -> int:
    days = pd.date_range(first, periods=months * 30, freq="D")
    total = 0
    with warehouse.begin() as conn:
        for start in range(0, len(days), 30):  # a month at a time, to keep memory flat
            chunk = days[start : start + 30]
            stamps = (
                pd.Series(np.repeat(chunk.to_numpy(), per_day))
                + pd.to_timedelta(np.tile(np.arange(per_day) * 97 % (9 * 3600), len(chunk)), unit="s")
                + pd.Timedelta(hours=8)
            )
            ids = np.array([f"GC{total + k:09d}" for k in range(len(stamps))])
            insert_frame(conn, golden_cases, cases(ids, stamps, rng))
            total += len(stamps)
    return total


def one_days_load(warehouse: Warehouse, last_day: dt.date, per_day: int, corrections: int, rng: random.Random) -> None:
    """A day's load as case_resolution writes it: the touched golden cases deleted and written anew."""
    t = golden_cases.c
    month_start = last_day.replace(day=1)
    with warehouse.begin() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(golden_cases)).scalar_one()
        stamps = pd.Series(pd.Timestamp(last_day) + pd.to_timedelta(np.arange(per_day) * 97 % 32000 + 28800, unit="s"))
        new = cases(np.array([f"GN{total + k:09d}" for k in range(per_day)]), stamps, rng)
        updated_ids = pd.read_sql(
            sa.select(t.golden_case_id, t.submitted_at)
            .where(t.submitted_at >= dt.datetime.combine(month_start, dt.time()))
            .limit(per_day // 3),
            conn,
        )
        updated = cases(
            updated_ids["golden_case_id"].to_numpy(), pd.to_datetime(updated_ids["submitted_at"]), rng, "办结"
        )
        moved_ids = pd.read_sql(
            sa.select(t.golden_case_id, t.submitted_at)
            .where(t.submitted_at < dt.datetime.combine(month_start, dt.time()))
            .order_by(t.golden_case_id)
            .limit(corrections * 50),
            conn,
        ).sample(n=corrections, random_state=rng.randrange(1000))
        moved = cases(
            moved_ids["golden_case_id"].to_numpy(),
            pd.to_datetime(moved_ids["submitted_at"]) - pd.Timedelta(days=31),  # the department's own date
            rng,
        )
        touched = pd.concat([updated, moved], ignore_index=True)
        for start in range(0, len(touched), 500):
            part = touched["golden_case_id"].iloc[start : start + 500].tolist()
            conn.execute(golden_cases.delete().where(t.golden_case_id.in_(part)))
        insert_frame(conn, golden_cases, pd.concat([new, touched], ignore_index=True))


def timed(warehouse: Warehouse, full: bool) -> tuple[float, float, dict]:
    cpu, wall = time.process_time(), time.perf_counter()
    with warehouse.begin() as conn:
        done = {
            "mart_daily_volume": refresh_daily_volume(conn, full),
            "mart_channel_monthly": refresh_channel(conn, full),
        }
    return time.process_time() - cpu, time.perf_counter() - wall, done


def timed_deadlines(warehouse: Warehouse, today: dt.date, full: bool) -> tuple[float, float, str]:
    cpu, wall = time.process_time(), time.perf_counter()
    with warehouse.begin() as conn:
        done = refresh_case_deadlines(conn, calendar(), today, full=full)[0]
    return time.process_time() - cpu, time.perf_counter() - wall, done.describe()


def contents(warehouse: Warehouse) -> list:
    return [
        warehouse.read(sa.select(t)).sort_values([c.name for c in t.primary_key.columns]).astype(str).values.tolist()
        for t in (mart_daily_volume, mart_channel_monthly)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--cases-per-day", type=int, default=260)
    parser.add_argument("--corrections", type=int, default=5, help="late corrections moving a case to another month")
    parser.add_argument("--url", help="the warehouse (default: a new SQLite file in a temporary folder)")
    args = parser.parse_args()
    rng = random.Random(11)
    folder = tempfile.TemporaryDirectory(prefix="bench-marts-")
    warehouse = Warehouse(url=args.url or f"sqlite:///{Path(folder.name) / 'warehouse.sqlite'}")
    create_tables(warehouse.engine)
    with warehouse.begin() as conn:
        for table in (golden_cases, refresh_marks, mart_daily_volume, mart_channel_monthly, mart_case_deadlines):
            conn.execute(table.delete())
    first = dt.date(2024, 12, 1)
    made = history(warehouse, first, args.months, args.cases_per_day, rng)
    last_day = first + dt.timedelta(days=args.months * 30 - 1)
    t = golden_cases.c
    with warehouse.begin() as conn:  # all but the last month's cases completed, the day after acceptance
        last_month = dt.datetime.combine(last_day - dt.timedelta(days=29), dt.time())
        done = t.submitted_at < last_month
        conn.execute(golden_cases.update().where(done).values(status="办结", completed_at=t.accepted_at))
    backend = warehouse.engine.url.get_backend_name()
    print(f"history: {made:,} golden cases over {args.months} months ({args.cases_per_day}/day), {backend}")
    cpu, wall, _ = timed(warehouse, full=True)
    print(f"first refresh (no marks yet: whole)         cpu {cpu:6.2f} s  wall {wall:6.2f} s")

    one_days_load(warehouse, last_day, args.cases_per_day, args.corrections, rng)
    cpu, wall, done = timed(warehouse, full=False)
    months = sorted({m for d in done.values() for m in d.months})
    print(
        f"after a day's load, touched months only    cpu {cpu:6.2f} s  wall {wall:6.2f} s  "
        f"({len(months)} months: {', '.join(months)}; {done['mart_daily_volume'].cases_changed} cases changed)"
    )
    incremental = contents(warehouse)
    cpu_full, wall_full, _ = timed(warehouse, full=True)
    print(f"the same marts rebuilt from all history     cpu {cpu_full:6.2f} s  wall {wall_full:6.2f} s")
    same = contents(warehouse) == incremental
    cpu, wall, done = timed(warehouse, full=False)
    rebuilt = len(done["mart_daily_volume"].months)
    print(f"a refresh with nothing new                  cpu {cpu:6.2f} s  wall {wall:6.2f} s  (months: {rebuilt})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"incremental rows equal to the full rebuild: {same}; peak RSS {peak:.0f} MiB")

    today = last_day + dt.timedelta(days=1)
    print("mart_case_deadlines, kept per case:")
    cpu, wall, said = timed_deadlines(warehouse, today, full=True)
    print(f"  first refresh (whole)                     cpu {cpu:6.2f} s  wall {wall:6.2f} s")
    one_days_load(warehouse, last_day, args.cases_per_day, args.corrections, rng)
    cpu, wall, said = timed_deadlines(warehouse, today, full=False)
    print(f"  after another day's load                  cpu {cpu:6.2f} s  wall {wall:6.2f} s  ({said})")
    incremental = warehouse.read(sa.select(mart_case_deadlines)).sort_values("golden_case_id").astype(str)
    cpu, wall, said = timed_deadlines(warehouse, today, full=False)
    print(f"  a refresh with nothing new                cpu {cpu:6.2f} s  wall {wall:6.2f} s  ({said})")
    cpu, wall, _ = timed_deadlines(warehouse, today, full=True)
    rebuilt = warehouse.read(sa.select(mart_case_deadlines)).sort_values("golden_case_id").astype(str)
    same = incremental.reset_index(drop=True).equals(rebuilt.reset_index(drop=True))
    print(f"  rebuilt from all history                  cpu {cpu:6.2f} s  wall {wall:6.2f} s  (equal: {same})")
    warehouse.dispose()
    folder.cleanup()


if __name__ == "__main__":
    main()
