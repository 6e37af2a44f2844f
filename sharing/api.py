"""The licence sharing API (证照共享, "一次录入、共享复用"): departments read licences the government already issued,
each under the purpose it registered in ``schemas/codes/sharing_clients.csv``, and every read is audited.

Every request, allowed or refused, writes one ``licence_access_log`` row before it is answered: a read whose
audit row cannot be written fails rather than returning data. Identity numbers never reach that log (the
holder column holds the masked code), nor uvicorn's access log (``serve`` turns it off).
"""

import datetime as dt
import hmac
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

import pandas as pd
import sqlalchemy as sa
from fastapi import FastAPI, Path, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from core import clock
from core.warehouse import Warehouse
from schemas import licences as licence_rules
from schemas.identifiers import (
    ID_KIND_RIC,
    ID_KIND_USCC,
    is_valid_uscc,
    mask_identifier_series,
    normalize_code,
    upgrade_ric15,
)
from schemas.warehouse import holder_codes, holders, licence_access_log, licences

log = logging.getLogger(__name__)

SANDBOX_KEY = "sandbox-licence-key-{caller}"  # the embedded default, like the other sandbox credentials
KEY_HEADER = "X-Api-Key"
USCC_TYPE = licence_rules.HOLDER_CODE_TYPES[ID_KIND_USCC]  # 001 统一社会信用代码; 111 is 公民身份号码
VALID = licence_rules.VALID
EXPIRED = "过期失效"
ALLOWED, REFUSED = "allowed", "refused"
UNKNOWN_CALLER = "unknown"
_CASE_NO_MAX = licence_access_log.c.case_no.type.length


# ---------------------------------------------------------------- the register of callers
@dataclass(frozen=True)
class SharingClient:
    """A department registered to read licences: for one purpose, of some types, with or without personal data."""

    caller: str
    caller_name: str
    purpose: str
    licence_types: frozenset[str] | None  # None: every type (``*`` in the register)
    personal_data: bool

    def covers(self, licence_type_code: str) -> bool:
        return self.licence_types is None or licence_type_code in self.licence_types


@cache
def sharing_clients() -> dict[str, SharingClient]:
    register = licence_rules.sharing_clients()
    return {
        row.caller: SharingClient(
            caller=row.caller,
            caller_name=row.caller_name,
            purpose=row.purpose,
            licence_types=None if row.licence_type_codes.strip() == "*" else _type_set(row.licence_type_codes),
            personal_data=row.personal_data.strip().lower() == "yes",
        )
        for row in register.itertuples(index=False)
    }


def _type_set(codes: str) -> frozenset[str]:
    return frozenset(code.strip() for code in codes.split("|") if code.strip())


def key_variable(caller: str) -> str:
    return f"LICENCE_API_KEY_{caller.upper()}"


