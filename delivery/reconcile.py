"""Reconciliation: what we sent each receiver, per day, against what the receiver itself holds.

Our side is the outbox: per target and day (the partition on which a golden-case version was queued), how
many versions were queued, acknowledged, pending and dead-lettered. The receiver's side is what it says itself,
by its own published query, for one window of days at a time (:func:`reconcile_receiver`): the province's tables
read by their time column (``cd_time``) from the window's first version on, the platforms' receipts query asked
about the window's receipts. Per case the two must agree: the receiver holds exactly the newest version it
acknowledged to us. A case the receiver took in whose acknowledgement has not reached us yet is *in flight*, not a
difference; everything else is. A receiver that publishes no such query cannot be verified: the reconciliation says
so, never a pass. Nothing here asks a stand-in for what only the sandbox offers.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from connectors.targets import NOTHING, DeliveryTarget, ReadWindow
from core.warehouse import Warehouse
from schemas.warehouse import outbox

#: How long before a window's first version (its partition day or queue time, the earlier) the receiver's own time
#: column is read from: the receiver's write time and the outbox's are two systems' clocks.
READ_MARGIN = dt.timedelta(days=1)
#: The receiver check, as the reconciliation table and the mart say it.
VERIFIED, CANNOT_VERIFY = "verified", "cannot verify"
#: No version is stale before this (the receiver check leaves stale versions to ``no_stale_pending``).
EPOCH = dt.datetime(1970, 1, 1)

DAY_COLUMNS = [
    "target",
    "day",
    "case_versions",
    "acknowledged",
    "pending",
    "dead_lettered",
    "stale_pending",
    "acknowledged_cases",
    "receiver_cases",
    "in_flight",
    "differences",
]


OUTBOX_COLUMNS = ["golden_case_id", "version", "partition_date", "status", "created_at", "receipt_id"]


def outbox_rows(warehouse: Warehouse, target_name: str, since: dt.date | None = None) -> pd.DataFrame:
    """The target's outbox rows (``OUTBOX_COLUMNS``) of every entity with a version queued on ``since`` or later
    (None: every entity): all its versions, so its newest acknowledged one is known."""
    t = outbox.c
    condition = t.target == target_name
    if since is not None:
        recent = sa.select(t.golden_case_id).where((t.target == target_name) & (t.partition_date >= since))
        condition &= t.golden_case_id.in_(recent)
    frame = warehouse.read(sa.select(*(t[c] for c in OUTBOX_COLUMNS)).where(condition))
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.date
    frame["version"] = frame["version"].astype(int)
    return frame


def compare_cases(rows: pd.DataFrame, held: pd.DataFrame | None) -> pd.DataFrame:
    """One row per case either side knows of: our newest acknowledged version, the receiver's version, the day
    each belongs to, and the verdict (``agrees``, ``in_flight``, ``missing_at_receiver``, ``version_differs``,
    ``unknown_to_us``, ``duplicate_effect``)."""
    acked = rows[rows["status"] == "acknowledged"]
    ours = acked.sort_values("version").drop_duplicates("golden_case_id", keep="last")
    ours = ours.set_index("golden_case_id")[["version", "partition_date"]].rename(
        columns={"version": "our_version", "partition_date": "day"}
    )
    if held is None:
        return ours.assign(receiver_version=np.nan, duplicate_effects=0, verdict="receiver_cannot_tell").reset_index()
    theirs = held.set_index("golden_case_id").rename(columns={"version": "receiver_version"})
    cases = ours.join(theirs, how="outer")
    cases["duplicate_effects"] = cases["duplicate_effects"].fillna(0).astype(int)
    sent = rows[rows["status"] == "sent"].set_index(["golden_case_id", "version"])["partition_date"]
    receiver_key = pd.MultiIndex.from_arrays(
        [cases.index, cases["receiver_version"].fillna(-1).astype(int)], names=["golden_case_id", "version"]
    )
    in_flight_day = sent.reindex(receiver_key).to_numpy()
    in_flight = pd.notna(in_flight_day) & (cases["receiver_version"] > cases["our_version"].fillna(0)).to_numpy()
    cases["day"] = cases["day"].where(cases["day"].notna(), pd.Series(in_flight_day, index=cases.index))
    verdict = np.select(
        [
            cases["duplicate_effects"].to_numpy() > 0,
            in_flight,
            cases["receiver_version"].isna().to_numpy(),
            cases["our_version"].isna().to_numpy(),
            (cases["receiver_version"] != cases["our_version"]).to_numpy(),
        ],
        ["duplicate_effect", "in_flight", "missing_at_receiver", "unknown_to_us", "version_differs"],
        default="agrees",
    )
    return cases.assign(verdict=verdict).rename_axis("golden_case_id").reset_index()


def per_day(target_name: str, rows: pd.DataFrame, cases: pd.DataFrame, stale_before: dt.datetime) -> pd.DataFrame:
    """The reconciliation table: one row per day with our counts, the receiver's, and the differences."""
    status = pd.crosstab(rows["partition_date"], rows["status"]).reindex(
        columns=["queued", "sent", "acknowledged", "dead_lettered"], fill_value=0
    )
    pending = rows["status"].isin(["queued", "sent"])
    stale = rows[pending & (pd.to_datetime(rows["created_at"]) < stale_before)].groupby("partition_date").size()
    known = cases["verdict"] != "receiver_cannot_tell"
    by_case = cases.assign(
        acknowledged_cases=cases["our_version"].notna(),
        receiver_cases=cases["receiver_version"].notna() & known,
        in_flight=cases["verdict"] == "in_flight",
        differences=~cases["verdict"].isin(["agrees", "in_flight", "receiver_cannot_tell"]),
    )
    case_counts = by_case.groupby("day")[["acknowledged_cases", "receiver_cases", "in_flight", "differences"]].sum()
    days = sorted(set(status.index) | {d for d in case_counts.index if pd.notna(d)})
    table = pd.DataFrame(index=pd.Index(days, name="day"))
    table["case_versions"] = status.sum(axis=1)
    table["acknowledged"] = status["acknowledged"]
    table["pending"] = status["queued"] + status["sent"]
    table["dead_lettered"] = status["dead_lettered"]
    table["stale_pending"] = stale
    table = table.join(case_counts).fillna(0).astype(int)
    unplaced = by_case[by_case["day"].isna()]  # the receiver holds a case we never queued for it
    if len(unplaced):
        extra = pd.DataFrame(
            [[0, 0, 0, 0, 0, 0, int(unplaced["receiver_cases"].sum()), 0, len(unplaced)]],
            columns=table.columns,
            index=pd.Index([None], name="day"),
        )
        table = pd.concat([table, extra])
    return table.reset_index().assign(target=target_name)[DAY_COLUMNS]


