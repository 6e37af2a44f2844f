"""HTTP stand-ins: the department REST systems and the municipal integrated platform's intake.

They behave like the real kind: signed requests, paging, change-time filters, business codes in the
body, late acknowledgements and rejections with the receiver's own reasons.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox import faults as fault_kit
from sandbox.identity import applicant_id_ok
from sandbox.province.fixture import codes as province_codes
from sandbox.province.rules import case_number_problem, uscc_problem
from sandbox.signature import SeenNonces, refusal


def _refuse(reason: str) -> JSONResponse:
    return JSONResponse({"code": "401", "msg": f"签名校验失败: {reason}"}, status_code=401)


async def _check_signature(request: Request, secrets: dict[str, str], nonces: SeenNonces) -> str | None:
    """The stand-ins' own verifier (:mod:`sandbox.signature`), not the client's."""
    body = await request.body()
    return refusal(
        request.headers,
        secrets=secrets,
        method=request.method,
        path=request.url.path,
        query=dict(request.query_params),
        body=body,
        nonces=nonces,
    )


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("+08:00", "")) if "T" in text else datetime.fromisoformat(text)


def _between(rows: list[dict], keys: list, start, end) -> list[dict]:
    """The ``rows`` whose sort key (``keys``, ascending alongside them) is in [start, end), by bisection."""
    return rows[bisect.bisect_left(keys, start) : bisect.bisect_left(keys, end)]  # empty when end <= start


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
    licences: list[dict] | None = None,
    evaluations: tuple[list[dict], str, str] | None = None,
) -> FastAPI:
    """``style="page"``: GET with pageNo/pageSize and a total; ``style="cursor"``: POST with a cursor.
    ``licences``: the registry's licence events, served page-style at ``/api/v1/licences`` (changed field GXSJ).
    ``evaluations``: the 好差评 system's records with the app key and secret it signs with, served page-style at
    ``/openapi/evaluation/list`` (changed field updateTime) on the same host."""
    app = FastAPI(title=f"sandbox {name}")
    fault_kit.install(app, faults, random.Random(seed))
    ordered = sorted(records, key=lambda r: (_parse_time(r[changed_field]), json.dumps(r, ensure_ascii=False)))
    stamps = [_parse_time(r[changed_field]) for r in ordered]
    secrets, nonces = {app_key: app_secret}, SeenNonces()

    def window(start: str, end: str) -> list[dict]:
        """The records changed in [start, end): found by bisection, as a real system's index would (a scan of the
        year for every page made the pulls of a busy year cost the square of its size)."""
        lo, hi = datetime.fromisoformat(start), datetime.fromisoformat(end)
        return _between(ordered, stamps, lo, hi)

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

    if licences is not None:
        events = sorted(licences, key=lambda r: (r["GXSJ"], r["JLBH"]))
        event_times = [r["GXSJ"] for r in events]

        @app.get("/api/v1/licences")
        async def list_licences(
            request: Request, updatedFrom: str, updatedTo: str, pageNo: int = 1, pageSize: int = 100
        ):
            if reason := await _check_signature(request, secrets, nonces):
                return _refuse(reason)
            rows = _between(events, event_times, updatedFrom, updatedTo)
            page = rows[(pageNo - 1) * pageSize : pageNo * pageSize]
            return {"code": "200", "msg": "成功", "data": {"total": len(rows), "pageNo": pageNo, "rows": page}}

    if evaluations is not None:
        rows_of, (key, secret) = evaluations[0], evaluations[1:]
        listed = sorted(rows_of, key=lambda r: (r["updateTime"], r["evaluateId"]))
        listed_times = [r["updateTime"] for r in listed]
        evaluation_secrets, evaluation_nonces = {key: secret}, SeenNonces()

        @app.get("/openapi/evaluation/list")
        async def list_evaluations(
            request: Request, updatedFrom: str, updatedTo: str, pageNo: int = 1, pageSize: int = 100
        ):
            if reason := await _check_signature(request, evaluation_secrets, evaluation_nonces):
                return _refuse(reason)
            rows = _between(listed, listed_times, updatedFrom, updatedTo)
            page = rows[(pageNo - 1) * pageSize : pageNo * pageSize]
            return {"code": "200", "msg": "成功", "data": {"total": len(rows), "pageNo": pageNo, "rows": page}}

    @app.get("/_sandbox/health")
    async def health() -> dict:
        return {"ok": True, "records": len(records)}

    return app


# ---------------------------------------------------------------- receivers: municipal platform, supervision intake
@dataclass(frozen=True)
class IntakeKind:
    """What one receiver takes in: the field naming the entity, the fields it requires, its batch check."""

    title: str
    id_field: str
    required: tuple[str, ...]
    check: Callable[[list[dict]], list[tuple[str, str] | None]]


class MunicipalState:
    """What a receiver holds (receipts, idempotency keys, accepted versions), in a SQLite file so a restarted
    sandbox still knows what it received."""

    def __init__(
        self,
        path: Path,
        faults: fault_kit.FaultProfile,
        seed: int,
        *,
        resume: bool = False,
        kind: IntakeKind | None = None,
    ) -> None:
        self.kind = kind or MUNICIPAL
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        if not resume:
            self.db.executescript(
                "DROP TABLE IF EXISTS receipts; DROP TABLE IF EXISTS applied; DROP TABLE IF EXISTS withdrawn;"
            )
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS receipts (
                receipt_id TEXT PRIMARY KEY, idem_key TEXT UNIQUE NOT NULL, digest TEXT NOT NULL,
                case_id TEXT NOT NULL, version INTEGER NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,
                code TEXT, message TEXT, ready_at REAL NOT NULL, acked_at TEXT);
            CREATE INDEX IF NOT EXISTS receipts_pending ON receipts (status, ready_at);
            CREATE TABLE IF NOT EXISTS applied (
                case_id TEXT NOT NULL, version INTEGER NOT NULL, times INTEGER NOT NULL,
                PRIMARY KEY (case_id, version));
            CREATE TABLE IF NOT EXISTS withdrawn (case_id TEXT PRIMARY KEY);
            """
        )
        self.rng = random.Random(seed)
        self.faults = faults

    def receive(self, items: list[tuple[str, dict]], ack_delay: tuple[float, float]) -> list[dict]:
        """Take (idempotency key, payload) pairs in; answer each with its receipt or the reason it was refused.

        A key seen before with the same content answers with the original receipt (nothing happens twice);
        the same key with different content is refused."""
        answers = []
        with self.lock:
            self.db.execute("BEGIN")
            for key, payload in items:
                digest = hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
                known = self.db.execute("SELECT digest, receipt_id FROM receipts WHERE idem_key = ?", (key,)).fetchone()
                if known:
                    if known[0] != digest:
                        answers.append({"idempotencyKey": key, "code": "E1009", "msg": "同一幂等键的报文内容不一致"})
                    else:
                        answers.append(
                            {"idempotencyKey": key, "code": "0", "msg": "重复提交，返回原回执", "receiptId": known[1]}
                        )
                    continue
                receipt_id = uuid.uuid4().hex[:20]
                self.db.execute(
                    "INSERT INTO receipts VALUES (?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, ?, NULL)",
                    (
                        receipt_id,
                        key,
                        digest,
                        payload[self.kind.id_field],
                        int(payload["version"]),
                        json.dumps(payload, ensure_ascii=False),
                        time.time() + self.rng.uniform(*ack_delay),
                    ),
                )
                answers.append({"idempotencyKey": key, "code": "0", "msg": "已接收", "receiptId": receipt_id})
            self.db.execute("COMMIT")
        return answers

    def settle(self) -> None:
        """Decide receipts whose acknowledgement time has come (the platform's own batch check)."""
        with self.lock:
            due = self.db.execute(
                "SELECT receipt_id, payload FROM receipts WHERE status = 'pending' AND ready_at <= ?", (time.time(),)
            ).fetchall()
            if not due:
                return
            acked_at = datetime.now().isoformat(timespec="seconds")
            self.db.execute("BEGIN")
            payloads = [json.loads(text) for _, text in due]
            for (receipt_id, _), payload, problem in zip(due, payloads, self.kind.check(payloads), strict=True):
                if problem:
                    self.db.execute(
                        "UPDATE receipts SET status='rejected', code=?, message=?, acked_at=? WHERE receipt_id=?",
                        (*problem, acked_at, receipt_id),
                    )
                    continue
                entity = payload[self.kind.id_field]
                # a number withdrawn is void: an older version under it, decided late, takes no effect
                if not self.db.execute("SELECT 1 FROM withdrawn WHERE case_id = ?", (entity,)).fetchone():
                    self.db.execute(
                        "INSERT INTO applied VALUES (?, ?, 1) "
                        "ON CONFLICT (case_id, version) DO UPDATE SET times = times + 1",
                        (entity, int(payload["version"])),
                    )
                for withdrawn in str(payload.get("withdrawnCaseNos") or "").split(","):
                    if withdrawn and withdrawn != entity:  # the case no longer held under it
                        self.db.execute("DELETE FROM applied WHERE case_id = ?", (withdrawn,))
                        self.db.execute("INSERT OR IGNORE INTO withdrawn VALUES (?)", (withdrawn,))
                self.db.execute(
                    "UPDATE receipts SET status='accepted', code='0', message='接收成功', acked_at=? "
                    "WHERE receipt_id=?",
                    (acked_at, receipt_id),
                )
            self.db.execute("COMMIT")

    def receipts(self, ids: list[str], duplicate_rate: float = 0.0) -> list[dict]:
        self.settle()
        marks = ",".join("?" * len(ids))
        with self.lock:
            rows = self.db.execute(
                f"SELECT receipt_id, status, code, message, acked_at FROM receipts WHERE receipt_id IN ({marks})", ids
            ).fetchall()
            twice = [r for r in rows if r[1] != "pending" and self.rng.random() < duplicate_rate]
        return [
            {"receiptId": r[0], "status": r[1], "code": r[2], "message": r[3], "ackedAt": r[4]} for r in rows + twice
        ]

    def holdings(self) -> list[dict]:
        """Per case the version in effect (the newest applied) and how many applications were repeats."""
        self.settle()
        with self.lock:
            rows = self.db.execute(
                "SELECT a.case_id, a.version, a.repeats, (SELECT MAX(r.receipt_id) FROM receipts r "
                "WHERE r.case_id = a.case_id AND r.version = a.version AND r.status = 'accepted') "
                "FROM (SELECT case_id, MAX(version) AS version, SUM(times - 1) AS repeats FROM applied "
                "GROUP BY case_id) a ORDER BY a.case_id"
            ).fetchall()
        return [{"entityId": r[0], "version": r[1], "duplicateEffects": r[2], "receiptId": r[3]} for r in rows]

    def payloads(self) -> list[str]:
        with self.lock:
            return [row[0] for row in self.db.execute("SELECT payload FROM receipts ORDER BY rowid")]

    def stats(self) -> dict:
        self.settle()
        with self.lock:
            statuses = dict(self.db.execute("SELECT status, COUNT(*) FROM receipts GROUP BY status").fetchall())
            received, duplicates = self.db.execute(
                "SELECT COUNT(DISTINCT case_id), COALESCE(SUM(times - 1), 0) FROM applied"
            ).fetchone()
        return {
            "received_cases": received,
            "duplicate_effects": duplicates,
            "accepted": statuses.get("accepted", 0),
            "rejected": statuses.get("rejected", 0),
            "pending": statuses.get("pending", 0),
        }


