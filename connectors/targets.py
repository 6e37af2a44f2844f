"""What every receiver client shares: the outbox message, the answer per message, rate limit and circuit breaker,
the database receivers' transactions (``send_in_transactions``) and the signed HTTP intakes (the municipal
platform's, the supervision intake's). The one network's client is ``connectors.province.ProvinceTableTarget``.

All take outbox messages (a golden case version in canonical form plus its idempotency key), map them
to the receiver's wire format, and report per message what happened. Acknowledgements come later and
are fetched with ``follow_up``.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from connectors.database_errors import REFUSED, UNUSABLE, TargetMisconfigured, classify, refusal
from connectors.http import (
    CircuitBreaker,
    CircuitOpen,
    RequestRejected,
    RetryableStatus,
    call_with_retries,
    make_client,
    signed_send,
)
from core.database_retry import with_retries

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


class DeliveryTarget(BaseModel, ABC):
    """A receiver of golden cases.

    ``send`` returns one :class:`Delivery` per message it dealt with, in order. When the circuit breaker opens
    (the receiver is down) it returns early: the messages it did not reach stay queued for the next run.
    """

    model_config = ConfigDict(extra="forbid")

    rate_limit_per_second: float = Field(
        default=50.0, description="client-side limit: requests per second (HTTP) or rows per second (exchange table)"
    )
    circuit_breaker_failures: int = Field(default=8, description="consecutive failed calls that open the circuit")
    circuit_breaker_cooldown_seconds: float = Field(default=30.0, description="how long an open circuit stays open")

    _breaker: CircuitBreaker | None = PrivateAttr(default=None)
    _throttle: Throttle | None = PrivateAttr(default=None)

    @property
    def breaker(self) -> CircuitBreaker:
        if self._breaker is None:
            self._breaker = CircuitBreaker(self.circuit_breaker_failures, self.circuit_breaker_cooldown_seconds)
        return self._breaker

    @property
    def throttle(self) -> Throttle:
        if self._throttle is None:
            self._throttle = Throttle(self.rate_limit_per_second)
        return self._throttle

    @abstractmethod
    def send(self, messages: list[OutboxMessage]) -> list[Delivery]: ...

    def send_in_transactions(
        self, messages: list[OutboxMessage], size: int, send_batch: Callable[[list[OutboxMessage]], list[Delivery]]
    ) -> list[Delivery]:
        """For receivers that are a database: ``send_batch`` writes one batch in one transaction.

        What the database answers decides what happens (:func:`connectors.database_errors.classify`):
        - it refused a statement for its data (NOT NULL, too long, a bad value): the batch is written again one
          version a transaction, so the good versions still go and only the refused one is rejected, with the
          database's code and message (its dead letter);
        - it could not be reached, or the transaction broke off (a dropped connection, a lock timeout): nothing of
          the batch was committed, the versions stay queued with the error kept, and the failure counts against the
          circuit breaker; once it opens, the rest stays queued for the next run untouched;
        - the tables are not what the bridge was configured for (an unknown column or table): the run stops
          (:class:`TargetMisconfigured`), nothing is dead-lettered."""
        results: list[Delivery] = []
        for start in range(0, len(messages), size):
            batch = messages[start : start + size]
            if self.breaker.is_open:
                break  # the front-end database is unreachable: the rest stays queued
            self.throttle.wait(len(batch))
            try:
                # a lock held for a moment or a dropped connection: the batch's transaction again, a few times
                results.extend(
                    with_retries("sending to a receiver's database", lambda b=batch: send_batch(b), attempts=4)
                )
            except sa.exc.DBAPIError as exc:
                kind = classify(exc)
                if kind == UNUSABLE:
                    raise TargetMisconfigured(refusal(exc)[1]) from exc
                if kind == REFUSED:
                    self.breaker.succeeded()  # the database answered: it is the data
                    results.extend(self._one_by_one(batch, send_batch))
                    continue
                self.breaker.failed()  # nothing of this batch was committed; it is sent again later
                results.extend(Delivery(m.idempotency_key, "failed", None, None, refusal(exc)[1]) for m in batch)
                continue
            self.breaker.succeeded()
        return results

    def _one_by_one(
        self, batch: list[OutboxMessage], send_batch: Callable[[list[OutboxMessage]], list[Delivery]]
    ) -> list[Delivery]:
        """A batch the database refused, one version a transaction: the refused version is rejected with the
        database's words, the others go; a connection lost on the way leaves the rest queued."""
        results: list[Delivery] = []
        for position, message in enumerate(batch):
            try:
                results.extend(send_batch([message]))
            except sa.exc.DBAPIError as exc:
                kind = classify(exc)
                if kind == UNUSABLE:
                    raise TargetMisconfigured(refusal(exc)[1]) from exc
                code, reason = refusal(exc)
                if kind == REFUSED:
                    results.append(Delivery(message.idempotency_key, "rejected", None, code, reason))
                    continue
                self.breaker.failed()
                results.extend(Delivery(m.idempotency_key, "failed", None, None, reason) for m in batch[position:])
                break
        return results

    @abstractmethod
    def follow_up(self, messages: list[OutboxMessage]) -> list[Delivery]:
        """Ask the receiver what became of messages already sent (one answer per message at most)."""

    def holdings(self, window: ReadWindow) -> pd.DataFrame | None:
        """What the receiver itself says about the versions of a reconciliation window, by its own published query
        (:meth:`verified_by` names it): a listing by receipt (``case_no``, ``receipt``, ``repeats``: the rows the
        province's tables took in from ``window.written_from``), or the receipts' states (``receipt``, ``status``:
        the platform's receipts query for ``window.receipts``). None: the receiver publishes no such query, and what
        it holds cannot be verified."""
        return None

    def verified_by(self) -> str | None:
        """The receiver's own query the reconciliation reads, in words; None where it publishes none."""
        return None

    def format_name(self) -> str:
        """The format the receiver is spoken to in (its profile or field map), as the reconciliation names it."""
        return ""


