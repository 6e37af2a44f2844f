"""The 办件编号 each golden case goes out under: the department's own when it numbers nationally, else one the
bridge allocates by the national rule, stored once.

The national form is the item's 31-character 实施编码, the date ``yyyyMMdd`` and a 4-digit serial per 实施编码 and
day (docs/delivery.md, "The 办件编号"). For each golden case, in this order:

1. a record of a system that numbers nationally (``case_no_form: national`` in its declaration) carries the
   number: the golden case goes out under it (staging has already quarantined malformed ones);
2. otherwise a number stored earlier for one of its records is reused, the earliest;
3. otherwise the bridge allocates one for its best record, from the item's 实施编码, the acceptance date (the
   submission date while it is not accepted) and the next serial of that 实施编码 and day.

A number is anchored on a record, not on the golden id, so it follows its records through re-resolution; reruns
and backfills in any order find it and allocate nothing new. A clerk's re-entry never gets a number of its own
while its golden case holds a department record with one: it goes out under the department's. When a department's
record arrives after the bridge allocated a number for the case, the allocated number is marked superseded by the
department's, and the case goes out under the department's from its next version.

Allocated serials start at ``BRIDGE_CASE_NO_SERIAL_START`` (default 9001): the top of the day's range, so they do
not collide with a department system numbering the same 实施编码 from 0001.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.warehouse import insert_frame
from schemas.case import departments, items
from schemas.identifiers import national_case_numbers
from schemas.warehouse import case_numbers
from staging.mappings import national_case_no_systems

SERIAL_START_VARIABLE = "BRIDGE_CASE_NO_SERIAL_START"
DEFAULT_SERIAL_START = 9001
LEVEL_COUNTY = "4"  # 行使层级 (GB/T 39046 A.2): 4 县级 — the district's departments
CHUNK = 500


def serial_start() -> int:
    text = os.environ.get(SERIAL_START_VARIABLE, "").strip()
    start = int(text) if text.isdigit() else DEFAULT_SERIAL_START
    if not 1 <= start <= 9999:
        raise ValueError(f"{SERIAL_START_VARIABLE}={text}: a serial from 1 to 9999")
    return start


def task_codes(item_codes: pd.Series, handling_depts: pd.Series) -> pd.Series:
    """The 实施编码 of each item as its handling department implements it: the catalogue's where it has one, else
    the department's USCC, level 4 (县级) and the 12-character 基本编码."""
    catalogue = items()
    if "task_code" in catalogue.columns:
        known = catalogue.reset_index().drop_duplicates("item_code").set_index("item_code")["task_code"]
        found = item_codes.map(known)
    else:
        found = pd.Series(pd.NA, index=item_codes.index, dtype="string")
    uscc = handling_depts.map(departments().set_index("department_code")["issuer_uscc"])
    derived = uscc + LEVEL_COUNTY + item_codes.where(item_codes.str.len() == 12)
    return found.fillna(derived).astype("string")


def _stored(conn: sa.Connection, members: pd.DataFrame) -> pd.DataFrame:
    """The numbers stored for any of these records (their anchors), superseded ones included."""
    frames = []
    ids = members["source_record_id"].dropna().unique().tolist()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = conn.execute(sa.select(case_numbers).where(case_numbers.c.source_record_id.in_(chunk)))
        frames.append(pd.DataFrame(rows.mappings().all(), columns=[c.name for c in case_numbers.c]))
    stored = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[c.name for c in case_numbers.c])
    return stored.merge(members[["source_system", "source_record_id"]].drop_duplicates(), how="inner")


def withdrawn_numbers(conn: sa.Connection, golden: pd.DataFrame, linked: pd.DataFrame) -> pd.Series:
    """Per golden case (aligned with ``golden``), the numbers it went out under before the department's own
    replaced them (comma-separated, NA for none): the receivers are told to withdraw them, so the case is not held
    under two numbers. Read after :func:`assign_case_numbers`, in the same transaction."""
    members = linked[["golden_case_id", "source_system", "source_record_id"]].drop_duplicates(
        ["source_system", "source_record_id"]
    )
    members = members[members["golden_case_id"].isin(golden["golden_case_id"])]
    stored = _stored(conn, members).merge(members)
    gone = stored[stored["superseded_by"].notna()].sort_values("project_no")
    gone = gone.drop_duplicates(["golden_case_id", "project_no"])
    joined = gone.groupby("golden_case_id")["project_no"].agg(",".join)
    return golden["golden_case_id"].map(joined).astype("string")


def _next_serials(conn: sa.Connection, wanted: pd.DataFrame, start: int) -> pd.Series:
    """Serials for new numbers (``wanted``: task_code, number_date, in the order they are to be numbered): after
    the highest the bridge already allocated for that 实施编码 and day, from ``start``."""
    keys = wanted[["task_code", "number_date"]].drop_duplicates()
    highest = []
    for task_code, days in keys.groupby("task_code")["number_date"]:
        rows = conn.execute(
            sa.select(case_numbers.c.number_date, sa.func.max(case_numbers.c.serial))
            .where(
                case_numbers.c.task_code == task_code,
                case_numbers.c.number_date.in_(sorted(set(days))),
                case_numbers.c.origin == "allocated",
            )
            .group_by(case_numbers.c.number_date)
        ).all()
        highest += [(task_code, day, serial) for day, serial in rows]
    high = pd.DataFrame(highest, columns=["task_code", "number_date", "highest"])
    high["number_date"] = pd.to_datetime(high["number_date"]).dt.date
    base = wanted[["task_code", "number_date"]].merge(high, how="left")["highest"].fillna(start - 1).to_numpy()
    rank = wanted.groupby(["task_code", "number_date"]).cumcount().to_numpy() + 1
    return pd.Series(np.maximum(base, start - 1).astype(int) + rank, index=wanted.index)


