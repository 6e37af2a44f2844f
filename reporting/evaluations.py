"""好差评 as the bureau reports it: every evaluation pulled in one state (linked, waiting, quarantined), the one
that stands for each case, each 差评 followed through its handling against working-day deadlines, and the
monthly figures (levels, satisfaction rate, coverage, 差评 past their deadline).

The definitions (which levels count as satisfied, whether a 系统默认评价 is rated, the deadlines) come from
``reporting/definitions.yaml`` (:mod:`reporting.definitions`); docs/marts.md explains each figure.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from reporting.definitions import EvaluationDefinitions
from reporting.refresh import month_of
from resolution.evaluations import link, newest_states, standing
from schemas.case import COMPLETED_STATUSES, is_completed
from schemas.feeds import EVALUATION_LEVELS, FOLLOW_UP_STEPS, POOR_LEVELS
from schemas.warehouse import evaluations, golden_cases
from schemas.workdays import WorkingCalendar
from staging.feeds import with_quarantined

LINKED, WAITING, QUARANTINED = "linked", "waiting", "quarantined"
COUNTS = ["completed_cases", "evaluated_cases"]  # per month, department and item (completed_cases)
STATE_COLUMNS = [
    "source_system",
    "evaluation_id",
    "status",
    "golden_case_id",
    "case_no",
    "level",
    "channel",
    "round",
    "evaluated_at",
    "first_partition",
    "partition_date",
    "records",
    "stands",
    "note",
    "poor",
    *(f"{step}_at" for step in FOLLOW_UP_STEPS),
]


def evaluation_states(records: pd.DataFrame, quarantined: pd.DataFrame, numbers: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluation pulled (``STATE_COLUMNS``). ``records``: staged_evaluations rows; ``quarantined``:
    the evaluation feeds' quarantined_feed_records rows; ``numbers``: case_no → golden_case_id (every number each
    golden case is known under). An evaluation with a usable record takes its newest usable state (a later
    record that could not be used is quarantined on its own, as a record); one with none is quarantined with the
    reason of its newest record."""
    usable = None
    if len(records):
        records = records.assign(partition_date=pd.to_datetime(records["partition_date"]).dt.date)
        usable = link(newest_states(records), numbers)
        usable["status"] = np.where(usable["golden_case_id"].notna(), LINKED, WAITING)
        usable["stands"] = standing(usable)
        usable["poor"] = usable["level"].isin(POOR_LEVELS)
    if len(quarantined):
        usable = with_quarantined(usable, quarantined, "evaluation_id")
    if usable is None:
        return pd.DataFrame(columns=STATE_COLUMNS)
    states = usable.reindex(columns=STATE_COLUMNS)
    states["stands"] = states["stands"].fillna(False).astype(bool)
    states["poor"] = states["poor"].fillna(False).astype(bool)
    return states


def follow_up(
    states: pd.DataFrame, cal: WorkingCalendar, settings: EvaluationDefinitions, today: dt.date
) -> pd.DataFrame:
    """``states`` with each 差评's step deadlines (``<step>_due``: working days after the evaluation, from the
    definitions) and ``follow_up``: closed (revisited, every step in time), closed_late (revisited, a step late),
    overdue (not revisited and a step not done by its deadline, which has passed), open (otherwise). NA for an
    evaluation that is not a 差评."""
    out = states.copy()
    poor = out["poor"].astype(bool) & out["status"].ne(QUARANTINED)
    evaluated = pd.to_datetime(out["evaluated_at"]).dt.normalize()
    late_step = pd.Series(False, index=out.index)
    missed = pd.Series(False, index=out.index)
    day = pd.Timestamp(today)
    for step in FOLLOW_UP_STEPS:
        due = cal.add_working_days(
            evaluated.where(poor), pd.Series(settings.follow_up_working_days[step], index=out.index)
        )
        out[f"{step}_due"] = due["deadline"].where(poor, None)
        due_at = pd.to_datetime(out[f"{step}_due"])
        done = pd.to_datetime(out[f"{step}_at"]).dt.normalize()
        late_step |= (done.notna() & (done > due_at)).fillna(False)
        missed |= (done.isna() & (due_at < day)).fillna(False)
    closed = pd.to_datetime(out["revisited_at"]).notna()
    result = np.select(
        [closed & ~late_step, closed & late_step, missed], ["closed", "closed_late", "overdue"], default="open"
    )
    out["follow_up"] = pd.Series(result, index=out.index, dtype="string").where(poor)
    return out


