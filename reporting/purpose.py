"""The purpose binding, checked afterwards: every licence read names the case it is for, and that case should reach
the bridge from the caller's system (or be a national 办件编号 the bridge has seen) soon after. A read whose case
never appears within the window is how misuse shows: a department browsing holders under invented case numbers.

Only reads that were answered count (``outcome = allowed``); refusals handed out nothing and are in the access log.
A read is judged once its window has closed, so the mart never flags a read whose case may still arrive.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from schemas.warehouse import golden_cases, licence_access_log, mart_unbound_reads, staged_cases

DAYS_VARIABLE = "BRIDGE_UNBOUND_READ_DAYS"
DEFAULT_DAYS = 7


def first_seen() -> sa.Subquery:
    """Each case number the bridge has staged (department records and re-entries), with the first day it did."""
    seen = sa.union_all(
        sa.select(staged_cases.c.case_no, staged_cases.c.partition_date.label("day")),
        sa.select(golden_cases.c.case_no, golden_cases.c.first_partition.label("day")),
    ).subquery()
    return (
        sa.select(seen.c.case_no, sa.func.min(seen.c.day).label("first_day"))
        .where(seen.c.case_no.is_not(None))
        .group_by(seen.c.case_no)
        .subquery()
    )


def unbound_reads(conn: sa.Connection, today: dt.date, days: int) -> pd.DataFrame:
    """Rows of ``mart_unbound_reads``: allowed reads made on or before ``today - days`` whose case number no staged
    record carried by ``days`` days after the read."""
    log, seen = licence_access_log.c, first_seen()
    cutoff = dt.datetime.combine(today - dt.timedelta(days=days), dt.time()) + dt.timedelta(days=1)
    reads = pd.DataFrame(
        conn.execute(
            sa.select(
                log.id.label("read_id"),
                log.at.label("read_at"),
                log.caller,
                log.purpose,
                log.action,
                log.case_no,
                log.licence_key,
                seen.c.first_day.label("case_first_seen"),
            )
            .outerjoin(seen, seen.c.case_no == log.case_no)
            .where(log.outcome == "allowed", log.at < cutoff)
        )
        .mappings()
        .all(),
        columns=[c.name for c in mart_unbound_reads.c if c.name not in ("read_day", "days_waited")],
    )
    reads["read_at"] = pd.to_datetime(reads["read_at"])
    read_day = reads["read_at"].dt.normalize()
    first = pd.to_datetime(reads["case_first_seen"])
    unbound = reads[first.isna() | (first > read_day + pd.Timedelta(days=days))].copy()
    unbound["read_day"] = unbound["read_at"].dt.date
    unbound["days_waited"] = (pd.Timestamp(today) - unbound["read_at"].dt.normalize()).dt.days.astype("int64")
    seen_on = pd.to_datetime(unbound["case_first_seen"])
    unbound["case_first_seen"] = seen_on.dt.date.astype(object).where(seen_on.notna(), None)
    return unbound[[c.name for c in mart_unbound_reads.c]].sort_values("read_id").reset_index(drop=True)
