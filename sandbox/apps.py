"""HTTP stand-ins: the department REST systems and the municipal integrated platform's intake.

They behave like the real kind: signed requests, paging, change-time filters, business codes in the
body, late acknowledgements and rejections with the receiver's own reasons.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import uuid
from datetime import datetime

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from connectors.signing import verify
from sandbox import faults as fault_kit
from schemas.identifiers import classify_identifiers


def _refuse(reason: str) -> JSONResponse:
    return JSONResponse({"code": "401", "msg": f"签名校验失败: {reason}"}, status_code=401)


async def _check_signature(request: Request, secrets: dict[str, str], nonces: set[str]) -> str | None:
    body = await request.body()
    return verify(
        request.headers,
        secrets=secrets,
        method=request.method,
        path=request.url.path,
        query=dict(request.query_params),
        body=body,
        seen_nonces=nonces,
    )


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("+08:00", "")) if "T" in text else datetime.fromisoformat(text)


def department_app(
    name: str,
    records: list[dict],
    *,
    style: str,
    app_key: str,
    app_secret: str,
    changed_field: str,
    faults: fault_kit.FaultProfile,
    seed: int = 0,
) -> FastAPI:
    """``style="page"``: GET with pageNo/pageSize and a total; ``style="cursor"``: POST with a cursor."""
    app = FastAPI(title=f"sandbox {name}")
    fault_kit.install(app, faults, random.Random(seed))
    ordered = sorted(records, key=lambda r: (_parse_time(r[changed_field]), json.dumps(r, ensure_ascii=False)))
    stamps = [_parse_time(r[changed_field]) for r in ordered]
    secrets, nonces = {app_key: app_secret}, set()

    def window(start: str, end: str) -> list[dict]:
        lo, hi = datetime.fromisoformat(start), datetime.fromisoformat(end)
        return [r for r, t in zip(ordered, stamps, strict=True) if lo <= t < hi]

    if style == "page":

        @app.get("/api/v1/cases")
        async def list_cases(request: Request, updatedFrom: str, updatedTo: str, pageNo: int = 1, pageSize: int = 100):
            if reason := await _check_signature(request, secrets, nonces):
                return _refuse(reason)
            if pageSize > 500:
                return JSONResponse({"code": "400", "msg": "pageSize 不能超过 500"}, status_code=400)
            rows = window(updatedFrom, updatedTo)
            page = rows[(pageNo - 1) * pageSize : pageNo * pageSize]
            return {
                "code": "200",
                "msg": "成功",
                "data": {"total": len(rows), "pageNo": pageNo, "rows": page},
            }

    else:

        @app.post("/openapi/banjian/list")
        async def list_cases_cursor(request: Request):
            if reason := await _check_signature(request, secrets, nonces):
                return _refuse(reason)
            query = await request.json()
            rows = window(query["startTime"], query["endTime"])
            offset = int(query.get("cursor") or 0)
            size = int(query.get("size") or 100)
            page = rows[offset : offset + size]
            next_cursor = str(offset + size) if offset + size < len(rows) else None
            return {"code": "0", "message": "ok", "data": {"list": page, "nextCursor": next_cursor}}

    @app.get("/_sandbox/health")
    async def health() -> dict:
        return {"ok": True, "records": len(records)}

    return app


# ---------------------------------------------------------------- municipal integrated platform
REQUIRED_FIELDS = ("caseId", "version", "itemCode", "itemName", "applicantName", "status")


class MunicipalState:
    """What the municipal platform holds: receipts, idempotency keys and the cases it accepted."""

    def __init__(self, faults: fault_kit.FaultProfile, seed: int) -> None:
        self.lock = threading.Lock()
        self.receipts: dict[str, dict] = {}
        self.keys: dict[str, tuple[str, str]] = {}  # idempotency key -> (payload hash, receipt id)
        self.cases: dict[str, int] = {}  # caseId -> latest accepted version
        self.applied: dict[tuple[str, int], int] = {}  # (caseId, version) -> times applied
        self.rng = random.Random(seed)
        self.faults = faults

    def settle(self) -> None:
        """Decide receipts whose acknowledgement time has come (the platform's own batch check)."""
        now = time.time()
        with self.lock:
            for receipt in self.receipts.values():
                if receipt["status"] != "pending" or receipt["ready_at"] > now:
                    continue
                problem = _municipal_business_check(receipt["payload"])
                if problem:
                    receipt.update(status="rejected", code=problem[0], message=problem[1])
                else:
                    case_id, version = receipt["payload"]["caseId"], int(receipt["payload"]["version"])
                    self.applied[(case_id, version)] = self.applied.get((case_id, version), 0) + 1
                    self.cases[case_id] = max(self.cases.get(case_id, 0), version)
                    receipt.update(status="accepted", code="0", message="接收成功")
                receipt["acked_at"] = datetime.now().isoformat(timespec="seconds")

    def stats(self) -> dict:
        self.settle()
        with self.lock:
            statuses = [r["status"] for r in self.receipts.values()]
            return {
                "received_cases": len(self.cases),
                "duplicate_effects": sum(n - 1 for n in self.applied.values()),
                "accepted": statuses.count("accepted"),
                "rejected": statuses.count("rejected"),
                "pending": statuses.count("pending"),
            }


def _municipal_business_check(payload: dict) -> tuple[str, str] | None:
    if not payload.get("contactPhone"):
        return "E2011", "联系电话不能为空"
    ident = payload.get("applicantId") or ""
    classified = classify_identifiers(pd.Series([ident], dtype="string")).iloc[0]
    if not ident or not bool(classified["checksum_ok"]):
        return "E2003", "申请人证件号码缺失或校验不通过"
    return None


def municipal_app(state: MunicipalState, *, app_key: str, app_secret: str, seed: int = 0) -> FastAPI:
    app = FastAPI(title="sandbox municipal integrated platform (常州市一体化平台)")
    fault_kit.install(app, state.faults, random.Random(seed))
    secrets, nonces = {app_key: app_secret}, set()

    @app.post("/gateway/v1/cases")
    async def receive(request: Request):
        if reason := await _check_signature(request, secrets, nonces):
            return _refuse(reason)
        key = request.headers.get("Idempotency-Key")
        if not key:
            return JSONResponse({"code": "E1000", "msg": "缺少 Idempotency-Key"}, status_code=400)
        body = await request.body()
        payload = json.loads(body)
        missing = [f for f in REQUIRED_FIELDS if payload.get(f) in (None, "")]
        if missing:
            return JSONResponse({"code": "E1001", "msg": "必填字段缺失: " + ",".join(missing)}, status_code=400)
        digest = hashlib.sha256(body).hexdigest()
        with state.lock:
            if key in state.keys:
                known_digest, receipt_id = state.keys[key]
                if known_digest != digest:
                    return JSONResponse({"code": "E1009", "msg": "同一幂等键的报文内容不一致"}, status_code=422)
                return {"code": "0", "msg": "重复提交，返回原回执", "receiptId": receipt_id}
            receipt_id = uuid.uuid4().hex[:20]
            low, high = app.state.faults.ack_delay_seconds
            state.receipts[receipt_id] = {
                "status": "pending",
                "payload": payload,
                "code": None,
                "message": None,
                "ready_at": time.time() + state.rng.uniform(low, high),
                "acked_at": None,
            }
            state.keys[key] = (digest, receipt_id)
        return {"code": "0", "msg": "已接收", "receiptId": receipt_id}

    @app.get("/gateway/v1/receipts")
    async def receipts(request: Request, ids: str):
        if reason := await _check_signature(request, secrets, nonces):
            return _refuse(reason)
        state.settle()
        with state.lock:
            found = [
                {
                    "receiptId": rid,
                    "status": r["status"],
                    "code": r["code"],
                    "message": r["message"],
                    "ackedAt": r["acked_at"],
                }
                for rid in ids.split(",")
                if (r := state.receipts.get(rid))
            ]
        return {"code": "0", "data": found}

    @app.get("/_sandbox/stats")
    async def stats() -> dict:
        return state.stats()

    return app