@dataclass(frozen=True)
class ReadWindow:
    """What the reconciliation asks a receiver about: the versions of one window of partition days. A receiver
    that keeps its own write times (the province's ``cd_time``) is read from ``written_from`` on (None: from the
    beginning); one that answers by receipt is asked about ``receipts`` (those of the window's versions sent or
    acknowledged)."""

    written_from: dt.datetime | None = None
    receipts: tuple[str, ...] = ()


class Throttle:
    """A client-side rate limit: ``wait(n)`` blocks until n more units fit under ``per_second``."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self, units: int = 1) -> None:
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_at)
            self.next_at = start + self.interval * units
        if start > now:
            time.sleep(start - now)


#: The receipt of a version that has nothing for a receiver (``=`` and 31 characters of its batch or key hash):
#: acknowledged as sent, and counted as held in reconciliation (the receiver holds the case as it stood, or, not
#: yet accepted, nothing).
NOTHING = "="


class CredentialsRefused(RuntimeError):
    """The receiver refused who we are (401/403): a configuration fault that stops sending, not a rejection."""


class HttpTarget(DeliveryTarget):
    """常州市一体化平台: signed JSON intake that answers with a receipt id and acknowledges later.

    With ``batch_size`` 1 each version is one POST carrying its ``Idempotency-Key`` header; above 1, versions go
    in batches to the batch intake, each item carrying its own key and answered with its own receipt or code.
    Either way the rate limit counts requests.
    """

    base_url: str
    app_key: str
    app_secret: str = Field(description="secret issued by the platform; set through an environment variable")
    sign_method: Literal["HMAC-SHA256", "HMAC-SM3"] = "HMAC-SHA256"
    timeout_seconds: float = 10.0
    batch_size: int = Field(default=1, description="case versions per request (1 = one request per version)")
    cases_path: str = "/gateway/v1/cases"
    batch_path: str = "/gateway/v1/cases/batch"
    receipts_path: str = "/gateway/v1/receipts"
    reconcile_by_receipts: bool = Field(
        default=True,
        description="the reconciliation asks the receipts query again about the window's versions (the platform's "
        "own answer per receipt: accepted, rejected, pending); false where the platform's interface does not "
        "answer for a receipt after it acknowledged it: the reconciliation then says it cannot verify",
    )

    def _call(self, client: httpx.Client, method: str, path: str, **request) -> httpx.Response:
        """One call with retries; each attempt waits for the rate limit's next slot and is signed afresh."""

        def attempt() -> httpx.Response:
            self.throttle.wait()
            return signed_send(
                client,
                method,
                path,
                app_key=self.app_key,
                secret=self.app_secret,
                algorithm=self.sign_method,
                **request,
            )

        try:
            return call_with_retries(attempt, attempts=5, max_wait=10.0, give_up_after=60.0, breaker=self.breaker)
        except RequestRejected as exc:
            if exc.response.status_code in (401, 403):  # our credentials, not the case: nothing is dead-lettered
                raise CredentialsRefused(
                    f"{self.base_url} refused the bridge's credentials ({exc.response.status_code}): check the app "
                    "key, secret and sign method; every version stays queued"
                ) from exc
            raise

    @staticmethod
    def wire_format(message: OutboxMessage) -> dict[str, Any]:
        """The JSON object one version goes out as (the receiver's subclass says)."""
        raise NotImplementedError

    def prepare(self, messages: list[OutboxMessage]) -> tuple[list[tuple[OutboxMessage, dict]], list[Delivery]]:
        """(what to send: each version with its document; the answers of versions that go nowhere: held back
        with a reason, or nothing for this receiver, receipt ``=…``, acknowledged on follow-up)."""
        return [(m, self.wire_format(m)) for m in messages], []

    def send(self, messages: list[OutboxMessage]) -> list[Delivery]:
        ready, results = self.prepare(messages)
        size = max(1, self.batch_size)
        with make_client(self.base_url, self.timeout_seconds) as client:
            for start in range(0, len(ready), size):
                chunk = ready[start : start + size]
                try:
                    results.extend(self._send_one(client, *chunk[0]) if size == 1 else self._send_batch(client, chunk))
                except CircuitOpen:
                    break  # the receiver is down: what is left stays queued for the next run
        return results

    def _send_one(self, client: httpx.Client, message: OutboxMessage, document: dict) -> list[Delivery]:
        body = _canonical(document)
        headers = {"Idempotency-Key": message.idempotency_key}
        try:
            answer = self._call(client, "POST", self.cases_path, body=body, headers=headers).json()
        except RequestRejected as exc:
            document = _json_or_empty(exc.response)
            return [Delivery(message.idempotency_key, "rejected", None, document.get("code"), document.get("msg"))]
        except (RetryableStatus, httpx.TransportError) as exc:
            return [Delivery(message.idempotency_key, "failed", None, None, str(exc)[:300])]
        return [Delivery(message.idempotency_key, "sent", answer["receiptId"])]

    def _send_batch(self, client: httpx.Client, chunk: list[tuple[OutboxMessage, dict]]) -> list[Delivery]:
        items = [{"idempotencyKey": m.idempotency_key, **document} for m, document in chunk]
        messages = [m for m, _ in chunk]
        try:
            answer = self._call(client, "POST", self.batch_path, body=_canonical({"cases": items})).json()
        except RequestRejected as exc:  # the batch as a whole was refused (malformed): each version says why
            document = _json_or_empty(exc.response)
            code, reason = document.get("code"), document.get("msg")
            return [Delivery(m.idempotency_key, "rejected", None, code, reason) for m in messages]
        except (RetryableStatus, httpx.TransportError) as exc:
            return [Delivery(m.idempotency_key, "failed", None, None, str(exc)[:300]) for m in messages]
        by_key = {item["idempotencyKey"]: item for item in answer.get("data", [])}
        results = []
        for m in messages:
            item = by_key.get(m.idempotency_key)
            if item is None:
                results.append(Delivery(m.idempotency_key, "failed", None, None, "no answer for this item"))
            elif item.get("receiptId"):
                results.append(Delivery(m.idempotency_key, "sent", item["receiptId"]))
            else:
                results.append(Delivery(m.idempotency_key, "rejected", None, item.get("code"), item.get("msg")))
        return results

    def follow_up(self, messages: list[OutboxMessage]) -> list[Delivery]:
        answers: dict[str, Delivery] = {  # a version with nothing for the receiver has nothing to wait for
            m.idempotency_key: Delivery(m.idempotency_key, "acknowledged", m.receipt_id)
            for m in messages
            if (m.receipt_id or "").startswith(NOTHING)
        }
        by_receipt = {m.receipt_id: m for m in messages if m.receipt_id and m.idempotency_key not in answers}
        receipts = list(by_receipt)  # a receipt acknowledged twice is one answer
        with make_client(self.base_url, self.timeout_seconds) as client:
            for start in range(0, len(receipts), 100):
                query = {"ids": ",".join(receipts[start : start + 100])}
                try:
                    answer = self._call(client, "GET", self.receipts_path, params=query).json()
                except (RetryableStatus, httpx.TransportError, CircuitOpen):
                    break  # acknowledgements will be asked for again on the next follow-up
                for item in answer.get("data", []):
                    message = by_receipt.get(item["receiptId"])
                    if message is None:
                        continue
                    outcome = {"accepted": "acknowledged", "rejected": "rejected"}.get(item["status"], "pending")
                    answers[message.idempotency_key] = Delivery(
                        message.idempotency_key, outcome, item["receiptId"], item.get("code"), item.get("message")
                    )
        return list(answers.values())

    def verified_by(self) -> str | None:
        if not self.reconcile_by_receipts:
            return None
        return f"its receipts query (GET {self.receipts_path}): accepted, rejected or pending per receipt"

    def holdings(self, window: ReadWindow) -> pd.DataFrame | None:
        """The platform's answer for each receipt of the window (``receipt``, ``status``: accepted, rejected,
        pending); a receipt it does not answer for is absent. A version with nothing for the platform (receipt
        ``=…``) is not asked about. None: the platform is not asked (``reconcile_by_receipts`` false). A receipt
        answered twice (a doubled acknowledgement) is one answer. Raises when the platform does not answer."""
        if not self.reconcile_by_receipts:
            return None
        receipts = sorted({r for r in window.receipts if r and not r.startswith(NOTHING)})
        answers: dict[str, str] = {}
        with make_client(self.base_url, self.timeout_seconds) as client:
            for start in range(0, len(receipts), 100):
                query = {"ids": ",".join(receipts[start : start + 100])}
                answer = self._call(client, "GET", self.receipts_path, params=query).json()
                for item in answer.get("data", []):
                    answers[str(item["receiptId"])] = str(item.get("status") or "")
        return pd.DataFrame({"receipt": list(answers), "status": list(answers.values())}, columns=["receipt", "status"])