#: Codes the platform checks where a payload carries them (they may be left out).
OPTIONAL_CODED = {"submissionChannel": "handle_form", "deliveryMethod": "municipal_delivery"}


def _municipal_business_checks(payloads: list[dict]) -> list[tuple[str, str] | None]:
    """The platform's batch check: (code, message) per rejected payload, None where it is accepted. The city
    takes the national codes (the sandbox's own copies, ``sandbox/province/codes.yaml``) and the 办件编号 rule."""
    checksum_ok = [applicant_id_ok(p.get("applicantId")) for p in payloads]  # the platform's own check
    lists = province_codes()
    coded = {"status": "project_state", "applicantType": "applyer_type", "applicantIdType": "cert_type"}
    problems: list[tuple[str, str] | None] = []
    for payload, ok in zip(payloads, checksum_ok, strict=True):
        unknown = [k for k, name in coded.items() if str(payload.get(k)) not in lists[name]]
        unknown += [k for k, name in OPTIONAL_CODED.items() if payload.get(k) not in (None, "") and
                    str(payload[k]) not in lists[name]]  # fmt: skip
        if why := case_number_problem(str(payload.get("caseNo") or "")):
            problems.append(("E2001", why))
        elif unknown:
            problems.append(("E2002", "代码不在代码表中: " + ",".join(unknown)))
        elif why := uscc_problem(str(payload.get("handlingDept") or "")):
            problems.append(("E2004", f"承办部门编码{why}"))
        elif not payload.get("contactPhone"):
            problems.append(("E2011", "联系电话不能为空"))
        elif not ok:
            problems.append(("E2003", "申请人证件号码缺失或校验不通过"))
        else:
            problems.append(None)
    return problems