def completed_cases(conn: sa.Connection) -> pd.DataFrame:
    """month, handling_dept, item_code, completed_cases, evaluated_cases: the golden cases completed (``is_completed``)
    per month of completion, department and item, and how many of them an evaluation is linked to. Counted in the
    warehouse: the mart reads these sums, not every completed case of the history."""
    g, e = golden_cases.c, evaluations.c
    linked = sa.exists().where((e.golden_case_id == g.golden_case_id) & (e.status == LINKED))
    month = month_of(g.completed_at)
    query = (
        sa.select(
            month.label("month"),
            g.handling_dept,
            g.item_code,
            sa.func.count().label("completed_cases"),
            sa.func.sum(sa.case((linked, 1), else_=0)).label("evaluated_cases"),
        )
        .where(
            g.status.in_(COMPLETED_STATUSES)
            & g.completed_at.is_not(None)
            & g.handling_dept.is_not(None)
            & g.item_code.is_not(None)
        )
        .group_by(month, g.handling_dept, g.item_code)
    )
    frame = pd.DataFrame(conn.execute(query).all(), columns=["month", "handling_dept", "item_code", *COUNTS])
    return frame.astype(dict.fromkeys(COUNTS, "int64"))


def monthly_evaluations(
    states: pd.DataFrame, golden: pd.DataFrame, settings: EvaluationDefinitions, completed: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``mart_evaluations_monthly``: per month of evaluation, handling department, item and channel (and an
    ``all`` channel row per month, department and item), the evaluations that stand for their case (linked, or
    waiting: an applicant's word counts before its case arrives), per level, satisfied, rated and the rate; on
    the ``all`` rows the cases completed in the month, those evaluated and the coverage; the 差评, those open and
    those past a deadline. ``golden``: golden_case_id, handling_dept, item_code, status, completed_at (of the cases
    evaluations stand for, and every completed case unless ``completed`` gives their sums: :func:`completed_cases`)."""
    counted = states[states["stands"] | (states["status"] == WAITING)]
    counted = counted.merge(golden[["golden_case_id", "handling_dept", "item_code"]], on="golden_case_id", how="left")
    counted["handling_dept"] = counted["handling_dept"].fillna("")
    counted["item_code"] = counted["item_code"].fillna("")
    counted["month"] = pd.to_datetime(counted["evaluated_at"]).dt.strftime("%Y-%m")
    rated = counted["channel"].ne("default") | settings.count_default_ratings

    def count(flags: pd.Series) -> pd.Series:
        return flags.fillna(False).astype(bool).astype(int)

    counted = counted.assign(
        **{level: count(counted["level"].eq(level)) for level in EVALUATION_LEVELS},
        satisfied_count=count(counted["level"].isin(settings.satisfied_levels) & rated),
        rated=count(rated),
        evaluations=1,
        poor=count(counted["level"].isin(POOR_LEVELS)),
        poor_open=count(counted["follow_up"].isin(["open", "overdue"])),
        poor_past_deadline=count(counted["follow_up"].eq("overdue")),
    )
    measures = [
        "evaluations",
        *EVALUATION_LEVELS,
        "satisfied_count",
        "rated",
        "poor",
        "poor_open",
        "poor_past_deadline",
    ]
    keys = ["month", "handling_dept", "item_code"]
    by_channel = counted.groupby([*keys, "channel"], as_index=False)[measures].sum()
    overall = counted.groupby(keys, as_index=False)[measures].sum().assign(channel="all")

    cases = completed if completed is not None else _completed_of(golden, states)
    overall = overall.merge(cases, on=keys, how="outer").assign(channel="all")
    overall[measures] = overall[measures].fillna(0).astype(int)
    overall[["completed_cases", "evaluated_cases"]] = (
        overall[["completed_cases", "evaluated_cases"]].fillna(0).astype(int)
    )
    overall["coverage"] = (overall["evaluated_cases"] / overall["completed_cases"]).where(
        overall["completed_cases"] > 0
    )

    mart = pd.concat([by_channel, overall], ignore_index=True)
    mart["satisfaction_rate"] = (mart["satisfied_count"] / mart["rated"]).where(mart["rated"] > 0)
    for column in ("completed_cases", "evaluated_cases"):
        mart[column] = mart[column].astype("Int64")
    return mart.sort_values([*keys, "channel"], ignore_index=True)


def _completed_of(golden: pd.DataFrame, states: pd.DataFrame) -> pd.DataFrame:
    """:func:`completed_cases` from frames in memory (every completed case given)."""
    keys = ["month", "handling_dept", "item_code"]
    done = golden[is_completed(golden)].assign(month=lambda f: pd.to_datetime(f["completed_at"]).dt.strftime("%Y-%m"))
    evaluated_ids = set(states.loc[states["status"] == LINKED, "golden_case_id"])
    done = done.assign(evaluated=done["golden_case_id"].isin(evaluated_ids).astype(int), completed=1)
    cases = done.groupby(keys, as_index=False)[["completed", "evaluated"]].sum()
    return cases.rename(columns={"completed": "completed_cases", "evaluated": "evaluated_cases"})