def api_keys(callers: Iterable[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Each caller's key: ``overrides``, else ``LICENCE_API_KEY_<CALLER>``, else the sandbox default."""
    callers = list(callers)
    unknown = sorted(set(overrides or {}) - set(callers))
    if unknown:
        raise ValueError(f"keys for callers not in sharing_clients.csv: {', '.join(unknown)}")
    keys = {caller: os.environ.get(key_variable(caller)) or SANDBOX_KEY.format(caller=caller) for caller in callers}
    keys.update(overrides or {})
    return keys


# ---------------------------------------------------------------- masking
def mask_personal(code: str | None) -> str | None:
    """Mask a code as a 身份证号 (region and last four kept), whatever its shape: the holder's code type decides,
    not a re-classification, so a mistyped number, or one that happens to pass the USCC check, stays hidden."""
    if not code:
        return code
    return mask_identifier_series(pd.Series([code], dtype="string"), pd.Series([ID_KIND_RIC])).iloc[0]


def is_public(code: str | None, code_type: str | None) -> bool:
    """A legal person's USCC, which is not personal data. The check digit must hold as well: a holder known only
    by a code that fails it (``holder_codes.how = unverified``) may be a mistyped 身份证号 typed as a USCC."""
    return code_type == USCC_TYPE and is_valid_uscc(code)


def shown_code(code: str | None, code_type: str | None, caller: SharingClient) -> str | None:
    """A holder code as a caller may see it: USCCs (legal persons) always; anything else only with personal data."""
    return code if caller.personal_data or is_public(code, code_type) else mask_personal(code)


PERSON_NAME = re.compile(r"[\u4e00-\u9fff·]{2,5}")


def shown_name(name: str | None, code_type: str | None, caller: SharingClient) -> str | None:
    """A natural person's name (张伟) is personal data too: only its first character without personal-data rights.
    A shop's name (武进区雪堰镇田洋理发店) is printed on its licence and stays."""
    if not name or caller.personal_data or code_type == USCC_TYPE or not PERSON_NAME.fullmatch(name):
        return name
    return name[0] + "*" * (len(name) - 1)


def logged_holder(code: str | None, code_type: str | None) -> str | None:
    """A holder code for the access log: a known legal person's USCC as it is, everything else masked."""
    return code if is_public(code, code_type) else mask_personal(code)


def holder_code_views(code: str | None, code_type: str | None, caller: SharingClient) -> tuple[str | None, str | None]:
    """(``shown_code``, ``logged_holder``) with one masking between them: masking one value goes through pandas."""
    logged = logged_holder(code, code_type)
    return (code if caller.personal_data else logged), logged


# ---------------------------------------------------------------- wire format
class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True)


class Holder(_Wire):
    holder_code: str | None = Field(
        description="持证主体代码: a USCC is shown; a 身份证号 is masked (region and last four) unless the caller's "
        "purpose is registered for personal data"
    )
    holder_code_type: str = Field(description="持证主体代码类型 (GB/T 36903): 001 统一社会信用代码, 111 公民身份号码")
    holder_name: str = Field(description="持证主体名称")


class Licence(_Wire):
    licence_id: str = Field(description="证照标识 (GB/T 36904): the licence's identifier across the country")
    licence_type_code: str = Field(description="证照类型代码 (GB/T 36902)")
    licence_name: str = Field(description="证照名称")
    licence_no: str = Field(description="证照编号, as printed on the licence")
    holder_name: str = Field(description="持证主体")
    holder_code: str | None = Field(description="持证主体代码, masked as in `Holder`")
    holder_code_type: str | None = Field(description="001 统一社会信用代码, 111 公民身份号码")
    issuer_name: str = Field(description="发证机构")
    issuer_code: str = Field(description="发证机构代码 (USCC)")
    issue_date: dt.date = Field(description="发证日期")
    valid_from: dt.date = Field(description="有效期起始日期")
    valid_to: dt.date | None = Field(description="有效期截止日期; null: 长期有效")
    status: str = Field(
        description="证照状态: 有效 / 暂扣 / 撤销 / 注销 / 吊销 / 过期失效 (a licence past its end date reads 过期失效)"
    )
    area_code: str = Field(description="证照所属管辖属地编码 (GB/T 2260)")
    supervising_dept: str | None = Field(description="the department that supervises holders of this type")
    version: int = Field(description="grows with every change to the licence")
    updated_at: dt.datetime = Field(description="when the repository last changed it (Asia/Shanghai)")


class HolderLicences(_Wire):
    holder: Holder
    matched_by: Literal["identifier", "resolved", "unverified"] = Field(
        description="identifier: the code asked for is the holder's own; resolved: a mistyped code the repository "
        "has linked to this holder (compare holder.holderCode); unverified: the holder is known only by this code, "
        "which fails its check digit"
    )
    as_of: dt.date = Field(description="the day validity was judged on (Asia/Shanghai)")
    licences: list[Licence] = Field(description="currently valid licences of the types the caller's purpose covers")


class Verification(_Wire):
    matches: bool = Field(description="the licence number belongs to this holder and the licence is valid today")
    status: str | None = Field(description="the licence's status when the number belongs to the holder, else null")
    licence_id: str | None = Field(description="its 证照标识 when the number belongs to the holder, else null")


class Problem(BaseModel):
    detail: str


# ---------------------------------------------------------------- the service
class _Stop(Exception):
    """Ends a request early with an HTTP status; ``outcome`` is what the access log records."""

    def __init__(self, status: int, reason: str, outcome: str = REFUSED) -> None:
        super().__init__(reason)
        self.status, self.reason, self.outcome = status, reason, outcome


@dataclass
class _Access:
    """One request as the access log records it."""

    action: str
    case_no: str | None
    client: str | None
    asked_code: str | None = None  # as the caller sent it: only ever logged masked, when no holder was found
    holder: str | None = None  # masked
    caller: SharingClient | None = None
    licence_key: str | None = None


_LICENCE_COLUMNS = [licences.c[name] for name in ("licence_key", *Licence.model_fields)]
_HOLDER_COLUMNS = [holders.c.holder_id, holders.c.holder_code, holders.c.holder_code_type, holders.c.holder_name]


def _today() -> dt.date:
    return clock.today()


def _clip(text: str | None, length: int) -> str | None:
    return text[:length] if text else text


def is_current(row: Any, today: dt.date) -> bool:
    return row.status == VALID and row.valid_from <= today and (row.valid_to is None or row.valid_to >= today)


def effective_status(row: Any, today: dt.date) -> str:
    """The recorded status, except that a licence past its end date is 过期失效 even before the nightly run says so."""
    return EXPIRED if row.status == VALID and row.valid_to is not None and row.valid_to < today else row.status


class LicenceSharing:
    """Authentication, purpose binding, masking and the audit around every read."""

    def __init__(self, warehouse: Warehouse, clients: dict[str, SharingClient], keys: dict[str, str]) -> None:
        self.warehouse = warehouse
        self.clients = clients
        self.keys = [(caller, key.encode()) for caller, key in keys.items()]

    # ------------------------------------------------------------ the frame every endpoint runs in
    def authenticate(self, presented: str | None) -> SharingClient:
        if not presented:
            raise _Stop(401, f"missing {KEY_HEADER}")
        found = None
        for caller, key in self.keys:  # every key is compared, so timing does not tell which caller came close
            if hmac.compare_digest(presented.encode(), key):
                found = caller
        if found is None:
            raise _Stop(401, f"wrong {KEY_HEADER}")
        return self.clients[found]

    def handle(
        self,
        request: Request,
        action: str,
        api_key: str | None,
        case_no: str | None,
        work: Callable[[_Access, sa.Connection], tuple[BaseModel, str]],
        holder_code: str | None = None,
    ) -> BaseModel | JSONResponse:
        access = _Access(
            action=action,
            case_no=_clip(case_no, _CASE_NO_MAX),
            client=_clip(request.client.host if request.client else None, 64),
            asked_code=normalize_code(holder_code),
        )
        try:
            access.caller = self.authenticate(api_key)
            if not case_no or not case_no.strip():
                raise _Stop(400, "caseNo is required: the case this read is for")
            if len(case_no) > _CASE_NO_MAX:
                raise _Stop(400, f"caseNo longer than {_CASE_NO_MAX} characters")
            with self.warehouse.engine.connect() as conn:
                body, reason = work(access, conn)
        except _Stop as stop:
            self.audit(access, stop.outcome, stop.reason)
            return JSONResponse({"detail": stop.reason}, status_code=stop.status)
        except Exception:
            self.audit(access, REFUSED, "internal error")
            raise
        self.audit(access, ALLOWED, reason)  # before answering: no read leaves without its audit row
        return body

    def audit(self, access: _Access, outcome: str, reason: str) -> None:
        caller = access.caller
        with self.warehouse.begin() as conn:
            conn.execute(
                licence_access_log.insert().values(
                    at=clock.now(),
                    caller=caller.caller if caller else UNKNOWN_CALLER,
                    purpose=_clip(caller.purpose, 64) if caller else None,
                    action=access.action,
                    case_no=access.case_no,
                    licence_key=access.licence_key,
                    holder=access.holder if access.holder is not None else logged_holder(access.asked_code, None),
                    outcome=outcome,
                    reason=_clip(reason, 128),
                    client=access.client,
                )
            )

    # ------------------------------------------------------------ reads
    @staticmethod
    def find_holder(conn: sa.Connection, code: str | None) -> Any:
        """The holder a code names, through every code sources wrote for it (its own first, then mistyped ones)."""
        code = normalize_code(code)
        if not code:
            return None
        candidates = [code, upgrade_ric15(code)] if code.isdigit() and len(code) == 15 else [code]
        return conn.execute(
            sa.select(*_HOLDER_COLUMNS, holder_codes.c.how)
            .join_from(holder_codes, holders, holder_codes.c.holder_id == holders.c.holder_id)
            .where(holder_codes.c.code.in_(candidates))
            .order_by(holder_codes.c.how)  # identifier before resolved
            .limit(1)
        ).first()

    @staticmethod
    def licence(row: Any, holder_code: str | None, today: dt.date, caller: SharingClient) -> Licence:
        """A licence row on the wire, with its holder's code and name as the caller may see them."""
        fields = {name: getattr(row, name) for name in Licence.model_fields}
        fields["holder_code"] = holder_code
        fields["holder_name"] = shown_name(row.holder_name, row.holder_code_type, caller)
        fields["status"] = effective_status(row, today)
        return Licence(**fields)

    def lookup(
        self, access: _Access, conn: sa.Connection, holder_code: str, types: list[str] | None
    ) -> tuple[HolderLicences, str]:
        caller, today = access.caller, _today()
        holder = self.find_holder(conn, holder_code)
        if holder is None:
            raise _Stop(404, "no such holder", ALLOWED)
        holder_shown, access.holder = holder_code_views(holder.holder_code, holder.holder_code_type, caller)
        asked = {t.strip() for t in types or [] if t.strip()}
        outside = sorted(t for t in asked if not caller.covers(t))
        if outside:
            raise _Stop(403, f"type outside purpose: {', '.join(outside)}")
        rows = conn.execute(
            sa.select(*_LICENCE_COLUMNS)
            .where(
                licences.c.holder_id == holder.holder_id,
                licences.c.status == VALID,
                licences.c.valid_from <= today,
                sa.or_(licences.c.valid_to.is_(None), licences.c.valid_to >= today),
            )
            .order_by(licences.c.licence_type_code, licences.c.issue_date)
        ).all()

        def code_on(row: Any) -> str | None:  # the holder's licences carry its code: masked once above
            same = (row.holder_code, row.holder_code_type) == (holder.holder_code, holder.holder_code_type)
            return holder_shown if same else shown_code(row.holder_code, row.holder_code_type, caller)

        withheld = sum(not caller.covers(row.licence_type_code) for row in rows)
        shown = [
            self.licence(row, code_on(row), today, caller)
            for row in rows
            if caller.covers(row.licence_type_code) and (not asked or row.licence_type_code in asked)
        ]
        body = HolderLicences(
            holder=Holder(
                holder_code=holder_shown,
                holder_code_type=holder.holder_code_type,
                holder_name=shown_name(holder.holder_name, holder.holder_code_type, caller),
            ),
            matched_by=holder.how,
            as_of=today,
            licences=shown,
        )
        reason = f"{len(shown)} licences" + (f"; {withheld} withheld: types outside purpose" if withheld else "")
        return body, reason

    def fetch(self, access: _Access, conn: sa.Connection, licence_id: str) -> tuple[Licence, str]:
        row = conn.execute(sa.select(*_LICENCE_COLUMNS).where(licences.c.licence_id == licence_id.strip())).first()
        if row is None:
            raise _Stop(404, "no such licence", ALLOWED)
        access.licence_key = row.licence_key
        holder_shown, access.holder = holder_code_views(row.holder_code, row.holder_code_type, access.caller)
        if not access.caller.covers(row.licence_type_code):
            raise _Stop(403, f"type outside purpose: {row.licence_type_code}")
        body = self.licence(row, holder_shown, _today(), access.caller)
        return body, f"status {body.status}"

    def verify(
        self, access: _Access, conn: sa.Connection, licence_no: str | None, holder_code: str | None
    ) -> tuple[Verification, str]:
        if not licence_no or not holder_code:
            raise _Stop(400, "licenceNo and holderCode are required")
        holder = self.find_holder(conn, holder_code)
        if holder is None:
            return Verification(matches=False, status=None, licence_id=None), "no such holder"
        access.holder = logged_holder(holder.holder_code, holder.holder_code_type)
        wanted = normalize_code(licence_no)
        # The holder's licences come through the holder index; numbers are compared as normalise_code reads them.
        rows = [
            row
            for row in conn.execute(sa.select(*_LICENCE_COLUMNS).where(licences.c.holder_id == holder.holder_id))
            if normalize_code(row.licence_no) == wanted
        ]
        if not rows:
            return Verification(matches=False, status=None, licence_id=None), "number not the holder's"
        covered = [row for row in rows if access.caller.covers(row.licence_type_code)]
        if not covered:
            access.licence_key = rows[0].licence_key
            raise _Stop(403, f"type outside purpose: {rows[0].licence_type_code}")
        today = _today()
        best = max(covered, key=lambda row: (is_current(row, today), row.issue_date, row.version))
        access.licence_key = best.licence_key
        matches, status = is_current(best, today), effective_status(best, today)
        body = Verification(matches=matches, status=status, licence_id=best.licence_id)
        return body, "matches" if matches else f"not valid: {status}"


# ---------------------------------------------------------------- the app
DESCRIPTION = """
电子证照共享接口: departments reuse licences the government already issued instead of asking applicants for
copies ("一次录入、共享复用").

* **Keys.** Each registered caller has its own key (`LICENCE_API_KEY_<CALLER>`), sent as `X-Api-Key`.
* **Purpose binding.** Every read names the case it is for (`caseNo`, required; 400 without it) and returns only
  licence types the caller's registered purpose covers (`schemas/codes/sharing_clients.csv`); other types are
  left out of lookups and refused (403) when asked for directly.
* **Masking.** 身份证号 of natural-person holders are masked unless the purpose is registered for personal data;
  USCCs of legal persons are shown.
* **Audit.** Every request, allowed or refused, is recorded in `licence_access_log` before it is answered.
"""

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "caseNo (or another required parameter) missing"},
    401: {"model": Problem, "description": "X-Api-Key missing or wrong"},
    403: {"model": Problem, "description": "licence type outside the caller's registered purpose"},
}
_CASE_NO = Query(
    alias="caseNo",
    description=f"办件编号 of the case this read is for (required, at most {_CASE_NO_MAX} characters; 400 without it)",
)