def _supervision_checks(payloads: list[dict]) -> list[tuple[str, str] | None]:
    """The supervision intake refuses a licence it cannot route to a supervising department."""
    return [None if p.get("supervisingDept") else ("E3001", "无法确定监管部门") for p in payloads]


MUNICIPAL = IntakeKind(
    "sandbox municipal integrated platform (常州市一体化平台)",
    "caseNo",
    ("caseNo", "version", "itemCode", "itemName", "applicantName", "status"),
    _municipal_business_checks,
)
SUPERVISION = IntakeKind(
    "sandbox approval–supervision intake (审管互动平台)",
    "licenceKey",
    ("licenceKey", "version", "licenceId", "licenceNo", "licenceName", "holderName", "status"),
    _supervision_checks,
)


def municipal_app(
    state: MunicipalState,
    *,
    app_key: str,
    app_secret: str,
    seed: int = 0,
    findings: tuple[list[dict], str, str] | None = None,
) -> FastAPI:
    """A signed intake with idempotency keys, receipts acknowledged later and a batch endpoint; what it requires
    and checks comes from the state's :class:`IntakeKind`. ``findings``: the 审管互动 platform's findings about
    holders with the app key and secret it signs with, served page-style at ``/openapi/supervision/findings``
    (changed field GXSJ) on the same host (the supervision platform's other direction)."""
    app = FastAPI(title=state.kind.title)

    def _missing_fields(payload: dict) -> str | None:
        missing = [f for f in state.kind.required if payload.get(f) in (None, "")]
        return "必填字段缺失: " + ",".join(missing) if missing else None

    fault_kit.install(app, state.faults, random.Random(seed))
    secrets, nonces = {app_key: app_secret}, SeenNonces()

    @app.post("/gateway/v1/cases")
    async def receive(request: Request):
        if reason := await _check_signature(request, secrets, nonces):
            return _refuse(reason)
        key = request.headers.get("Idempotency-Key")
        if not key:
            return JSONResponse({"code": "E1000", "msg": "缺少 Idempotency-Key"}, status_code=400)
        payload = json.loads(await request.body())
        if refusal := _missing_fields(payload):
            return JSONResponse({"code": "E1001", "msg": refusal}, status_code=400)
        (answer,) = state.receive([(key, payload)], app.state.faults.ack_delay_seconds)
        answer.pop("idempotencyKey")
        return JSONResponse(answer, status_code=200 if answer["code"] == "0" else 422)

    @app.post("/gateway/v1/cases/batch")
    async def receive_batch(request: Request):
        """Up to 500 cases; each item carries its own idempotency key and is answered on its own."""
        if reason := await _check_signature(request, secrets, nonces):
            return _refuse(reason)
        cases = json.loads(await request.body()).get("cases") or []
        if len(cases) > 500 or any(not c.get("idempotencyKey") for c in cases):
            return JSONResponse({"code": "E1000", "msg": "批量报文超过 500 条或缺少 idempotencyKey"}, status_code=400)
        answers, accepted = [], []
        for case in cases:
            key = case.pop("idempotencyKey")
            if refusal := _missing_fields(case):
                answers.append({"idempotencyKey": key, "code": "E1001", "msg": refusal})
            else:
                accepted.append((key, case))
        answers += state.receive(accepted, app.state.faults.ack_delay_seconds)
        return {"code": "0", "data": answers}

    @app.get("/gateway/v1/receipts")
    async def receipts(request: Request, ids: str):
        if reason := await _check_signature(request, secrets, nonces):
            return _refuse(reason)
        return {"code": "0", "data": state.receipts(ids.split(","), app.state.faults.duplicate_ack_rate)}

    if findings is not None:
        found_rows, (findings_key, findings_secret) = findings[0], findings[1:]
        listed = sorted(found_rows, key=lambda r: (r["GXSJ"], r["JGJGBH"]))
        findings_secrets, findings_nonces = {findings_key: findings_secret}, SeenNonces()

        @app.get("/openapi/supervision/findings")
        async def list_findings(
            request: Request, updatedFrom: str, updatedTo: str, pageNo: int = 1, pageSize: int = 100
        ):
            if reason := await _check_signature(request, findings_secrets, findings_nonces):
                return _refuse(reason)
            if pageSize > 500:
                return JSONResponse({"code": "400", "msg": "pageSize 不能超过 500"}, status_code=400)
            rows = [r for r in listed if updatedFrom <= r["GXSJ"] < updatedTo]
            page = rows[(pageNo - 1) * pageSize : pageNo * pageSize]
            return {"code": "200", "msg": "成功", "data": {"total": len(rows), "pageNo": pageNo, "rows": page}}

    @app.get("/_sandbox/holdings")
    async def holdings() -> dict:
        return {"data": state.holdings()}

    @app.get("/_sandbox/stats")
    async def stats() -> dict:
        return state.stats()

    @app.get("/_sandbox/payloads")
    async def payloads() -> list[str]:
        """Every document received, as sent (for tests that check what reached the platform)."""
        return state.payloads()

    return app