def resolve_receipts(rows: pd.DataFrame, held: pd.DataFrame, known: set[str] | None = None) -> pd.DataFrame:
    """A listing by receipt (``case_no``, ``receipt``: a receiver that keys rows by its own case number and tells
    each row's batch) as the listing by golden case that :func:`compare_cases` reads, through the receipts of the
    window's outbox ``rows``. Each batch is the receipt of one outbox version; a version that wrote nothing for the
    receiver (receipt ``=…``: not yet accepted, or a change outside what the receiver keeps) is held as it stood; a
    case's version is the newest of these. A golden case held under two case numbers is a duplicate effect, as is a
    version the receiver says it applied again (``repeats``). A batch of another window's case (in ``known``, every
    receipt of the outbox; or any not in ``rows`` when ``known`` is None) is left out; one the outbox does not know
    is a case unknown to us (its case number as its id)."""
    receipts = rows.loc[rows["receipt_id"].notna(), ["receipt_id", "golden_case_id", "version", "status"]]
    receipts = receipts.rename(columns={"receipt_id": "receipt"})
    rows_held = held.merge(receipts.drop(columns="status"), on="receipt", how="left")
    foreign = rows_held["golden_case_id"].isna()
    if known is None:
        rows_held = rows_held[~foreign]
    else:
        rows_held = rows_held[~(foreign & rows_held["receipt"].astype(str).isin(known))]
        rows_held["golden_case_id"] = rows_held["golden_case_id"].fillna("?" + rows_held["case_no"].astype(str))
    nothing = receipts[receipts["receipt"].str.startswith(NOTHING) & (receipts["status"] == "acknowledged")]
    rows_held = pd.concat(
        [rows_held, nothing.assign(case_no=None)[["golden_case_id", "version", "case_no"]]], ignore_index=True
    )
    rows_held["version"] = rows_held["version"].fillna(0).astype(int)
    rows_held["repeats"] = rows_held["repeats"].fillna(0).astype(int) if "repeats" in rows_held else 0
    cases = rows_held.groupby("golden_case_id").agg(
        version=("version", "max"), numbers=("case_no", "nunique"), repeats=("repeats", "sum")
    )
    cases["duplicate_effects"] = ((cases["numbers"] - 1).clip(lower=0) + cases["repeats"]).astype(int)
    return cases.reset_index()[["golden_case_id", "version", "duplicate_effects"]]


