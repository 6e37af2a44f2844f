"""A stand-in for the province's 办件编号 numbering service, for the demo and the connector's tests.

What it answers is the interface the bridge assumes (its shape is not published; research exchange-formats §3.1:
some platforms issue case numbers from a central service, store ids 4811264213 and 3417401498), written here from
that description and importing nothing of the bridge:

``POST /numbering/v1/case-numbers``, signed (``sandbox.signature``), body ``{"requests": [{"requestId", "taskCode",
"date": "yyyyMMdd", "orgCode", "itemCode"}]}``; answer ``{"numbers": [{"requestId", "projectNo"} | {"requestId",
"error"}]}``. A number is the 实施编码, the date and the day's next serial of that 实施编码 from 0001, four digits
that grow past four when the day runs over 9999 (as the vendor's service does). A request asked again gets the
number it was given. A body that is not of that shape is refused with 400; a 实施编码 that is not 31 characters, or
a date that is no date, is an item's ``error``.

For tests, ``POST /_sandbox/script`` queues answers the next requests get before anything else (``[{"status": 429,
"retry_after": "1"}, {"status": 503}, {"status": 400}]``); ``GET /_sandbox/requests`` says how many business
requests arrived. The fault profile (``sandbox.faults``) applies as on every stand-in.
"""

from __future__ import annotations

import random
import re
import threading
from collections import defaultdict, deque
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox import faults as fault_kit
from sandbox.signature import SeenNonces, refusal

PATH = "/numbering/v1/case-numbers"
TASK_CODE = re.compile(r"[0-9A-Z]{31}")
MAX_REQUESTS = 500


class NumberingState:
    """What the service issued: by request key, and each 实施编码 and day's last serial."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.issued: dict[str, str] = {}
        self.last_serial: dict[tuple[str, str], int] = defaultdict(int)
        self.script: deque[dict] = deque()
        self.requests = 0

    def number(self, request_id: str, task_code: str, day: str) -> str:
        with self.lock:
            if request_id not in self.issued:
                self.last_serial[(task_code, day)] += 1
                self.issued[request_id] = f"{task_code}{day}{self.last_serial[(task_code, day)]:04d}"
            return self.issued[request_id]


def _bad_request(reason: str) -> JSONResponse:
    return JSONResponse({"code": "400", "msg": f"请求格式错误: {reason}"}, status_code=400)


def _item_error(item: dict) -> str | None:
    if not TASK_CODE.fullmatch(str(item.get("taskCode") or "")):
        return "实施编码应为31位字母或数字"
    try:
        datetime.strptime(str(item.get("date") or ""), "%Y%m%d")
    except ValueError:
        return "日期应为yyyyMMdd"
    return None


def numbering_app(
    *, app_key: str, app_secret: str, faults: fault_kit.FaultProfile | None = None, seed: int = 0
) -> FastAPI:
    state = NumberingState()
    nonces = SeenNonces()
    app = FastAPI(title="sandbox numbering service")
    app.state.numbering = state

    @app.middleware("http")
    async def scripted(request: Request, call_next):  # a test's script: answered before the service's work
        if request.url.path.startswith("/_sandbox"):
            return await call_next(request)
        state.requests += 1
        if state.script:
            answer = state.script.popleft()
            headers = {"Retry-After": str(answer["retry_after"])} if "retry_after" in answer else {}
            return JSONResponse({"code": str(answer["status"]), "msg": "scripted"}, answer["status"], headers=headers)
        return await call_next(request)

    fault_kit.install(app, faults or fault_kit.profile("none"), random.Random(seed))

    @app.post(PATH)
    async def case_numbers(request: Request):
        body = await request.body()
        reason = refusal(
            request.headers,
            secrets={app_key: app_secret},
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            body=body,
            nonces=nonces,
        )
        if reason is not None:
            return JSONResponse({"code": "401", "msg": f"签名校验失败: {reason}"}, status_code=401)
        try:
            requests = (await request.json())["requests"]
        except (ValueError, KeyError, TypeError):
            return _bad_request("body must be a JSON object with a list 'requests'")
        if not isinstance(requests, list) or not all(isinstance(r, dict) and r.get("requestId") for r in requests):
            return _bad_request("'requests' must be a list of objects, each with a requestId")
        if len(requests) > MAX_REQUESTS:
            return _bad_request(f"at most {MAX_REQUESTS} requests at once")
        numbers = []
        for item in requests:
            error = _item_error(item)
            if error:
                numbers.append({"requestId": item["requestId"], "error": error})
            else:
                number = state.number(str(item["requestId"]), item["taskCode"], item["date"])
                numbers.append({"requestId": item["requestId"], "projectNo": number})
        return {"code": "200", "numbers": numbers}

    @app.post("/_sandbox/script")
    async def script(answers: list[dict]) -> dict:
        state.script.extend(answers)
        return {"queued": len(state.script)}

    @app.get("/_sandbox/requests")
    async def requests_seen() -> dict:
        return {"requests": state.requests, "issued": len(state.issued)}

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    return app
