"""Month-scoped refresh of the marts counted over the golden cases by month (``mart_daily_volume`` by day of
submission, ``mart_channel_monthly`` by month of submission or acceptance): after a load only the months it touched
are rebuilt, with a delete and an insert of those months' rows in one transaction, the same rows a full rebuild
writes.

Which months a load touched is found in the warehouse, not guessed from the load's days: ``refresh_marks`` keeps,
per mart and golden case, what the mart last counted of the case (its content hash and record count) and the month
it fell in. A case whose content hash or record count differs (changed by the load), that is new, or that is gone
touches its month now and the month it was counted in before: a late correction that moves a case from October to
September rebuilds both. Finding them reads two narrow columns per case by key (no mart arithmetic over the
history, no month computed for an unchanged case); the rebuild reads the touched months' cases only. A mart without
marks (the first refresh, or its definitions changed: ``mart`` carries their fingerprint) is rebuilt whole, as it
is when asked to (``full``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from core.warehouse import frame_of, in_lists, insert_frame
from schemas.warehouse import golden_cases, refresh_marks


@dataclass(frozen=True)
class Refreshed:
    """What a refresh did: ``months`` rebuilt (all of them on a full rebuild), the rows written, whether whole."""

    full: bool
    months: tuple[str, ...]
    rows_written: int
    cases_changed: int

    def describe(self) -> str:
        if self.full:
            return f"full rebuild ({len(self.months)} months)" if self.months else "full rebuild"
        if not self.months and self.cases_changed:
            return f"{self.cases_changed} case(s) recomputed"
        if not self.months:
            return "nothing changed: no month rebuilt"
        return f"{len(self.months)} month(s) rebuilt: {', '.join(self.months)} ({self.cases_changed} cases changed)"


def count_where(condition: sa.ColumnElement) -> sa.ColumnElement:
    """How many rows of a group meet ``condition`` (0, not NULL, when none)."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def month_of(column: sa.ColumnElement) -> sa.ColumnElement:
    """``YYYY-MM`` of a timestamp or date column, on SQLite and PostgreSQL alike."""
    return sa.func.substr(sa.cast(column, sa.String), 1, 7)


def mart_key(table: sa.Table, *definition: object) -> str:
    """The marks' name for a mart built by ``definition`` (anything whose text changes when its rules do)."""
    digest = hashlib.sha256(repr(definition).encode()).hexdigest()[:16]
    return f"{table.name}:{digest}"


def starts_over(conn: sa.Connection, key: str, full: bool) -> bool:
    """Whether the mart under ``key`` is built whole: asked (``full``), or no marks under ``key`` (the first refresh,
    or its rules changed). If so, its marks under any rules are deleted."""
    m = refresh_marks.c
    if not full and conn.execute(sa.select(sa.exists().where(m.mart == key))).scalar_one():
        return False
    prefix = key.split(":", 1)[0] + ":"
    conn.execute(refresh_marks.delete().where(m.mart.startswith(prefix, autoescape=True)))
    return True


def against_marks(conn: sa.Connection, key: str) -> tuple[list[sa.Row], list[sa.Row]]:
    """(changed, gone), each (golden_case_id, month counted in): the golden cases whose content hash or record
    count differ from the marks under ``key``, or that have none (new: month NULL), then the marked cases no longer
    golden. Two narrow columns per case compared by key in SQL: only the differences come back."""
    g, m = golden_cases.c, refresh_marks.c
    mine = sa.select(m.golden_case_id, m.content_hash, m.record_count, m.month).where(m.mart == key).subquery()
    changed = conn.execute(
        sa.select(g.golden_case_id, mine.c.month)
        .select_from(golden_cases.outerjoin(mine, mine.c.golden_case_id == g.golden_case_id))
        .where(
            mine.c.golden_case_id.is_(None)
            | (mine.c.content_hash != g.content_hash)
            | (mine.c.record_count != g.record_count)
        )
    ).all()
    gone = conn.execute(
        sa.select(mine.c.golden_case_id, mine.c.month).where(
            ~sa.exists().where(g.golden_case_id == mine.c.golden_case_id)
        )
    ).all()
    return changed, gone