def assign_case_numbers(
    conn: sa.Connection, golden: pd.DataFrame, linked: pd.DataFrame, partition: dt.date, now: dt.datetime
) -> tuple[pd.Series, dict[str, int]]:
    """The 办件编号 of each golden case (aligned with ``golden``; NA where none can be formed: no 实施编码 for its
    item, or the day's serials are used up), storing what is new in ``case_numbers`` within the caller's
    transaction. ``linked``: the golden cases' records (golden_case_id, source_system, source_record_id, case_no).
    Returns the numbers and figures (carried, reused, allocated, superseded, unnumbered)."""
    figures = dict.fromkeys(("carried", "reused", "allocated", "superseded", "unnumbered"), 0)
    if golden.empty:
        return pd.Series(dtype="string"), figures
    members = linked[["golden_case_id", "source_system", "source_record_id", "case_no"]].drop_duplicates(
        ["source_system", "source_record_id"]
    )
    members = members[members["golden_case_id"].isin(golden["golden_case_id"])]
    stored = _stored(conn, members).merge(members[["golden_case_id", "source_system", "source_record_id"]])

    # 1. the department's own number
    national = (
        members["source_system"].isin(national_case_no_systems())
        & national_case_numbers(members["case_no"].fillna("")).to_numpy()
    )
    carried = members[national].sort_values(["golden_case_id", "source_system", "source_record_id"])
    carried = carried.drop_duplicates("golden_case_id").set_index("golden_case_id")["case_no"]
    new_carried = members[national & ~members["case_no"].isin(stored["project_no"])]
    new_carried = new_carried[new_carried["case_no"].isin(carried)].drop_duplicates("case_no")
    rows = [
        pd.DataFrame(
            {
                "project_no": new_carried["case_no"],
                "source_system": new_carried["source_system"],
                "source_record_id": new_carried["source_record_id"],
                "task_code": new_carried["case_no"].str.slice(0, 31),
                "number_date": pd.to_datetime(new_carried["case_no"].str.slice(31, 39), format="%Y%m%d").dt.date,
                "serial": new_carried["case_no"].str.slice(39, 43).astype(int),
                "origin": "department",
            }
        )
    ]

    # 2. a number stored for one of its records (not one a department's has replaced)
    live = stored[stored["superseded_by"].isna()].sort_values(["assigned_at", "project_no"])
    reused = live.drop_duplicates("golden_case_id").set_index("golden_case_id")["project_no"]

    # an allocated number whose case now has the department's: superseded by it
    replaced = live[(live["origin"] == "allocated") & live["golden_case_id"].isin(carried.index)]
    for row in replaced.itertuples():
        conn.execute(
            case_numbers.update()
            .where(case_numbers.c.project_no == row.project_no)
            .values(superseded_by=carried[row.golden_case_id])
        )

    # 3. allocate for the rest, numbered in the order of their submission
    chosen = golden["golden_case_id"].map(carried).fillna(golden["golden_case_id"].map(reused))
    need = golden[chosen.isna()].copy()
    if len(need):
        need["task_code"] = task_codes(need["item_code"].astype("string"), need["handling_dept"].astype("string"))
        day = pd.to_datetime(need["accepted_at"]).fillna(pd.to_datetime(need["submitted_at"]))
        need["number_date"] = day.dt.date
        need = need[need["task_code"].str.len().eq(31).fillna(False) & day.notna()]
        need = need.sort_values(["task_code", "number_date", "submitted_at", "source_system", "source_record_id"])
        need["serial"] = _next_serials(conn, need, serial_start())
        need = need[need["serial"] <= 9999]
        need["project_no"] = (
            need["task_code"]
            + pd.to_datetime(need["number_date"]).dt.strftime("%Y%m%d")
            + need["serial"].astype(str).str.zfill(4)
        )
        rows.append(
            need[["project_no", "source_system", "source_record_id", "task_code", "number_date", "serial"]].assign(
                origin="allocated"
            )
        )
        chosen = chosen.fillna(golden["golden_case_id"].map(need.set_index("golden_case_id")["project_no"]))
    new_rows = pd.concat(rows, ignore_index=True).assign(assigned_partition=partition, assigned_at=now)
    insert_frame(conn, case_numbers, new_rows)

    figures.update(
        carried=int(golden["golden_case_id"].isin(carried.index).sum()),
        reused=int((golden["golden_case_id"].isin(reused.index) & ~golden["golden_case_id"].isin(carried.index)).sum()),
        allocated=int((new_rows["origin"] == "allocated").sum()),
        superseded=len(replaced),
        unnumbered=int(chosen.isna().sum()),
    )
    return chosen.astype("string"), figures