class SupervisionTarget(HttpTarget):
    """审管互动: every new or changed licence to the department that supervises its type, through the supervision
    platform's signed intake (same guarantees as the case receivers: idempotency key per licence and version)."""

    cases_path: str = "/gateway/v1/cases"
    batch_path: str = "/gateway/v1/cases/batch"

    @staticmethod
    def wire_format(message: OutboxMessage) -> dict[str, Any]:
        p = message.payload
        return {
            "licenceKey": message.golden_case_id,  # the outbox's entity id: here the licence key
            "version": message.version,
            "licenceId": p.get("licence_id"),
            "licenceName": p.get("licence_name"),
            "licenceTypeCode": p.get("licence_type_code"),
            "licenceNo": p.get("licence_no"),
            "holderName": p.get("holder_name"),
            "holderCode": p.get("holder_code"),
            "holderCodeType": p.get("holder_code_type"),
            "issuerName": p.get("issuer_name"),
            "issuerCode": p.get("issuer_code"),
            "issueDate": p.get("issue_date"),
            "validFrom": p.get("valid_from"),
            "validTo": p.get("valid_to"),
            "status": p.get("status"),
            "supervisingDept": p.get("supervising_dept"),
            "areaCode": p.get("area_code"),
        }


def _canonical(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _json_or_empty(response: httpx.Response) -> dict:
    try:
        return response.json()
    except ValueError:
        return {}
