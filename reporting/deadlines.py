"""Working-day durations of golden cases against their promised and statutory limits, and the 2345 targets.

Counted after 行政许可法 Art. 82 on the published calendar (``schemas/workdays.py``): from the day after
acceptance, statutory holidays out, make-up Saturdays in. A limit the catalogue gives in natural days (自然日:
``promised_unit`` / ``statutory_unit``, of the item's version in force on the day of acceptance) is counted in
calendar days, ending on the next working day when it falls on a rest day.

特别程序 (pauses: 补正, 听证, 专家评审 … ``schemas.case.PAUSE_KINDS``; Art. 45) stop the clock: the working days
inside a pause (overlapping pauses counted once) are left out of the days taken (``working_days_net``; the
wall-clock count is ``working_days_gross``) and push each deadline on by as many days of its unit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.departments import department_systems
from core.warehouse import frame_of, in_lists, insert_frame
from reporting.refresh import CaseChanges, Refreshed, changed_cases, group_digests, mark_changed, mart_key
from schemas.case import CODES_DIR, ENDED_UNCOMPLETED, is_completed, items
from schemas.catalogue import CATALOGUE_PATH, versions_for
from schemas.warehouse import case_links, golden_cases, mart_case_deadlines, staged_pauses
from schemas.workdays import WorkingCalendar


@cache
def targets_2345() -> pd.DataFrame:
    return pd.read_csv(CODES_DIR / "targets_2345.csv", dtype={"working_days": int}).set_index("target")


def channel(source_system: pd.Series) -> pd.Series:
    """Where the case was recorded by whoever handled it: a department's own system on its private network, or
    only the bureau's one-stop window (综合窗口) platform."""
    return pd.Series(
        np.where(source_system.isin(department_systems()), "department_system", "one_stop_window"),
        index=source_system.index,
    )


def _result(
    accepted: pd.Series, completed: pd.Series, ended: pd.Series, deadline: pd.Series, today: dt.date
) -> np.ndarray:
    done = completed.notna()
    late = done & (completed > deadline)
    running_late = ~done & deadline.notna() & (pd.Timestamp(today) > deadline)
    return np.select(
        [accepted.isna(), done & ~late, late, ended.notna(), running_late],
        ["not_accepted", "on_time", "late", "returned", "overdue"],
        default="running",
    )


def paused_days(
    accepted: pd.Series, until: pd.Series, case_ids: pd.Series, pauses: pd.DataFrame, cal: WorkingCalendar
) -> pd.DataFrame:
    """Per case (aligned with ``accepted``): the working and the natural days its clock stood still between
    acceptance and ``until`` (completion, or today). ``pauses``: golden_case_id, started_at, ended_at (NULL: still
    running). Each pause is cut to the case's span by day; overlapping pauses count once."""
    zero = pd.DataFrame({"working": 0, "natural": 0}, index=accepted.index)
    if pauses is None or pauses.empty:
        return zero
    span = pd.DataFrame({"golden_case_id": case_ids, "accepted": accepted, "until": until}).dropna()
    p = pauses.merge(span, on="golden_case_id")
    start = pd.to_datetime(p["started_at"]).dt.normalize().clip(lower=p["accepted"])
    end = pd.to_datetime(p["ended_at"]).dt.normalize().fillna(p["until"]).clip(upper=p["until"])
    p = pd.DataFrame({"golden_case_id": p["golden_case_id"], "start": start, "end": end})[start < end]
    if p.empty:
        return zero
    p = p.sort_values(["golden_case_id", "start", "end"])
    reach = p.groupby("golden_case_id")["end"].cummax()
    opened = p["start"] > reach.groupby(p["golden_case_id"]).shift()  # no overlap with anything before it
    p["block"] = opened.astype(int).groupby(p["golden_case_id"]).cumsum()
    merged = p.groupby(["golden_case_id", "block"]).agg(start=("start", "min"), end=("end", "max")).reset_index()
    merged["working"] = cal.working_days_between(merged["start"], merged["end"]).fillna(0).astype(int)
    merged["natural"] = (merged["end"] - merged["start"]).dt.days
    per_case = merged.groupby("golden_case_id")[["working", "natural"]].sum()
    found = per_case.reindex(case_ids.to_numpy()).fillna(0).astype(int)
    return found.set_axis(accepted.index)


