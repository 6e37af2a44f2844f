"""Reconciliation: what we sent each receiver, per day, against what the receiver itself holds.

Our side is the outbox: per target and day (the partition on which a golden-case version was queued), how
many versions were queued, acknowledged, pending and dead-lettered. The receiver's side is its own listing
of cases and the version in effect for each. Per case the two must agree: the receiver holds exactly the
newest version it acknowledged to us. A case the receiver took in whose acknowledgement has not reached us
yet is *in flight*, not a difference; everything else is.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.warehouse import Warehouse
from schemas.warehouse import outbox

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


def outbox_rows(warehouse: Warehouse, target_name: str) -> pd.DataFrame:
    t = outbox.c
    frame = warehouse.read(
        sa.select(t.golden_case_id, t.version, t.partition_date, t.status, t.created_at).where(t.target == target_name)
    )
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


def resolve_receipts(warehouse: Warehouse, target_name: str, held: pd.DataFrame) -> pd.DataFrame:
    """A listing by receipt (``case_no``, ``receipt``: a receiver that keys rows by its own case number and tells
    each row's batch) as the listing by golden case that :func:`compare_cases` reads. Each batch is the receipt of
    one outbox version; a version that wrote nothing for the receiver (receipt ``=…``: not yet accepted, or a change
    outside what the receiver keeps) is held as it stood; a case's version is the newest of these. A golden case
    held under two case numbers is a duplicate effect, as is a version the receiver says it applied again
    (``repeats``, where its listing has them); a batch the outbox does not know is a case unknown to us
    (its case number as its id)."""
    if "receipt" not in held.columns:
        return held
    t = outbox.c
    receipts = warehouse.read(
        sa.select(t.receipt_id.label("receipt"), t.golden_case_id, t.version, t.status).where(
            (t.target == target_name) & t.receipt_id.is_not(None)
        )
    )
    rows = held.merge(receipts.drop(columns="status"), on="receipt", how="left")
    rows["golden_case_id"] = rows["golden_case_id"].fillna("?" + rows["case_no"].astype(str))
    nothing = receipts[receipts["receipt"].str.startswith("=") & (receipts["status"] == "acknowledged")]
    rows = pd.concat([rows, nothing.assign(case_no=None)[["golden_case_id", "version", "case_no"]]], ignore_index=True)
    rows["version"] = rows["version"].fillna(0).astype(int)
    rows["repeats"] = rows["repeats"].fillna(0).astype(int) if "repeats" in rows else 0
    cases = rows.groupby("golden_case_id").agg(
        version=("version", "max"), numbers=("case_no", "nunique"), repeats=("repeats", "sum")
    )
    cases["duplicate_effects"] = ((cases["numbers"] - 1).clip(lower=0) + cases["repeats"]).astype(int)
    return cases.reset_index()[["golden_case_id", "version", "duplicate_effects"]]


def receiver_counts(warehouse: Warehouse, target_name: str, target) -> dict[str, int] | None:
    """What a receiver says it holds, as totals (``received_cases``, ``duplicate_effects``): from its listing by
    receipt where it gives one (:func:`resolve_receipts`), else its own counts."""
    held = target.holdings()
    if held is not None and "receipt" in held.columns:
        cases = resolve_receipts(warehouse, target_name, held)
        return {"received_cases": len(cases), "duplicate_effects": int(cases["duplicate_effects"].sum())}
    return target.counts()