ApiKey = Annotated[str | None, Security(APIKeyHeader(name=KEY_HEADER, auto_error=False))]
CaseNo = Annotated[str | None, _CASE_NO]


def create_app(warehouse_url: str, keys: dict[str, str] | None = None) -> FastAPI:
    """The sharing API over the warehouse at ``warehouse_url`` (one engine for the app's lifetime).

    ``keys`` (caller → key) overrides ``LICENCE_API_KEY_<CALLER>`` and the sandbox defaults."""
    clients = sharing_clients()
    resolved_keys = api_keys(clients, keys)
    on_sandbox = [c for c, k in resolved_keys.items() if k == SANDBOX_KEY.format(caller=c)]
    if on_sandbox:
        log.warning("sandbox keys in use for %s: set %s", ", ".join(on_sandbox), key_variable("<caller>"))
    warehouse = Warehouse(url=warehouse_url)
    # A failed statement prints its parameters, holder codes among them, into the server log: not these.
    warehouse.engine.hide_parameters = True
    service = LicenceSharing(warehouse, clients, resolved_keys)

    app = FastAPI(title="电子证照共享接口 · Licence sharing API", description=DESCRIPTION, version="1.0")
    app.state.sharing = service

    @app.get(
        "/v1/holders/{holder_code}/licences",
        response_model=HolderLicences,
        responses={**_ERRORS, 404: {"model": Problem, "description": "no holder known by this code"}},
        summary="A holder's currently valid licences",
        tags=["licences"],
    )
    def holder_licences(
        request: Request,
        api_key: ApiKey,
        holder_code: Annotated[
            str,
            Path(description="持证主体代码: USCC or 身份证号; a mistyped code the repository has linked still finds"),
        ],
        case_no: CaseNo = None,
        licence_types: Annotated[
            list[str] | None, Query(alias="type", description="证照类型代码 to narrow to (repeatable)")
        ] = None,
    ):
        """Licences with status 有效 whose validity covers today, of the types the caller's purpose covers."""
        return service.handle(
            request,
            "lookup",
            api_key,
            case_no,
            lambda access, conn: service.lookup(access, conn, holder_code, licence_types),
            holder_code=holder_code,
        )

    @app.get(
        "/v1/licences/{licence_id}",
        response_model=Licence,
        responses={**_ERRORS, 404: {"model": Problem, "description": "no licence with this 证照标识"}},
        summary="One licence by 证照标识, whatever its status",
        tags=["licences"],
    )
    def licence(
        request: Request,
        api_key: ApiKey,
        licence_id: Annotated[str, Path(description="证照标识 (GB/T 36904)")],
        case_no: CaseNo = None,
    ):
        """Any status, so a caller sees that a licence was revoked or suspended; 403 outside the caller's purpose."""
        return service.handle(
            request, "fetch", api_key, case_no, lambda access, conn: service.fetch(access, conn, licence_id)
        )

    @app.get(
        "/v1/verify",
        response_model=Verification,
        responses=_ERRORS,
        summary="Does this licence number belong to this holder, and is it valid?",
        tags=["licences"],
    )
    def verify(
        request: Request,
        api_key: ApiKey,
        licence_no: Annotated[str | None, Query(alias="licenceNo", description="证照编号 as printed")] = None,
        holder_code: Annotated[str | None, Query(alias="holderCode", description="持证主体代码")] = None,
        case_no: CaseNo = None,
    ):
        """``matches`` is true only when the number is the holder's and the licence is valid today."""
        return service.handle(
            request,
            "verify",
            api_key,
            case_no,
            lambda access, conn: service.verify(access, conn, licence_no, holder_code),
            holder_code=holder_code,
        )

    _document_case_no(app)
    return app


def _document_case_no(app: FastAPI) -> None:
    """caseNo is optional to the framework only so that a request without it is answered 400 and audited (a
    framework 422 would be neither); the published schema says what the API requires."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for operation in (op for path in schema["paths"].values() for op in path.values()):
                operation["responses"].pop("422", None)  # every parameter is a string: nothing for it to reject
                for parameter in operation.get("parameters", []):
                    if parameter["name"] in ("caseNo", "licenceNo", "holderCode"):
                        parameter["required"] = True
                        parameter["schema"] = {"type": "string", "minLength": 1}
                        if parameter["name"] == "caseNo":
                            parameter["schema"]["maxLength"] = _CASE_NO_MAX
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
        return app.openapi_schema

    app.openapi = openapi