def case_deadlines(
    golden: pd.DataFrame, cal: WorkingCalendar, today: dt.date, pauses: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per golden case: deadlines (pushed on by its pauses), working days gross and net of the pauses,
    and the verdicts against each limit. ``pauses``: golden_case_id, started_at, ended_at, the counted ones."""
    accepted = pd.to_datetime(golden["accepted_at"]).dt.normalize()
    finished = is_completed(golden)
    completed = pd.to_datetime(golden["completed_at"]).dt.normalize().where(finished)
    # returned (退件) or refused after acceptance: the clock stops on the day it ended, as the receivers' profile
    # dates it (its completion time, else its decision time); one without either runs on like an open case
    decided = pd.to_datetime(golden["decided_at"]) if "decided_at" in golden else pd.Series(pd.NaT, golden.index)
    end = pd.to_datetime(golden["completed_at"]).fillna(decided).dt.normalize()
    ended = end.where(golden["status"].isin(ENDED_UNCOMPLETED) & ~finished & accepted.notna())
    version = versions_for(golden["item_code"], accepted)
    until = completed.fillna(ended).fillna(pd.Timestamp(today)).where(accepted.notna())
    paused = paused_days(accepted, until, golden["golden_case_id"], pauses, cal)

    def limit(days: pd.Series, units: pd.Series) -> pd.DataFrame:
        natural = (units.astype("string") == "natural_day").fillna(False)
        extra = paused["natural"].where(natural, paused["working"])
        return cal.add_days(accepted, pd.to_numeric(days, errors="coerce") + extra, units)

    promised = limit(golden["promised_days"], version["promised_unit"])
    statutory = limit(golden["statutory_days"], version["statutory_unit"])
    gross = cal.working_days_between(accepted, until)
    taken = (gross - paused["working"]).clip(lower=0)
    promised_deadline = pd.to_datetime(promised["deadline"])
    statutory_deadline = pd.to_datetime(statutory["deadline"])
    target = golden["item_code"].map(items().set_index("item_code")["target_2345"]).replace("", None)
    target_days = target.map(targets_2345()["working_days"])
    within = (taken <= target_days).where(finished & target_days.notna())
    return pd.DataFrame(
        {
            "golden_case_id": golden["golden_case_id"],
            "case_no": golden["case_no"],
            "submitted_on": pd.to_datetime(golden["submitted_at"]).dt.date,
            "handling_dept": golden["handling_dept"],
            "item_code": golden["item_code"],
            "item_name": golden["item_name"],
            "channel": channel(golden["source_system"]),
            "status": golden["status"],
            "accepted_on": accepted.dt.date,
            "completed_on": completed.dt.date,
            "ended_on": ended.dt.date,
            "promised_days": pd.to_numeric(golden["promised_days"], errors="coerce").astype("Int64"),
            "statutory_days": pd.to_numeric(golden["statutory_days"], errors="coerce").astype("Int64"),
            "promised_deadline": promised_deadline.dt.date,
            "statutory_deadline": statutory_deadline.dt.date,
            "deadline_provisional": (promised["provisional"] | statutory["provisional"]).astype(bool),
            "working_days_gross": gross,
            "paused_working_days": paused["working"].where(accepted.notna()).astype("Int64"),
            "working_days_net": taken,
            "promise_result": _result(accepted, completed, ended, promised_deadline, today),
            "statutory_result": _result(accepted, completed, ended, statutory_deadline, today),
            "target_2345": target,
            "target_days": target_days.astype("Int64"),
            "within_target": within.astype("boolean"),
            "month_completed": completed.dt.strftime("%Y-%m"),
        }
    )


def case_pauses_select() -> sa.Select:
    """Every counted pause (特别程序) with the golden case its record belongs to: golden_case_id, started_at,
    ended_at. A record pulled again on a later day lists its pauses again; overlaps count once downstream."""
    p, links = staged_pauses, case_links
    return (
        sa.select(links.c.golden_case_id, p.c.started_at, p.c.ended_at)
        .join(
            links,
            (links.c.source_system == p.c.source_system)
            & (links.c.partition_date == p.c.partition_date)
            & (links.c.record_key == p.c.record_key),
        )
        .where(p.c.problem.is_(None))
    )


def deadlines_key(cal: WorkingCalendar) -> str:
    """The refresh marks' name for ``mart_case_deadlines`` under today's rules: it changes (and the mart is rebuilt
    whole) when this module, the catalogue, the items or the 2345 targets, the departments or the published
    calendar change."""
    sources = [Path(__file__), CATALOGUE_PATH, CODES_DIR / "items.csv", CODES_DIR / "targets_2345.csv"]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()
    published = cal.published.to_csv(index=False)
    return mart_key(mart_case_deadlines, digest, sorted(department_systems()), published, cal.first_year)


def refresh_case_deadlines(
    conn: sa.Connection, cal: WorkingCalendar, today: dt.date, *, full: bool = False
) -> tuple[Refreshed, pd.DataFrame, CaseChanges]:
    """Bring ``mart_case_deadlines`` up to date inside ``conn``'s transaction, computing again only the cases that
    changed since it last counted them (their content, record count or pauses: ``refresh_marks``), that are new,
    or whose row depends on the day (accepted and not completed: their working days run on), and deleting those no
    longer golden; everything when the rules changed, there are no marks, or ``full``. Any order of refreshes ends
    in the rows of a full rebuild on the same day. Which cases changed is found in SQL (``changed_cases``): a
    refresh reads the changed cases' rows and every counted pause, not every case. Returns what it did, the
    counted pauses (every case's) and which cases it computed again."""
    g, d = golden_cases.c, mart_case_deadlines.c
    pauses = frame_of(conn.execute(case_pauses_select()))
    # a case's inputs beyond its golden row: its counted pauses (a pause found on a re-run changes no golden case)
    extras = pd.DataFrame({"golden_case_id": pd.Series(dtype=object), "digest": pd.Series(dtype=object)})
    if len(pauses):
        per_case = group_digests(pauses, ["started_at", "ended_at"], by="golden_case_id")
        extras = pd.DataFrame({"golden_case_id": per_case.index.astype(str), "digest": per_case.to_numpy()})
    key = deadlines_key(cal)
    running = conn.execute(
        sa.select(d.golden_case_id).where(d.accepted_on.is_not(None) & d.completed_on.is_(None) & d.ended_on.is_(None))
    )
    changes = changed_cases(conn, key, extras, always=running.scalars().all(), full=full)
    if changes.full:
        conn.execute(mart_case_deadlines.delete())
        golden = frame_of(conn.execute(sa.select(golden_cases)))
    else:
        stale = [*changes.changed, *changes.gone]
        for part in in_lists(stale):
            conn.execute(mart_case_deadlines.delete().where(d.golden_case_id.in_(part)))
        ids = list(changes.changed)
        parts = [
            frame_of(conn.execute(sa.select(golden_cases).where(g.golden_case_id.in_(part)))) for part in in_lists(ids)
        ]
        golden = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(golden_cases.c.keys()))
    written = 0
    if len(golden):
        mine = pauses[pauses["golden_case_id"].isin(golden["golden_case_id"])] if len(pauses) else pauses
        written = insert_frame(conn, mart_case_deadlines, case_deadlines(golden, cal, today, mine))
    mark_changed(conn, key, extras, changes)
    cases = len(changes.changed) + len(changes.gone)
    return Refreshed(changes.full, (), written, 0 if changes.full else cases), pauses, changes


def monthly_2345(
    deadlines: pd.DataFrame, *, project_clocks: pd.DataFrame | None = None, startup: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per target and month of completion: completed cases, how many within the target, the share.

    "startup" is counted on start-up chains, not cases (a registration alone is not a start-up): ``startup`` holds
    one row per start-up (``reporting.startup.chains_for_2345``: target_2345, month_completed = the month its
    licence was issued, within_target, working_days_net of a complete chain); without it there is no startup row.
    "construction" is measured on the projects' 立项 → 施工许可 clocks (``mart_projects``: reporting.projects), not on
    the construction-permit case alone, when ``project_clocks`` are given."""
    table = _monthly_2345_cases(deadlines, drop_construction=project_clocks is not None, startup=startup)
    if project_clocks is None:
        return table
    from reporting.projects import construction_2345

    target = targets_2345().loc["construction"]
    clocks = project_clocks.assign(industrial=project_clocks["industrial"].astype(bool))
    built = construction_2345(clocks, target["target_name"], int(target["working_days"]))
    if built.empty:
        return table
    return pd.concat([table, built], ignore_index=True).sort_values(["target", "month"], ignore_index=True)


def _monthly_2345_cases(deadlines: pd.DataFrame, drop_construction: bool, startup: pd.DataFrame | None) -> pd.DataFrame:
    counted = deadlines[deadlines["within_target"].notna() & (deadlines["target_2345"] != "startup")]
    if drop_construction:
        counted = counted[counted["target_2345"] != "construction"]
    if startup is not None and not startup.empty:
        counted = pd.concat([counted, startup], ignore_index=True)
    counted = counted.assign(
        within_target=counted["within_target"].astype(bool),
        working_days_net=pd.to_numeric(counted["working_days_net"], errors="coerce"),
    )
    columns = ["target", "month", "target_name", "target_days", "completed", "within_target",
               "share_within_target", "average_working_days"]  # fmt: skip
    if counted.empty:
        return pd.DataFrame(columns=columns)
    grouped = counted.groupby(["target_2345", "month_completed"])
    table = pd.DataFrame(
        {
            "completed": grouped.size(),
            "within_target": grouped["within_target"].sum().astype(int),
            "average_working_days": grouped["working_days_net"].mean().astype(float).round(2).fillna(0.0),
        }
    ).reset_index(names=["target", "month"])
    targets = targets_2345()
    table["target_name"] = table["target"].map(targets["target_name"])
    table["target_days"] = table["target"].map(targets["working_days"])
    table["share_within_target"] = (table["within_target"] / table["completed"]).round(4)
    return table[columns]


def calendar_rows(cal: WorkingCalendar, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The calendar as a table dashboards and BI tools can join to (one row per day)."""
    days = pd.Series(pd.date_range(first, last, freq="D"))
    published = cal.published.set_index("date")
    named = days.dt.date.map(published["name"])
    kinds = days.dt.date.map(published["kind"])
    weekend = days.dt.dayofweek >= 5
    kind = np.select(
        [kinds == "holiday", kinds == "workday", weekend], ["holiday", "make_up_workday", "weekend"], "workday"
    )
    return pd.DataFrame(
        {
            "day": days.dt.date,
            "is_working_day": cal.is_working_day(days).to_numpy(),
            "kind": kind,
            "holiday_name": named,
            "published": (days.dt.year <= cal.last_published_year).to_numpy(),
        }
    )
