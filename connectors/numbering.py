"""The province's 办件编号 numbering service: asked for the numbers of cases no department numbered.

Some platforms issue case numbers centrally: one vendor's case service asks an upstream regional service for the
number when a flag is on, and Ningbo's 申报号 comes from a unified numbering service (research exchange-formats
§3.1 and "Corrections and additions"; store ids 4811264213, 3417401498). How Jiangsu's service is called is not
published. What follows is **assumed** and must be confirmed with the province before production:

- ``POST {base}/numbering/v1/case-numbers``, signed as the bridge's other HTTP calls are (``connectors.signing``:
  app key, timestamp, nonce, HMAC-SHA256 or HMAC-SM3 over method, path, query, body digest);
- body ``{"requests": [{"requestId", "taskCode", "date": "yyyyMMdd", "orgCode", "itemCode"}]}`` (实施编码, the day
  the number is for, the implementing body's USCC, the 基本编码), at most ``batch_size`` a request;
- answer 200 ``{"numbers": [{"requestId", "projectNo"} | {"requestId", "error"}]}``, one per request;
- the service keeps what it issued by ``requestId``: asked again (a retry, a rerun after a crash), it answers with
  the number it gave the first time. The bridge asks under a key made from the record the number is anchored on,
  so that holds across runs.

To confirm: the path and field names, the batch limit, the signature scheme, whether the service keys requests
(idempotency) and for how long, and the form of the numbers it issues (the bridge accepts any valid 办件编号).

Calls go through ``connectors.http``: explicit timeouts; retries with backoff and jitter on 5xx, 429 (waiting what
``Retry-After`` asks) and connection errors; never on another 4xx, which raises :class:`NumberingRefused`.
"""

from __future__ import annotations

import json
from typing import Literal

import httpx
import pandas as pd
from pydantic import BaseModel, Field

from connectors.http import RequestRejected, call_with_retries, make_client, signed_send

CASE_NUMBERS_PATH = "/numbering/v1/case-numbers"


class NumberingRefused(RuntimeError):
    """The numbering service refused a request (a 4xx other than 429): the message says what it answered."""


class NumberingAnswerUnreadable(RuntimeError):
    """The numbering service answered 2xx with something that is not the assumed answer."""


class CaseNumberService(BaseModel):
    """The province's numbering service (``BRIDGE_CASE_NO_SOURCE=province_service``)."""

    base_url: str
    app_key: str
    app_secret: str = Field(description="signing secret issued by the province; set through an environment variable")
    sign_method: Literal["HMAC-SHA256", "HMAC-SM3"] = "HMAC-SHA256"
    timeout_seconds: float = 10.0
    batch_size: int = Field(default=100, ge=1)
    attempts: int = 5
    max_wait_seconds: float = 10.0
    give_up_after_seconds: float = 60.0
    path: str = CASE_NUMBERS_PATH
    source: str = "province_service"

    def issue(self, wanted: pd.DataFrame) -> pd.DataFrame:
        """``wanted``: request_id, task_code, number_date (a date), org_code, item_code. Returns request_id,
        project_no (NA where the service gave none) and error (the service's reason; NA where it gave a number)."""
        answers: list[dict] = []
        with make_client(self.base_url, self.timeout_seconds) as client:
            for start in range(0, len(wanted), self.batch_size):
                answers += self._batch(client, wanted.iloc[start : start + self.batch_size])
        frame = pd.DataFrame(answers, columns=["request_id", "project_no", "error"])
        return frame.astype({"request_id": "string", "project_no": "string", "error": "string"})

    def _batch(self, client: httpx.Client, wanted: pd.DataFrame) -> list[dict]:
        requests = [
            {
                "requestId": str(row.request_id),
                "taskCode": str(row.task_code),
                "date": pd.Timestamp(row.number_date).strftime("%Y%m%d"),
                "orgCode": None if pd.isna(row.org_code) else str(row.org_code),
                "itemCode": None if pd.isna(row.item_code) else str(row.item_code),
            }
            for row in wanted.itertuples()
        ]
        body = json.dumps({"requests": requests}, ensure_ascii=False).encode("utf-8")

        def attempt() -> httpx.Response:
            return signed_send(
                client,
                "POST",
                self.path,
                app_key=self.app_key,
                secret=self.app_secret,
                algorithm=self.sign_method,
                body=body,
            )

        try:
            response = call_with_retries(
                attempt,
                attempts=self.attempts,
                max_wait=self.max_wait_seconds,
                give_up_after=self.give_up_after_seconds,
            )
        except RequestRejected as exc:
            raise NumberingRefused(
                f"the numbering service at {self.base_url} refused the request ({exc.response.status_code}): "
                f"{exc.response.text[:200]}"
            ) from None
        return _answers(response, {r["requestId"] for r in requests})


def _answers(response: httpx.Response, asked: set[str]) -> list[dict]:
    """The answer's numbers by request, those not asked for left out; an answer not of the assumed shape raises."""
    try:
        listed = response.json()["numbers"]
        rows = [
            {"request_id": str(item["requestId"]), "project_no": item.get("projectNo"), "error": item.get("error")}
            for item in listed
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise NumberingAnswerUnreadable(
            f"the numbering service answered {response.status_code} without a list of numbers by requestId"
        ) from None
    return [row for row in rows if row["request_id"] in asked]
