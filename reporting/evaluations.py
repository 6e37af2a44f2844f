"""好差评 as the bureau reports it: every evaluation pulled in one state (linked, waiting, quarantined), the one
that stands for each case, each 差评 followed through its handling against working-day deadlines, and the
monthly figures (levels, satisfaction rate, coverage, 差评 past their deadline).

The definitions (which levels count as satisfied, whether a 系统默认评价 is rated, the deadlines) come from
``reporting/definitions.yaml`` (:mod:`reporting.definitions`); docs/marts.md explains each figure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import clock
from core.warehouse import frame_of, in_lists, insert_frame, replace_table
from reporting.definitions import EvaluationDefinitions
from reporting.refresh import (
    CaseChanges,
    Refreshed,
    against_marks,
    count_where,
    mark_changed,
    mart_key,
    month_of,
    moved_marks,
    starts_over,
)
from resolution.evaluations import link, newest_states, number_index, standing
from schemas.case import COMPLETED_STATUSES, is_completed
from schemas.feeds import EVALUATION_LEVELS, FOLLOW_UP_STEPS, POOR_LEVELS
from schemas.warehouse import (
    evaluations,
    golden_cases,
    quarantined_feed_records,
    staged_days,
    staged_evaluations,
)
from schemas.workdays import WorkingCalendar
from staging.feeds import quarantine_key, stamp_day, with_quarantined

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


MEASURES = ["evaluations", *EVALUATION_LEVELS, "satisfied_count", "rated", "poor", "poor_open", "poor_past_deadline"]
MONTH_KEYS = ["month", "handling_dept", "item_code"]


def monthly_evaluations(
    states: pd.DataFrame, golden: pd.DataFrame, settings: EvaluationDefinitions, completed: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``mart_evaluations_monthly``: per month of evaluation, handling department, item and channel (and an
    ``all`` channel row per month, department and item), the evaluations that stand for their case (linked, or
    waiting: an applicant's word counts before its case arrives), per level, satisfied, rated and the rate; on
    the ``all`` rows the cases completed in the month, those evaluated and the coverage; the 差评, those open and
    those past a deadline. ``golden``: golden_case_id, handling_dept, item_code, status, completed_at (of the cases
    evaluations stand for, and every completed case unless ``completed`` gives their sums: :func:`completed_cases`).
    :func:`monthly_evaluations_in_warehouse` counts the same in SQL."""
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
    by_channel = counted.groupby([*MONTH_KEYS, "channel"], as_index=False)[MEASURES].sum()
    overall = counted.groupby(MONTH_KEYS, as_index=False)[MEASURES].sum()
    return _monthly(by_channel, overall, completed if completed is not None else _completed_of(golden, states))


def monthly_evaluations_in_warehouse(conn: sa.Connection, settings: EvaluationDefinitions) -> pd.DataFrame:
    """:func:`monthly_evaluations` counted in the warehouse, the same rows: the sums per month, department, item
    (and channel) in SQL over the evaluations that stand or wait, joined to their cases, and the completed cases'
    sums (:func:`completed_cases`); no evaluation or case of the history read into memory."""
    e, g = evaluations.c, golden_cases.c
    month = month_of(e.evaluated_at)
    dept, item = sa.func.coalesce(g.handling_dept, ""), sa.func.coalesce(g.item_code, "")
    rated = sa.true() if settings.count_default_ratings else (sa.func.coalesce(e.channel, "") != "default")
    measures = [
        sa.func.count().label("evaluations"),
        *(count_where(e.level == level).label(level) for level in EVALUATION_LEVELS),
        count_where(e.level.in_(list(settings.satisfied_levels)) & rated).label("satisfied_count"),
        count_where(rated).label("rated"),
        count_where(e.level.in_(list(POOR_LEVELS))).label("poor"),
        count_where(e.follow_up.in_(["open", "overdue"])).label("poor_open"),
        count_where(e.follow_up == "overdue").label("poor_past_deadline"),
    ]
    counted = (
        sa.select(month.label("month"), dept.label("handling_dept"), item.label("item_code"))
        .select_from(evaluations.outerjoin(golden_cases, g.golden_case_id == e.golden_case_id))
        .where((e.stands | (e.status == WAITING)) & e.evaluated_at.is_not(None))
    )

    def read(query: sa.Select, columns: list[str]) -> pd.DataFrame:
        frame = pd.DataFrame(conn.execute(query).all(), columns=columns)
        return frame.astype(dict.fromkeys(MEASURES, "int64"))

    by_channel = read(
        counted.add_columns(e.channel, *measures).where(e.channel.is_not(None)).group_by(month, dept, item, e.channel),
        [*MONTH_KEYS, "channel", *MEASURES],
    )
    overall = read(counted.add_columns(*measures).group_by(month, dept, item), [*MONTH_KEYS, *MEASURES])
    return _monthly(by_channel, overall, completed_cases(conn))


