"""Draining the outbox toward one receiver and following its acknowledgements.

At-least-once sending plus a stable idempotency key per (target, golden case, version) gives exactly-once
effect: each batch's outcome is committed before the next batch is sent, so a crash re-sends at most one
batch, under the same keys, which the receivers recognise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from functools import cache

import numpy as np
import pandas as pd
import sqlalchemy as sa

from connectors.targets import Delivery, DeliveryTarget, OutboxMessage
from core import clock
from core.vocabulary import LICENCE_RECEIVERS, OUTBOX_STATUSES
from core.warehouse import Warehouse, insert_frame
from schemas.case import CODES_DIR
from schemas.warehouse import dead_letters, golden_cases, licences, outbox

#: Versions read, prepared and recorded together: preparing a receiver's rows costs mostly per batch, not per version
#: (a province batch of 200 took 7.5 s CPU per 4,000 versions, of 1,000: 1.65 s), and a province transaction holds
#: 1,000 (``ONE_NETWORK`` batch_size).
SEND_BATCH = 1000
STATUSES = OUTBOX_STATUSES
LICENCE_TARGETS = LICENCE_RECEIVERS  # the outbox's entity id is a licence key for these


@cache
def clerk_messages() -> dict[tuple[str, str], str]:
    table = pd.read_csv(CODES_DIR / "receiver_errors.csv", dtype=str)
    return {(r.target, r.code): r.clerk_message for r in table.itertuples()}


def queue(
    conn: sa.Connection,
    targets: tuple[str, ...],
    entity_ids: pd.Series,
    versions: pd.Series,
    payloads: list[str],
    partition: dt.date,
    now: dt.datetime,
) -> int:
    """One outbox row per target for every new version of an entity (a golden case, a licence), written in the
    caller's transaction; a key already queued is left alone (re-runs queue nothing twice)."""
    if not len(entity_ids):
        return 0
    hashes = [hashlib.sha256(p.encode()).hexdigest() for p in payloads]
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "target": target,
                    "idempotency_key": target + ":" + entity_ids.to_numpy() + ":v" + versions.astype(str).to_numpy(),
                    "golden_case_id": entity_ids.to_numpy(),
                    "version": versions.astype(int).to_numpy(),
                    "partition_date": partition,
                    "payload": payloads,
                    "payload_hash": hashes,
                    "status": "queued",
                    "attempts": 0,
                    "created_at": now,
                }
            )
            for target in targets
        ],
        ignore_index=True,
    )
    keys = frame["idempotency_key"].tolist()
    existing = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        existing |= {
            r[0]
            for r in conn.execute(
                # by the key's index (target first): the day's keys, not a scan of every version ever queued
                sa.select(outbox.c.idempotency_key).where(
                    outbox.c.target.in_(targets) & outbox.c.idempotency_key.in_(chunk)
                )
            )
        }
    return insert_frame(conn, outbox, frame[~frame["idempotency_key"].isin(existing)])


def clerk_message(target: str, code: str | None, reason: str | None) -> str:
    return clerk_messages().get(
        (target, code or ""),
        f"接收方拒收（{code or '无代码'}：{reason or '无说明'}）：请核对后在承办部门系统中修正。",
    )


def _messages(rows: pd.DataFrame, *, with_payload: bool = True) -> list[OutboxMessage]:
    """Outbox rows as messages; following up on sent versions needs only keys and receipts, not payloads."""
    return [
        OutboxMessage(
            r.idempotency_key,
            r.golden_case_id,
            int(r.version),
            json.loads(r.payload) if with_payload else {},
            r.payload_hash,
            r.receipt_id if isinstance(r.receipt_id, str) else None,
        )
        for r in rows.itertuples()
    ]