def refresh_by_month(
    conn: sa.Connection,
    table: sa.Table,
    select: sa.Select,
    *,
    key: str,
    basis: sa.ColumnElement,
    table_month: sa.ColumnElement,
    full: bool = False,
) -> Refreshed:
    """Bring ``table`` (rows of ``select`` over the golden cases, grouped within the month of ``basis``) up to date
    inside ``conn``'s transaction: the touched months (see the module) or, with ``full`` or no marks, everything.
    ``table_month`` is the month of a row of ``table``. Idempotent: a second refresh with nothing changed rebuilds
    no month, and any order of refreshes ends in the rows of a full rebuild."""
    g, m = golden_cases.c, refresh_marks.c
    marks = ["mart", "golden_case_id", "content_hash", "record_count", "month"]
    if starts_over(conn, key, full):
        conn.execute(table.delete())
        written = _insert(conn, table, select)
        conn.execute(
            refresh_marks.insert().from_select(
                marks, sa.select(sa.literal(key), g.golden_case_id, g.content_hash, g.record_count, month_of(basis))
            )
        )
        months = conn.execute(sa.select(table_month).distinct()).scalars().all()
        return Refreshed(True, tuple(sorted(str(x) for x in months if x)), written, 0)

    # the cases changed or new (no month computed for an unchanged case), then those the mart counted that are gone
    changed, gone = against_marks(conn, key)
    ids = [row[0] for row in changed]
    months = {row[1] for row in [*changed, *gone] if row[1]}
    for part in in_lists(ids):
        now = sa.select(month_of(basis)).where(g.golden_case_id.in_(part)).distinct()
        months |= {month for month in conn.execute(now).scalars() if month}
    months_rebuilt = sorted(months)
    written = 0
    if months_rebuilt:
        conn.execute(table.delete().where(table_month.in_(months_rebuilt)))
        written = _insert(conn, table, select.where(month_of(basis).in_(months_rebuilt)))
    ids += [row[0] for row in gone]
    for part in in_lists(ids):
        conn.execute(refresh_marks.delete().where((m.mart == key) & m.golden_case_id.in_(part)))
        conn.execute(
            refresh_marks.insert().from_select(
                marks,
                sa.select(sa.literal(key), g.golden_case_id, g.content_hash, g.record_count, month_of(basis)).where(
                    g.golden_case_id.in_(part)
                ),
            )
        )
    return Refreshed(False, tuple(months_rebuilt), written, len(ids))


def _insert(conn: sa.Connection, table: sa.Table, select: sa.Select) -> int:
    result = conn.execute(table.insert().from_select([c.name for c in select.selected_columns], select))
    return max(result.rowcount or 0, 0)


@dataclass(frozen=True)
class CaseChanges:
    """Which golden cases a mart kept per case must compute again: ``full`` (no marks, its rules changed, or asked
    to: every case), else ``changed`` (new, changed, or in ``always``) and ``gone`` (counted before, no longer a
    golden case)."""

    full: bool
    changed: tuple[str, ...]
    gone: tuple[str, ...]
    remark: tuple[str, ...] = ()  # of ``changed``, those whose marks change (not those computed again for the day)