def _monthly(by_channel: pd.DataFrame, overall: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """The mart from the sums per month, department, item and channel, the sums per month, department and item
    (the ``all`` rows) and the completed cases' sums."""
    overall = overall.merge(cases, on=MONTH_KEYS, how="outer").assign(channel="all")
    overall[MEASURES] = overall[MEASURES].fillna(0).astype(int)
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
    return mart.sort_values([*MONTH_KEYS, "channel"], ignore_index=True)


def _completed_of(golden: pd.DataFrame, states: pd.DataFrame) -> pd.DataFrame:
    """:func:`completed_cases` from frames in memory (every completed case given)."""
    keys = ["month", "handling_dept", "item_code"]
    done = golden[is_completed(golden)].assign(month=lambda f: pd.to_datetime(f["completed_at"]).dt.strftime("%Y-%m"))
    evaluated_ids = set(states.loc[states["status"] == LINKED, "golden_case_id"])
    done = done.assign(evaluated=done["golden_case_id"].isin(evaluated_ids).astype(int), completed=1)
    cases = done.groupby(keys, as_index=False)[["completed", "evaluated"]].sum()
    return cases.rename(columns={"completed": "completed_cases", "evaluated": "evaluated_cases"})


KEYS = ["source_system", "evaluation_id"]


def evaluations_key(cal: WorkingCalendar, settings: EvaluationDefinitions) -> str:
    """The refresh marks' name for the ``evaluations`` state table under today's rules: it changes (and the table
    is computed whole) when how a state is made (this module, the linking, the newest-record and quarantine rules
    of staging.feeds), the definitions or the published calendar (the 差评's deadlines) change."""
    import resolution.evaluations as linking
    import staging.feeds as feeds

    sources = [Path(__file__), Path(linking.__file__), Path(feeds.__file__)]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()
    return mart_key(evaluations, digest, settings.model_dump_json(), cal.published.to_csv(index=False))


def refresh_evaluations(
    conn: sa.Connection,
    sources: Sequence[str],
    cal: WorkingCalendar,
    settings: EvaluationDefinitions,
    today: dt.date,
    *,
    full: bool = False,
) -> Refreshed:
    """Bring the ``evaluations`` state table up to date inside ``conn``'s transaction: the rows a whole rebuild
    from every staged and quarantined evaluation record of ``sources`` writes, computing again only the
    evaluations a load can have changed:

    - those with a record (staged or quarantined) on a day staged anew since the last refresh (``staged_days``:
      a new stamp per staging of a day; a day with records but no stamp, staged by hand or by an earlier release,
      is looked at and stamped), or whose state covered such a day or a day no longer staged (a record taken away);
    - those naming a number of a golden case that changed, is new or gone (``refresh_marks``, compared in SQL),
      or linked to such a case; those waiting for their case; the 差评 still open (their verdict runs with the day);
    - with them, every evaluation linked to the same golden cases (which one stands for its case).

    Everything when the rules changed, there are no marks, or ``full``. Returns what it did."""
    sources = list(sources)
    key = evaluations_key(cal, settings)
    days_key = f"{key}/days"
    d = staged_days.c
    stamped = sa.select(d.stamp, d.source_system, d.partition_date).where(
        (d.table_name == staged_evaluations.name) & d.source_system.in_(sources)
    )
    stamps = frame_of(conn.execute(stamped))
    # days with records but no stamp (staged by hand, or before a release that stamps): looked at now and stamped,
    # so a warehouse of an earlier release is read whole once, not on every refresh
    unstamped = _unstamped_days(conn, sources, stamps)
    if unstamped:
        now = clock.now()
        for source, day in sorted(unstamped):
            stamp_day(conn, staged_evaluations, source, day, now)
        stamps = frame_of(conn.execute(stamped))
    full = starts_over(conn, key, full)
    # the stamps last seen, kept as marks (stamp: "source|day"): a new one is a day staged anew, a gone one a day
    # staged again or no longer staged
    day_of = stamps["source_system"].astype(str) + "|" + stamps["partition_date"].map(lambda v: _date(v).isoformat())
    moved = moved_marks(conn, days_key, pd.DataFrame({"golden_case_id": stamps["stamp"], "digest": day_of}))
    if full:
        records = frame_of(
            conn.execute(sa.select(staged_evaluations).where(staged_evaluations.c.source_system.in_(sources)))
        )
        held = frame_of(
            conn.execute(
                sa.select(quarantined_feed_records).where(quarantined_feed_records.c.source_system.in_(sources))
            )
        )
        states = _states(conn, records, held, cal, settings, today)
        replace_table(conn, evaluations, states)
        mark_changed(conn, key, None, CaseChanges(True, (), ()))
        return Refreshed(True, (), len(states), 0)

    days = {(text.split("|", 1)[0], _date(text.split("|", 1)[1])) for text in moved["digest"].fillna(moved["was"])}
    keys = _keys_of_days(conn, days)

    differ, vanished = against_marks(conn, key)
    changed = [row[0] for row in differ]
    gone_cases = [row[0] for row in vanished]
    e, s = evaluations.c, staged_evaluations.c
    numbers = number_index(conn, golden_ids=[*changed, *gone_cases])
    for part in in_lists(sorted(set(numbers["case_no"]))):
        keys |= _pairs(
            conn, sa.select(s.source_system, s.evaluation_id).where(s.case_no.in_(part) & s.source_system.in_(sources))
        )
    for part in in_lists([*changed, *gone_cases]):
        keys |= _pairs(conn, sa.select(e.source_system, e.evaluation_id).where(e.golden_case_id.in_(part)))
    today_bound = (e.status == WAITING) | e.follow_up.in_(["open", "overdue"])
    keys |= _pairs(conn, sa.select(e.source_system, e.evaluation_id).where(today_bound & e.source_system.in_(sources)))

    records, held = _records_of(conn, keys, days)
    # which one stands is chosen among every evaluation of a case: take the others of the cases touched too
    named = _numbers_named(conn, records)
    cases = set(named["golden_case_id"].dropna())
    for part in in_lists(sorted({i for _, i in keys})):
        was = sa.select(e.golden_case_id).where(e.evaluation_id.in_(part) & e.golden_case_id.is_not(None))
        cases |= set(conn.execute(was).scalars())
    others = set()
    for part in in_lists(sorted(cases)):
        others |= _pairs(conn, sa.select(e.source_system, e.evaluation_id).where(e.golden_case_id.in_(part)))
    if others - keys:
        more, more_held = _records_of(conn, others - keys, set())
        if len(more):
            records = pd.concat([records, more], ignore_index=True)
            named = pd.concat([named, _numbers_named(conn, more)], ignore_index=True).drop_duplicates()
        held = pd.concat([held, more_held], ignore_index=True) if len(more_held) else held
        keys |= others
    states = _states(conn, records, held, cal, settings, today, named)
    for source in sources:
        ids = sorted(i for s_, i in keys if s_ == source)
        for part in in_lists(ids):
            conn.execute(evaluations.delete().where((e.source_system == source) & e.evaluation_id.in_(part)))
    written = insert_frame(conn, evaluations, states)
    mark_changed(conn, key, None, CaseChanges(False, tuple(changed), tuple(gone_cases), tuple(changed)))
    return Refreshed(False, (), written, len(keys))


def _date(value: object) -> dt.date:
    return pd.Timestamp(value).date()


def _pairs(conn: sa.Connection, query: sa.Select) -> set[tuple[str, str]]:
    return {(str(a), str(b)) for a, b in conn.execute(query).all()}


def _states(
    conn: sa.Connection,
    records: pd.DataFrame,
    held: pd.DataFrame,
    cal: WorkingCalendar,
    settings: EvaluationDefinitions,
    today: dt.date,
    numbers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The states of the evaluations ``records`` and ``held`` are of; ``numbers``: what the numbers they name
    stand for, when already read."""
    numbers = _numbers_named(conn, records) if numbers is None else numbers
    return follow_up(evaluation_states(records, held, numbers), cal, settings, today)


def _numbers_named(conn: sa.Connection, records: pd.DataFrame) -> pd.DataFrame:
    """The numbers the evaluation ``records`` name, with the golden cases they stand for (not every case's)."""
    return number_index(conn, case_nos=records["case_no"].dropna() if len(records) else [])


def _unstamped_days(conn: sa.Connection, sources: list[str], stamps: pd.DataFrame) -> set[tuple[str, dt.date]]:
    """Days with evaluation records but no stamp (staged other than by the feeds' staging, or before a release that
    stamps)."""
    stamped = {(str(s), _date(day)) for s, day in zip(stamps["source_system"], stamps["partition_date"], strict=True)}
    found: set[tuple[str, dt.date]] = set()
    for table in (staged_evaluations, quarantined_feed_records):
        query = sa.select(table.c.source_system, table.c.partition_date).where(table.c.source_system.in_(sources))
        found |= {(str(s), _date(day)) for s, day in conn.execute(query.distinct()).all()}
    return found - stamped


def _keys_of_days(conn: sa.Connection, days: set[tuple[str, dt.date]]) -> set[tuple[str, str]]:
    """The evaluations with a record on one of ``days`` now, or whose state covered one of them."""
    s, q, e = staged_evaluations.c, quarantined_feed_records.c, evaluations.c
    keys: set[tuple[str, str]] = set()
    for source, day in sorted(days):
        keys |= _pairs(
            conn,
            sa.select(s.source_system, s.evaluation_id).where((s.source_system == source) & (s.partition_date == day)),
        )
        held = frame_of(
            conn.execute(
                sa.select(q.source_system, q.partition_date, q.record_key, q.item_id).where(
                    (q.source_system == source) & (q.partition_date == day)
                )
            )
        )
        if len(held):
            keys |= set(zip(held["source_system"].astype(str), quarantine_key(held).astype(str), strict=True))
        covered = (e.source_system == source) & (e.first_partition <= day) & (e.partition_date >= day)
        keys |= _pairs(conn, sa.select(e.source_system, e.evaluation_id).where(covered))
    return keys


def _records_of(
    conn: sa.Connection, keys: set[tuple[str, str]], days: set[tuple[str, dt.date]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every staged and quarantined record of the evaluations ``keys`` names (a quarantined record without an id
    is named by its day and record key: found on its day)."""
    s, q = staged_evaluations.c, quarantined_feed_records.c
    ids = sorted({i for _, i in keys})
    staged = [
        frame_of(conn.execute(sa.select(staged_evaluations).where(s.evaluation_id.in_(part)))) for part in in_lists(ids)
    ]
    held = [
        frame_of(conn.execute(sa.select(quarantined_feed_records).where(q.item_id.in_(part)))) for part in in_lists(ids)
    ]
    days = set(days)
    for source, text in keys:  # an id-less quarantined record: "YYYY-MM-DD/record key"
        day, _, rest = text.partition("/")
        if rest and len(day) == 10 and day[4] == "-":
            days.add((source, _date(day)))
    for source, day in sorted(days):
        anonymous = (q.source_system == source) & (q.partition_date == day) & q.item_id.is_(None)
        held.append(frame_of(conn.execute(sa.select(quarantined_feed_records).where(anonymous))))
    records = (
        pd.concat([f for f in staged if len(f)], ignore_index=True)
        if any(len(f) for f in staged)
        else pd.DataFrame(columns=list(staged_evaluations.c.keys()))
    )
    quarantined = (
        pd.concat([f for f in held if len(f)], ignore_index=True)
        if any(len(f) for f in held)
        else pd.DataFrame(columns=list(quarantined_feed_records.c.keys()))
    )
    wanted = pd.MultiIndex.from_tuples(sorted(keys), names=KEYS) if keys else None
    if wanted is not None and len(records):
        records = records[pd.MultiIndex.from_frame(records[KEYS].astype(str)).isin(wanted)]
    if wanted is not None and len(quarantined):
        item = quarantined.assign(evaluation_id=quarantine_key(quarantined))
        quarantined = quarantined[pd.MultiIndex.from_frame(item[KEYS].astype(str)).isin(wanted)]
        quarantined = quarantined.drop_duplicates(["source_system", "partition_date", "record_key"])
    return records.reset_index(drop=True), quarantined.reset_index(drop=True)