def _record(conn: sa.Connection, target: str, rows: pd.DataFrame, deliveries: list[Delivery]) -> dict[str, int]:
    """Write each delivery's outcome to the outbox (and dead letters) inside the caller's transaction."""
    if not deliveries:
        return {"sent": 0, "acknowledged": 0, "dead_lettered": 0, "failed": 0}
    now = clock.now()  # the project's clock, as the follow-up's backoff reads sent_at
    answers = pd.DataFrame(
        [(d.idempotency_key, d.outcome, d.receipt_id, d.code, d.reason) for d in deliveries],
        columns=["idempotency_key", "outcome", "receipt_id", "code", "reason"],
    )
    answers = answers.drop_duplicates("idempotency_key", keep="last")
    frame = answers.merge(
        rows[["idempotency_key", "golden_case_id", "version", "receipt_id", "sent_at"]],
        on="idempotency_key",
        suffixes=("", "_before"),
        validate="one_to_one",
    )
    outcome = frame["outcome"].map({"sent": "sent", "acknowledged": "acknowledged", "rejected": "dead_lettered"})
    frame["status"] = outcome.fillna("queued")  # failed (or no answer): queued again for the next run
    frame["receipt"] = frame["receipt_id"].where(frame["receipt_id"].notna(), frame["receipt_id_before"])
    answered = frame["status"].isin(["acknowledged", "dead_lettered"])
    frame["sent_at"] = np.where(
        frame["status"] == "sent",
        now,
        np.where(answered, pd.to_datetime(frame["sent_at"]).fillna(now).astype(object), None),
    )
    frame["acked_at"] = np.where(answered, now, None)
    frame["error"] = np.where(
        frame["status"] == "dead_lettered",
        frame["code"].fillna("").astype(str) + ": " + frame["reason"].fillna("").astype(str),
        np.where(frame["status"] == "queued", frame["reason"], None),
    )
    frame["bump"] = frame["status"].isin(["sent", "queued"]).astype(int)
    updates = frame.rename(columns={"idempotency_key": "k"})[
        ["k", "receipt", "status", "sent_at", "acked_at", "error", "bump"]
    ]
    t = outbox.c
    conn.execute(
        outbox.update()
        .where((t.target == target) & (t.idempotency_key == sa.bindparam("k")))
        .values(
            status=sa.bindparam("status"),
            receipt_id=sa.bindparam("receipt"),
            sent_at=sa.bindparam("sent_at"),
            acked_at=sa.bindparam("acked_at"),
            last_error=sa.bindparam("error"),
            attempts=t.attempts + sa.bindparam("bump"),
        ),
        _records(updates),
    )
    acknowledged = frame[frame["status"] == "acknowledged"]
    if len(acknowledged):  # a later version of the case got through: the earlier rejection has been dealt with
        d = dead_letters.c
        conn.execute(
            dead_letters.update()
            .where(
                (d.target == target)
                & (d.golden_case_id == sa.bindparam("g"))
                & (d.version < sa.bindparam("v"))
                & d.closed_at.is_(None)
            )
            .values(closed_at=now),
            _records(pd.DataFrame({"g": acknowledged["golden_case_id"], "v": acknowledged["version"].astype(int)})),
        )
    rejected = frame[frame["status"] == "dead_lettered"]
    if len(rejected):
        conn.execute(
            dead_letters.delete().where(
                (dead_letters.c.target == target)
                & dead_letters.c.idempotency_key.in_(rejected["idempotency_key"].tolist())
            )
        )
        letters = pd.DataFrame(
            {
                "target": target,
                "idempotency_key": rejected["idempotency_key"],
                "golden_case_id": rejected["golden_case_id"],
                "version": rejected["version"].astype(int),
                "reason_code": rejected["code"],
                "target_reason": rejected["reason"],
                "clerk_message": [
                    clerk_message(target, c, r) for c, r in zip(rejected["code"], rejected["reason"], strict=True)
                ],
                "created_at": now,
            }
        )
        insert_frame(conn, dead_letters, letters)
    counts = frame["outcome"].replace({"rejected": "dead_lettered", "pending": "failed"}).value_counts()
    return {key: int(counts.get(key, 0)) for key in ("sent", "acknowledged", "dead_lettered", "failed")}