def digest_of(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """A 16-hex-digit digest per row of ``columns`` (vectorised: pandas' row hash, no per-row Python)."""
    hashed = pd.util.hash_pandas_object(frame[list(columns)].astype("string"), index=False)
    return pd.Series(hashed.to_numpy(), index=frame.index).map("{:016x}".format)


def group_digests(frame: pd.DataFrame, columns: Sequence[str], by: str) -> pd.Series:
    """One digest per value of ``by`` over its rows' ``columns``, whatever their order (row hashes summed as
    uint64, which wraps), as text: a case's pauses, a holder's licences."""
    rows = pd.util.hash_pandas_object(frame[list(columns)].astype("string"), index=False)
    return rows.groupby(frame[by].to_numpy()).sum().astype(str)


def changed_cases(
    conn: sa.Connection, key: str, extras: pd.DataFrame, *, always: Sequence[str] = (), full: bool = False
) -> CaseChanges:
    """Which golden cases the mart under ``key`` must compute again, found in the warehouse rather than by reading
    every case: those whose content hash or record count differ from what the mart last counted, that are new or
    gone (two narrow columns per case compared by key in SQL, only the differences returned), those whose
    ``extras`` differ (golden_case_id, digest: a digest of the case's inputs beyond its golden row, such as its
    pauses, given only for the cases that have any), and ``always`` (cases whose rows depend on the day).
    Recorded by :func:`mark_changed`."""
    g, m = golden_cases.c, refresh_marks.c
    if starts_over(conn, key, full):
        return CaseChanges(True, tuple(conn.execute(sa.select(g.golden_case_id)).scalars()), ())
    differ, vanished = against_marks(conn, key)
    gone = tuple(row[0] for row in vanished)
    # extras: what the marks hold (cases that had some) against what the cases have now
    had = frame_of(
        conn.execute(sa.select(m.golden_case_id, m.extra.label("was")).where((m.mart == key) & m.extra.is_not(None)))
    )
    if had.empty:
        had = pd.DataFrame({"golden_case_id": pd.Series(dtype=object), "was": pd.Series(dtype=object)})
    both = extras.merge(had, on="golden_case_id", how="outer")
    moved = both.loc[
        both["digest"].astype("string").fillna("") != both["was"].astype("string").fillna(""), "golden_case_id"
    ]
    deleted = set(gone)  # a gone case whose pauses went with it is deleted, not computed again
    changed = dict.fromkeys(i for i in [*(row[0] for row in differ), *moved.tolist()] if i not in deleted)
    remark = tuple(changed)
    changed.update(dict.fromkeys(i for i in always if i not in deleted))
    return CaseChanges(False, tuple(changed), gone, remark)


def mark_changed(conn: sa.Connection, key: str, extras: pd.DataFrame | None, changes: CaseChanges) -> None:
    """Record what the mart under ``key`` now counts of the cases :func:`changed_cases` found changed: their
    content hash and record count (copied in SQL) and their ``extras``. Cases computed again only because their
    rows depend on the day keep their marks."""
    g, m = golden_cases.c, refresh_marks.c
    ids = list(changes.changed if changes.full else changes.remark)
    heads = sa.select(sa.literal(key), g.golden_case_id, g.content_hash, g.record_count)
    columns = ["mart", "golden_case_id", "content_hash", "record_count"]
    if changes.full:
        conn.execute(refresh_marks.insert().from_select(columns, heads))
    else:
        stale = [*ids, *changes.gone]
        for part in in_lists(stale):
            conn.execute(refresh_marks.delete().where((m.mart == key) & m.golden_case_id.in_(part)))
        for part in in_lists(ids):
            conn.execute(refresh_marks.insert().from_select(columns, heads.where(g.golden_case_id.in_(part))))
    if extras is None:
        return
    wanted = extras if changes.full else extras[extras["golden_case_id"].isin(ids)]
    if len(wanted):
        conn.execute(
            refresh_marks.update()
            .where((m.mart == key) & (m.golden_case_id == sa.bindparam("g")))
            .values(extra=sa.bindparam("e")),
            [{"g": str(i), "e": str(d)} for i, d in zip(wanted["golden_case_id"], wanted["digest"], strict=True)],
        )


def moved_in_sql(
    conn: sa.Connection,
    key: str,
    source: sa.FromClause,
    item: sa.ColumnElement,
    value: sa.ColumnElement,
    extra: sa.ColumnElement | None = None,
) -> list[str]:
    """The items of ``source`` (``item``: a licence key, a code) kept as marks under ``key`` (``value`` as the
    mark's content_hash, ``extra`` as its extra), compared with their marks in SQL so that only the differences come
    back (the database goes through every item; Python sees only the differences): the items new, changed or gone,
    by key. The marks are brought up to date."""
    m = refresh_marks.c
    mine = sa.select(m.golden_case_id, m.content_hash, m.extra).where(m.mart == key).subquery()
    differs = mine.c.golden_case_id.is_(None) | (mine.c.content_hash != value)
    if extra is not None:
        differs |= sa.func.coalesce(mine.c.extra, "") != extra
    shown = extra if extra is not None else sa.null()
    changed = frame_of(
        conn.execute(
            sa.select(item.label("item"), value.label("value"), shown.label("extra"))
            .select_from(source.outerjoin(mine, mine.c.golden_case_id == item))
            .where(differs)
        )
    )
    gone = conn.execute(
        sa.select(mine.c.golden_case_id).where(~sa.exists().where(item == mine.c.golden_case_id))
    ).scalars()
    stale = sorted({*changed["item"].astype(str), *gone})
    for part in in_lists(stale):
        conn.execute(refresh_marks.delete().where((m.mart == key) & m.golden_case_id.in_(part)))
    if len(changed):
        marks = {"golden_case_id": changed["item"].astype(str), "content_hash": changed["value"].astype(str)}
        insert_frame(conn, refresh_marks, pd.DataFrame(marks).assign(mart=key, record_count=0, extra=changed["extra"]))
    return stale


def moved_marks(conn: sa.Connection, key: str, now: pd.DataFrame) -> pd.DataFrame:
    """Items kept as marks under ``key`` (golden_case_id: a licence key, a code, a staged day's stamp; content_hash:
    what it was) against ``now`` (golden_case_id, digest): the rows that differ, new (``was`` NA), changed, or
    gone (``digest`` NA), compared whole; the marks brought up to date."""
    m = refresh_marks.c
    was = frame_of(conn.execute(sa.select(m.golden_case_id, m.content_hash.label("was")).where(m.mart == key)))
    if was.empty:
        was = pd.DataFrame({"golden_case_id": pd.Series(dtype=object), "was": pd.Series(dtype=object)})
    both = now.merge(was, on="golden_case_id", how="outer")
    moved = both[both["digest"].astype("string").fillna("") != both["was"].astype("string").fillna("")]
    for part in in_lists(moved["golden_case_id"].astype(str).tolist()):
        conn.execute(refresh_marks.delete().where((m.mart == key) & m.golden_case_id.in_(part)))
    fresh = moved[moved["digest"].notna()]
    marks = {"golden_case_id": fresh["golden_case_id"].to_numpy(), "content_hash": fresh["digest"].to_numpy()}
    insert_frame(conn, refresh_marks, pd.DataFrame(marks).assign(mart=key, record_count=0))
    return moved
