"""Clients of the receivers: the one network's exchange table and the municipal platform's HTTP intake.

Both take outbox messages (a golden case version in canonical form plus its idempotency key), map them
to the receiver's wire format, and report per message what happened. Acknowledgements come later and
are fetched with ``follow_up``.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import sqlalchemy as sa
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from connectors.exchange import EX_CASE_INFO, FAILED, PENDING, SUCCEEDED
from connectors.http import RequestRejected, RetryableStatus, call_with_retries, make_client, signed_send

Outcome = Literal["sent", "acknowledged", "rejected", "failed", "pending"]


@dataclass(frozen=True)
class OutboxMessage:
    idempotency_key: str
    golden_case_id: str
    version: int
    payload: dict[str, Any]  # the golden case in canonical form
    payload_hash: str
    receipt_id: str | None = None


@dataclass(frozen=True)
class Delivery:
    idempotency_key: str
    outcome: Outcome
    receipt_id: str | None = None
    code: str | None = None
    reason: str | None = None  # the receiver's words


class DeliveryTarget(ConfigurableResource, ABC):
    """A receiver of golden cases."""

    max_requests_per_second: float = Field(default=50.0, description="client-side rate limit toward the receiver")
    circuit_breaker_failures: int = Field(default=5, description="consecutive failures that stop a sending run")

    @abstractmethod
    def send(self, messages: list[OutboxMessage]) -> list[Delivery]: ...

    @abstractmethod
    def follow_up(self, messages: list[OutboxMessage]) -> list[Delivery]:
        """Ask the receiver what became of messages already sent."""

    def counts(self) -> dict[str, int] | None:
        """What the receiver says it holds, where it can tell (the sandbox receivers can)."""
        return None


class _Throttle:
    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            delay = self.next_at - now
            self.next_at = max(now, self.next_at) + self.interval
        if delay > 0:
            time.sleep(delay)


def _parse_ts(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


class ExchangeTableTarget(DeliveryTarget):
    """江苏政务服务网: rows into the exchange table on the front-end database."""

    url: str = Field(description="SQLAlchemy URL of the front-end database; credentials via environment")
    batch_size: int = 500

    _engine_cache: sa.Engine | None = PrivateAttr(default=None)

    def _engine(self) -> sa.Engine:
        # The province owns the front-end database and its tables; the bridge only reads and writes rows.
        if self._engine_cache is None:
            self._engine_cache = sa.create_engine(self.url, pool_pre_ping=True)
        return self._engine_cache

    def send(self, messages: list[OutboxMessage]) -> list[Delivery]:
        results: list[Delivery] = []
        engine = self._engine()
        try:
            for start in range(0, len(messages), self.batch_size):
                results.extend(self._send_batch(engine, messages[start : start + self.batch_size]))
        finally:
            engine.dispose()
        return results

    def _send_batch(self, engine: sa.Engine, batch: list[OutboxMessage]) -> list[Delivery]:
        keys = {(m.golden_case_id, m.version): m for m in batch}
        t = EX_CASE_INFO
        with engine.begin() as conn:
            existing = {
                (row.PROJID, row.DATAVERSION): row.PAYLOAD_HASH
                for row in conn.execute(
                    sa.select(t.c.PROJID, t.c.DATAVERSION, t.c.PAYLOAD_HASH).where(
                        sa.tuple_(t.c.PROJID, t.c.DATAVERSION).in_(list(keys))
                    )
                )
            }
            fresh = [m for key, m in keys.items() if key not in existing]
            now = dt.datetime.now().replace(microsecond=0)
            if fresh:
                conn.execute(t.insert(), [self._row(m, now) for m in fresh])
        results = []
        for key, message in keys.items():
            receipt = f"{key[0]}:{key[1]}"
            if key in existing and existing[key] != message.payload_hash:
                results.append(
                    Delivery(
                        message.idempotency_key,
                        "rejected",
                        receipt,
                        "HASH_CONFLICT",
                        "前置库已有同一版本但内容不同的记录",
                    )
                )
            else:
                results.append(Delivery(message.idempotency_key, "sent", receipt))
        return results

    @staticmethod
    def _row(m: OutboxMessage, now: dt.datetime) -> dict[str, Any]:
        p = m.payload
        return {
            "PROJID": m.golden_case_id,
            "DATAVERSION": m.version,
            "CASENO": p.get("case_no"),
            "SXBM": p.get("item_code"),
            "SXMC": p.get("item_name"),
            "SQRLX": "1" if p.get("applicant_type") == "legal_person" else "2",
            "SQRMC": p.get("applicant_name"),
            "SQRZJHM": p.get("applicant_id"),
            "LXDH": p.get("contact_phone"),
            "DZ": p.get("address"),
            "SBSJ": _parse_ts(p.get("submitted_at")),
            "SLSJ": _parse_ts(p.get("accepted_at")),
            "BJSJ": _parse_ts(p.get("completed_at")),
            "BLZT": p.get("status"),
            "CNSX": p.get("promised_days"),
            "FDSX": p.get("statutory_days"),
            "BLBM": p.get("handling_dept"),
            "BATCHNO": now.strftime("%Y%m%d%H%M%S"),
            "PAYLOAD_HASH": m.payload_hash,
            "INSERT_TIME": now,
            "SYNC_STATUS": PENDING,
        }

    def follow_up(self, messages: list[OutboxMessage]) -> list[Delivery]:
        t = EX_CASE_INFO
        by_key = {(m.golden_case_id, m.version): m for m in messages}
        results = []
        engine = self._engine()
        try:
            with engine.connect() as conn:
                keys = list(by_key)
                for start in range(0, len(keys), self.batch_size):
                    chunk = keys[start : start + self.batch_size]
                    query = sa.select(t.c.PROJID, t.c.DATAVERSION, t.c.SYNC_STATUS, t.c.SYNC_ERROR).where(
                        sa.tuple_(t.c.PROJID, t.c.DATAVERSION).in_(chunk)
                    )
                    for row in conn.execute(query):
                        message = by_key[(row.PROJID, row.DATAVERSION)]
                        receipt = f"{row.PROJID}:{row.DATAVERSION}"
                        if row.SYNC_STATUS == SUCCEEDED:
                            results.append(Delivery(message.idempotency_key, "acknowledged", receipt))
                        elif row.SYNC_STATUS == FAILED:
                            code, _, reason = (row.SYNC_ERROR or "").partition(" ")
                            results.append(Delivery(message.idempotency_key, "rejected", receipt, code, reason))
        finally:
            engine.dispose()
        return results

    def counts(self) -> dict[str, int] | None:
        t = EX_CASE_INFO
        engine = self._engine()
        try:
            with engine.connect() as conn:
                received = conn.execute(
                    sa.select(sa.func.count(sa.distinct(t.c.PROJID))).where(t.c.SYNC_STATUS == SUCCEEDED)
                ).scalar_one()
        finally:
            engine.dispose()
        # (PROJID, DATAVERSION) is the table's key, so the same version cannot take effect twice.
        return {"received_cases": int(received), "duplicate_effects": 0}


class HttpTarget(DeliveryTarget):
    """常州市一体化平台: signed JSON intake that answers with a receipt id and acknowledges later."""

    base_url: str
    app_key: str
    app_secret: str = Field(description="secret issued by the platform; set through an environment variable")
    sign_method: Literal["HMAC-SHA256", "HMAC-SM3"] = "HMAC-SHA256"
    timeout_seconds: float = 10.0
    cases_path: str = "/gateway/v1/cases"
    receipts_path: str = "/gateway/v1/receipts"
    _throttle: _Throttle | None = PrivateAttr(default=None)

    def _signed(self, client: httpx.Client, method: str, path: str, **request) -> httpx.Response:
        """Wait for the rate limit's next slot, then send one freshly signed request."""
        if self._throttle is None:
            self._throttle = _Throttle(self.max_requests_per_second)
        self._throttle.wait()
        return signed_send(
            client, method, path, app_key=self.app_key, secret=self.app_secret, algorithm=self.sign_method, **request
        )

    @staticmethod
    def wire_format(message: OutboxMessage) -> dict[str, Any]:
        p = message.payload
        return {
            "caseId": message.golden_case_id,
            "version": message.version,
            "caseNo": p.get("case_no"),
            "itemCode": p.get("item_code"),
            "itemName": p.get("item_name"),
            "applicantType": p.get("applicant_type"),
            "applicantName": p.get("applicant_name"),
            "applicantId": p.get("applicant_id"),
            "contactPhone": p.get("contact_phone"),
            "address": p.get("address"),
            "submittedAt": p.get("submitted_at"),
            "acceptedAt": p.get("accepted_at"),
            "completedAt": p.get("completed_at"),
            "status": p.get("status"),
            "promisedDays": p.get("promised_days"),
            "statutoryDays": p.get("statutory_days"),
            "handlingDept": p.get("handling_dept"),
        }

    def send(self, messages: list[OutboxMessage]) -> list[Delivery]:
        results: list[Delivery] = []
        consecutive_failures = 0
        with make_client(self.base_url, self.timeout_seconds) as client:
            for message in messages:
                if consecutive_failures >= self.circuit_breaker_failures:
                    break  # the receiver is down: leave the rest queued for the next run
                delivery = self._send_one(client, message)
                consecutive_failures = consecutive_failures + 1 if delivery.outcome == "failed" else 0
                results.append(delivery)
        return results

    def _send_one(self, client: httpx.Client, message: OutboxMessage) -> Delivery:
        body = json.dumps(self.wire_format(message), ensure_ascii=False, sort_keys=True).encode("utf-8")

        def post() -> httpx.Response:
            return self._signed(
                client, "POST", self.cases_path, body=body, headers={"Idempotency-Key": message.idempotency_key}
            )

        try:
            answer = call_with_retries(post, attempts=5, max_wait=10.0, give_up_after=60.0).json()
        except RequestRejected as exc:
            document = _json_or_empty(exc.response)
            return Delivery(message.idempotency_key, "rejected", None, document.get("code"), document.get("msg"))
        except (RetryableStatus, httpx.TransportError) as exc:
            return Delivery(message.idempotency_key, "failed", None, None, str(exc)[:300])
        return Delivery(message.idempotency_key, "sent", answer["receiptId"])

    def follow_up(self, messages: list[OutboxMessage]) -> list[Delivery]:
        by_receipt = {m.receipt_id: m for m in messages if m.receipt_id}
        receipts = list(by_receipt)
        results = []
        with make_client(self.base_url, self.timeout_seconds) as client:
            for start in range(0, len(receipts), 100):
                query = {"ids": ",".join(receipts[start : start + 100])}

                def get(query=query) -> httpx.Response:
                    return self._signed(client, "GET", self.receipts_path, params=query)

                try:
                    answer = call_with_retries(get, attempts=5, max_wait=10.0, give_up_after=60.0).json()
                except (RetryableStatus, httpx.TransportError):
                    break  # acknowledgements will be asked for again on the next follow-up
                for item in answer.get("data", []):
                    message = by_receipt[item["receiptId"]]
                    outcome = {"accepted": "acknowledged", "rejected": "rejected"}.get(item["status"], "pending")
                    results.append(
                        Delivery(
                            message.idempotency_key, outcome, item["receiptId"], item.get("code"), item.get("message")
                        )
                    )
        return results

    def counts(self) -> dict[str, int] | None:
        try:
            with make_client(self.base_url, self.timeout_seconds) as client:
                answer = client.get("/_sandbox/stats")
        except httpx.HTTPError:
            return None
        if answer.status_code != 200:
            return None
        stats = answer.json()
        return {"received_cases": stats["received_cases"], "duplicate_effects": stats["duplicate_effects"]}


def _json_or_empty(response: httpx.Response) -> dict:
    try:
        return response.json()
    except ValueError:
        return {}
