"""The purpose binding, checked afterwards: every licence read names the case it is for, that case should reach the
bridge from the caller's system (or be a national 办件编号 the bridge has seen) soon after, and the holder read
should be a party of it (its applicant, or the holder of a licence it produced: ``case_parties``). A read whose
case never appears within the window, or whose holder is nobody in that case, is how misuse shows: a department
browsing holders under invented case numbers, or under one real case number cited for everyone.

The API refuses a non-party's read when the case is already known (licensing/parties.py); this mart catches the
reads answered while it was not. Holders are compared as the audit keeps them, masked (region and last four of a
身份证号): a read of a non-party who shares both with a party of the case is not flagged here, though the API,
which compares whole codes, refuses it once the case is known.

Only reads that were answered count (``outcome = allowed``); refusals handed out nothing and are in the access log.
A read is judged once its window has closed, so the mart never flags a read whose case may still arrive.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.warehouse import in_lists
from schemas.identifiers import mask_code_series
from schemas.warehouse import (
    case_parties,
    golden_cases,
    holder_codes,
    licence_access_log,
    mart_unbound_reads,
    staged_cases,
)

DAYS_VARIABLE = "BRIDGE_UNBOUND_READ_DAYS"
DEFAULT_DAYS = 7
NO_CASE, LATE_CASE, NOT_A_PARTY = "no_case", "late_case", "not_a_party"


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


def party_codes(conn: sa.Connection, case_nos: list[str]) -> pd.DataFrame:
    """case_no, party_code for these numbers: each party as the case wrote it and every code the repository
    holds for the same holder (a party recorded under a mistyped code is read under its own)."""
    p, hc = case_parties.c, holder_codes.c
    same = holder_codes.alias("same_holder")
    found = []
    for chunk in in_lists(sorted(set(case_nos))):
        written = sa.select(p.case_no, p.party_code).where(p.case_no.in_(chunk))
        held = (
            sa.select(p.case_no, same.c.code)
            .select_from(case_parties.join(holder_codes, hc.code == p.party_code))
            .join(same, same.c.holder_id == hc.holder_id)
            .where(p.case_no.in_(chunk))
        )
        found += conn.execute(sa.union(written, held)).all()
    return pd.DataFrame(found, columns=["case_no", "party_code"], dtype="string")


def not_parties(reads: pd.DataFrame, parties: pd.DataFrame) -> pd.Series:
    """Whether each read (case_no, holder as logged) is about a holder who is not a party of its case: False
    where its case has no party recorded or the read names no holder. Compared masked on both sides."""
    known = reads["case_no"].isin(parties["case_no"]) & reads["holder"].notna()
    pairs = pd.MultiIndex.from_arrays([parties["case_no"], mask_code_series(parties["party_code"])])
    asked = pd.MultiIndex.from_arrays([reads["case_no"], mask_code_series(reads["holder"].astype("string"))])
    return pd.Series(known.to_numpy() & ~asked.isin(pairs), index=reads.index)


def unbound_reads(conn: sa.Connection, today: dt.date, days: int) -> pd.DataFrame:
    """Rows of ``mart_unbound_reads``: allowed reads made on or before ``today - days`` whose case number no staged
    record carried by ``days`` days after the read (``no_case``, ``late_case``), or whose holder is not a party
    of the case (``not_a_party``, which a late case's read may be too: that is the finding given)."""
    log, seen = licence_access_log.c, first_seen()
    cutoff = dt.datetime.combine(today - dt.timedelta(days=days), dt.time()) + dt.timedelta(days=1)
    judged = ("finding", "read_day", "days_waited")  # and the holder, read to judge, not kept
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
                log.holder,
            )
            .outerjoin(seen, seen.c.case_no == log.case_no)
            .where(log.outcome == "allowed", log.at < cutoff)
        )
        .mappings()
        .all(),
        columns=[*(c.name for c in mart_unbound_reads.c if c.name not in judged), "holder"],
    )
    reads["read_at"] = pd.to_datetime(reads["read_at"])
    read_day = reads["read_at"].dt.normalize()
    first = pd.to_datetime(reads["case_first_seen"])
    stranger = not_parties(reads, party_codes(conn, reads["case_no"].dropna().tolist()))
    reads["finding"] = np.select(
        [stranger, first.isna(), first > read_day + pd.Timedelta(days=days)], [NOT_A_PARTY, NO_CASE, LATE_CASE], ""
    )
    unbound = reads[reads["finding"] != ""].copy()
    unbound["read_day"] = unbound["read_at"].dt.date
    unbound["days_waited"] = (pd.Timestamp(today) - unbound["read_at"].dt.normalize()).dt.days.astype("int64")
    seen_on = pd.to_datetime(unbound["case_first_seen"])
    unbound["case_first_seen"] = seen_on.dt.date.astype(object).where(seen_on.notna(), None)
    return unbound[[c.name for c in mart_unbound_reads.c]].sort_values("read_id").reset_index(drop=True)