def _records(frame: pd.DataFrame) -> list[dict]:
    """Parameter rows for executemany: NaN and NaT become NULL, numpy scalars plain Python."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


Days = tuple[dt.date, dt.date]


def drain(warehouse: Warehouse, target_name: str, target: DeliveryTarget, days: Days | None = None) -> dict:
    """Send queued versions (of the days from first to last, or all), oldest first, one batch per transaction;
    then follow up on sent ones."""
    totals = {"sent": 0, "acknowledged": 0, "dead_lettered": 0, "failed": 0}
    condition = (outbox.c.target == target_name) & (outbox.c.status == "queued")
    if days is not None:
        condition &= outbox.c.partition_date.between(*days)
    queued = warehouse.read(
        sa.select(outbox).where(condition).order_by(outbox.c.created_at, outbox.c.version, outbox.c.idempotency_key)
    )
    for start in range(0, len(queued), SEND_BATCH):
        rows = queued.iloc[start : start + SEND_BATCH]
        deliveries = target.send(_messages(rows))
        recorded = warehouse.transaction(
            lambda conn, rows=rows, deliveries=deliveries: _record(conn, target_name, rows, deliveries), "outbox"
        )
        for key, value in recorded.items():
            totals[key] += value
        if len(deliveries) < len(rows):
            break  # the circuit breaker opened: the receiver is down, the rest waits for the next run
    for key, value in follow_up(warehouse, target_name, target, days).items():
        totals[key] = totals.get(key, 0) + value
    return totals


def follow_up(warehouse: Warehouse, target_name: str, target: DeliveryTarget, days: Days | None = None) -> dict:
    condition = (outbox.c.target == target_name) & (outbox.c.status == "sent")
    if days is not None:
        condition &= outbox.c.partition_date.between(*days)
    t = outbox.c
    columns = (t.idempotency_key, t.golden_case_id, t.version, t.payload_hash, t.receipt_id, t.sent_at)
    sent = warehouse.read(sa.select(*columns).where(condition))
    if sent.empty:
        return {}
    answers = [
        d for d in target.follow_up(_messages(sent, with_payload=False)) if d.outcome in ("acknowledged", "rejected")
    ]
    counts = warehouse.transaction(lambda conn: _record(conn, target_name, sent, answers), "outbox")
    return {"acknowledged_later": counts["acknowledged"], "dead_lettered_later": counts["dead_lettered"]}


def status_counts(warehouse: Warehouse) -> pd.DataFrame:
    """Per target: golden-case versions, acknowledged, pending (queued + sent), dead-lettered."""
    frame = warehouse.read(
        sa.select(
            outbox.c.target,
            outbox.c.status,
            sa.func.count().label("n"),
            sa.func.count(sa.distinct(outbox.c.golden_case_id)).label("cases"),
        ).group_by(outbox.c.target, outbox.c.status)
    )
    table = frame.pivot_table(index="target", columns="status", values="n", aggfunc="sum", fill_value=0)
    table = table.reindex(columns=["queued", "sent", "acknowledged", "dead_lettered"], fill_value=0)
    result = pd.DataFrame(
        {
            "case_versions": table.sum(axis=1),
            "acknowledged": table["acknowledged"],
            "pending": table["queued"] + table["sent"],
            "dead_lettered": table["dead_lettered"],
        }
    )
    return result.astype(int).rename_axis("target").reset_index()


def unaccounted_versions(warehouse: Warehouse, target_name: str) -> int:
    """Versions (1 … the current version of each golden case, or of each licence for the supervision feed)
    with no outbox row for the target."""
    table, key = (licences, "licence_key") if target_name in LICENCE_TARGETS else (golden_cases, "golden_case_id")
    held = (
        sa.select(sa.func.count())
        .select_from(outbox.join(table, outbox.c.golden_case_id == table.c[key]))
        .where((outbox.c.target == target_name) & (outbox.c.version <= table.c.version))
        .where(outbox.c.status.in_(STATUSES))
        .scalar_subquery()
    )
    expected = sa.select(sa.func.coalesce(sa.func.sum(table.c.version), 0)).scalar_subquery()
    return int(warehouse.read(sa.select((expected - held).label("n")))["n"].iloc[0])