def resolve_receipt_states(rows: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
    """The receipts query's answers (``receipt``, ``status``) as the listing by golden case that
    :func:`compare_cases` reads: per case the newest version whose receipt the platform says it accepted (or that
    had nothing for it, receipt ``=…``, and was acknowledged). A version we hold acknowledged whose receipt the
    platform rejected or does not know leaves the case at an older version or missing: a difference. Whether a
    version took effect twice a receipts query cannot say (``duplicate_effects`` 0; :class:`Listing` says so)."""
    receipts = rows.loc[rows["receipt_id"].notna(), ["receipt_id", "golden_case_id", "version", "status"]]
    accepted = set(answers.loc[answers["status"] == "accepted", "receipt"].astype(str))
    nothing = receipts["receipt_id"].str.startswith(NOTHING) & (receipts["status"] == "acknowledged")
    taken = receipts[receipts["receipt_id"].isin(accepted) | nothing]
    cases = taken.groupby("golden_case_id")["version"].max().rename("version").reset_index()
    return cases.assign(duplicate_effects=0)[["golden_case_id", "version", "duplicate_effects"]]


@dataclass
class Listing:
    """What a receiver says about one window's cases (``held``: per golden case the version in effect there and its
    duplicate effects), by which of its queries (``verified_by``), or why it could not be read (``why_not``);
    ``duplicates_known`` False where that query cannot tell a version that took effect twice."""

    held: pd.DataFrame | None = None
    verified_by: str | None = None
    why_not: str | None = None
    duplicates_known: bool = True


def written_from(rows: pd.DataFrame) -> dt.datetime:
    """From when a receiver's own time column is read for a window: a day before the earliest of its versions'
    partition days and queue times. A version is written to the receiver after both; the two are kept by different
    clocks (a pinned business date, the machine's), so the earlier of them bounds the read, less a day."""
    first_day = pd.Timestamp(min(rows["partition_date"]))
    first_queued = pd.to_datetime(rows["created_at"]).min()
    return (min(first_day, first_queued) - READ_MARGIN).to_pydatetime()


def read_window(target: DeliveryTarget, rows: pd.DataFrame, known: set[str] | None = None) -> Listing:
    """Ask ``target`` about the window whose outbox rows are ``rows``, by its own published query, and resolve the
    answer by golden case. ``known``: every receipt of the target's outbox, when the window is part of a
    reconciliation of the whole history, so a batch the outbox does not know at all is kept as a case unknown to us
    (else only the window's cases are kept)."""
    how = target.verified_by()
    if how is None:
        return Listing(why_not="it publishes no query of what it received (no listing, no receipts query)")
    if not len(rows):
        return Listing(held=pd.DataFrame(columns=["golden_case_id", "version", "duplicate_effects"]), verified_by=how)
    sent = rows["status"].isin(["sent", "acknowledged"]) & rows["receipt_id"].notna()
    window = ReadWindow(
        written_from=written_from(rows),
        receipts=tuple(rows.loc[sent, "receipt_id"].astype(str)),
    )
    try:
        answer = target.holdings(window)
    except Exception as exc:  # a receiver down is a reconciliation that could not be done, not a failed run
        return Listing(why_not=f"its query could not be read ({type(exc).__name__}: {str(exc)[:200]})")
    if answer is None:
        return Listing(why_not="it gave no answer to its query")
    if "status" in answer.columns:
        return Listing(held=resolve_receipt_states(rows, answer), verified_by=how, duplicates_known=False)
    return Listing(held=resolve_receipts(rows, answer, known), verified_by=how)


def windows(rows: pd.DataFrame, since: dt.date | None) -> list[pd.DataFrame]:
    """The windows a receiver is read in: the whole of ``rows`` for a window of recent days (``since``); for the
    whole history, one window per month, each case in the month of its newest version (all its versions with it)."""
    if since is not None or rows.empty:
        return [rows]
    month = pd.to_datetime(rows["partition_date"]).dt.to_period("M")
    newest = month.groupby(rows["golden_case_id"]).transform("max")
    return [part for _, part in rows.groupby(newest, sort=True)]


@dataclass
class Reconciled:
    """One receiver reconciled: the table per day (``DAY_COLUMNS``), every case compared, and how it was read."""

    table: pd.DataFrame
    cases: pd.DataFrame
    verified_by: str | None
    why_not: str | None = None
    duplicates_known: bool = True
    windows: int = 0
    read_seconds: float = 0.0

    @property
    def check(self) -> str:
        return VERIFIED if self.why_not is None else CANNOT_VERIFY


def reconcile_receiver(
    warehouse: Warehouse,
    target_name: str,
    target: DeliveryTarget,
    since: dt.date | None,
    stale_before: dt.datetime,
) -> Reconciled:
    """Reconcile one receiver over the days from ``since`` (None: the whole history, a month at a time), reading
    the receiver for each window only (:func:`read_window`). The table is the days from ``since`` (or all)."""
    rows = outbox_rows(warehouse, target_name, since)
    tables, compared, unknown = [], [], {}
    how, why_not, duplicates_known, spent = target.verified_by(), None, True, 0.0
    parts = windows(rows, since)
    known = set(rows["receipt_id"].dropna().astype(str)) if since is None else None  # the whole outbox's
    for part in parts:
        started = time.perf_counter()
        listing = read_window(target, part, known)
        spent += time.perf_counter() - started
        held = listing.held
        why_not = why_not or listing.why_not
        duplicates_known &= listing.duplicates_known
        if held is not None:
            ours = held["golden_case_id"].isin(part["golden_case_id"])
            for row in held[~ours].itertuples():  # unknown to us: once, whichever window read it
                unknown[row.golden_case_id] = row
            held = held[ours]
        cases = compare_cases(part, held)
        compared.append(cases)
        tables.append(per_day(target_name, part, cases, stale_before))
    if unknown:
        strangers = pd.DataFrame(
            [(r.golden_case_id, r.version, r.duplicate_effects) for r in unknown.values()],
            columns=["golden_case_id", "receiver_version", "duplicate_effects"],
        ).assign(our_version=np.nan, day=None, verdict="unknown_to_us")
        compared.append(strangers)
        extra = pd.DataFrame(
            [[target_name, None, 0, 0, 0, 0, 0, 0, len(strangers), 0, len(strangers)]], columns=DAY_COLUMNS
        )
        tables.append(extra)
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=DAY_COLUMNS)
    if len(parts) > 1 or unknown:  # a day's versions may sit in several windows (a case goes with its newest)
        key = table["day"].astype(object).where(table["day"].notna(), "")
        table = table.drop(columns=["target", "day"]).groupby(key, sort=True).sum().reset_index(names="day")
        table["day"] = table["day"].astype(object).where(table["day"] != "", None)
        table = table.assign(target=target_name)[DAY_COLUMNS]
    if since is not None:
        table = table[pd.to_datetime(table["day"]) >= pd.Timestamp(since)]
    cases = pd.concat(compared, ignore_index=True) if compared else pd.DataFrame()
    if why_not is not None:
        how = None
    return Reconciled(
        table=table.reset_index(drop=True),
        cases=cases,
        verified_by=how,
        why_not=why_not,
        duplicates_known=duplicates_known,
        windows=len(parts),
        read_seconds=round(spent, 3),
    )


def receiver_counts(warehouse: Warehouse, target_name: str, target: DeliveryTarget) -> dict:
    """What a receiver says it holds over the whole history, read a month at a time by its own query, as totals:
    ``received_cases`` and ``duplicate_effects`` (None where its query cannot tell), with ``verified_by``; or
    ``cannot_verify`` (why) where it cannot be read."""
    found = reconcile_receiver(warehouse, target_name, target, None, EPOCH)
    if found.why_not is not None:
        return {"cannot_verify": found.why_not}
    cases = found.cases
    held = cases["receiver_version"].notna() if len(cases) else pd.Series(dtype=bool)
    duplicates = int(cases["duplicate_effects"].fillna(0).sum()) if len(cases) else 0
    return {
        "received_cases": int(held.sum()),
        "duplicate_effects": duplicates if found.duplicates_known else None,
        "verified_by": found.verified_by,
    }
