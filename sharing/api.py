"""The licence sharing API (证照共享, "一次录入、共享复用"): departments read licences the government already issued,
each under the purpose it registered in ``schemas/codes/sharing_clients.csv``, and every read is audited.

Each request goes through the same frame, in this order (``LicenceSharing.handle``): the address's rate limit,
every parameter checked (``sharing.guard``), the key (with a stricter limit on failures), the key's rate limit,
the case number's shape for that caller, then the read. Every request, allowed or refused at any of those
steps, writes one ``licence_access_log`` row before it is answered: a read whose audit row cannot be written
is not answered. What a caller sent is stored only masked (``guard.audit_text``); identity numbers never reach
that log (the holder column holds the masked code), nor uvicorn's access log (``serve`` turns it off).

A caller learns nothing about licences outside its purpose: the reads look only at the types it covers, so such
a licence answers exactly as one that does not exist, and a holder known only through them as an unknown one.
docs/security.md is the whole account.
"""

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import FastAPI, Path, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import clock
from core.warehouse import Warehouse
from reporting.definitions import definitions
from schemas import licences as licence_rules
from schemas.case import items
from schemas.identifiers import (
    ID_KIND_USCC,
    is_national_case_no,
    is_valid_uscc,
    mask_code,
    normalize_code,
    upgrade_ric15,
)
from schemas.warehouse import case_parties, findings, holder_codes, holders, licence_access_log, licences
from sharing.guard import (
    MAX_TYPES,
    REQUIRED,
    RULES,
    Asked,
    Limits,
    Network,
    RateLimiter,
    Refusal,
    Rule,
    audit_code,
    audit_text,
    check_parameters,
    client_address,
    is_case_no,
)
from sharing.keys import NEXT, SANDBOX_KEY, Key, KeyProblem, KeyRing, api_keys, key_variable, sandbox_key

__all__ = ["SANDBOX_KEY", "KeyProblem", "api_keys", "create_app", "key_variable", "sharing_clients"]

log = logging.getLogger(__name__)

KEY_HEADER = "X-Api-Key"
USCC_TYPE = licence_rules.HOLDER_CODE_TYPES[ID_KIND_USCC]  # 001 统一社会信用代码; 111 is 公民身份号码
VALID = licence_rules.VALID
EXPIRED = "过期失效"
ALLOWED, REFUSED = "allowed", "refused"
UNKNOWN_CALLER = "unknown"
_CASE_NO_MAX = licence_access_log.c.case_no.type.length
_HOLDER_MAX = licence_access_log.c.holder.type.length
NO_SUCH_HOLDER = "no such holder"
NOT_A_PARTY = "holder not a party of the case caseNo names"
CASE_NOT_KNOWN = " (case not yet known)"  # on an answered read: its binding is judged by the purpose mart later


# ---------------------------------------------------------------- the register of callers
@dataclass(frozen=True)
class SharingClient:
    """A department registered to read licences: for one purpose, of some types, with or without personal data,
    for cases numbered nationally or in its own system's registered shape."""

    caller: str
    caller_name: str
    purpose: str
    licence_types: frozenset[str] | None  # None: every type (``*`` in the register)
    personal_data: bool
    case_no_pattern: re.Pattern[str] | None = None
    findings: bool = False  # may read holders' open supervision findings (审管互动) and credit flag

    def covers(self, licence_type_code: str) -> bool:
        return self.licence_types is None or licence_type_code in self.licence_types


@cache
def licence_types() -> frozenset[str]:
    """The registered 证照类型代码: those of the catalogue's items (``schemas/codes/items.csv``)."""
    return frozenset(code for code in items()["licence_type_code"].dropna() if str(code).strip())


@cache
def sharing_clients() -> dict[str, SharingClient]:
    register = licence_rules.sharing_clients()
    clients = {}
    for row in register.itertuples(index=False):
        types = None if row.licence_type_codes.strip() == "*" else _type_set(row.licence_type_codes)
        if unknown := sorted((types or set()) - licence_types()):
            raise ValueError(f"sharing_clients.csv, {row.caller}: licence types not in items.csv: {', '.join(unknown)}")
        try:
            pattern = re.compile(row.case_no_pattern.strip()) if row.case_no_pattern.strip() else None
        except re.error as error:
            raise ValueError(f"sharing_clients.csv, {row.caller}: case_no_pattern does not compile: {error}") from None
        clients[row.caller] = SharingClient(
            caller=row.caller,
            caller_name=row.caller_name,
            purpose=row.purpose,
            licence_types=types,
            personal_data=row.personal_data.strip().lower() == "yes",
            case_no_pattern=pattern,
            findings=str(getattr(row, "supervision_findings", "no")).strip().lower() == "yes",
        )
    return clients


def _type_set(codes: str) -> frozenset[str]:
    return frozenset(code.strip() for code in codes.split("|") if code.strip())


# ---------------------------------------------------------------- masking
def is_public(code: str | None, code_type: str | None) -> bool:
    """A legal person's USCC, which is not personal data. The check digit must hold as well: a holder known only
    by a code that fails it (``holder_codes.how = unverified``) may be a mistyped 身份证号 typed as a USCC."""
    return code_type == USCC_TYPE and is_valid_uscc(code)


def shown_code(code: str | None, code_type: str | None, caller: SharingClient) -> str | None:
    """A holder code as a caller may see it: USCCs (legal persons) always; anything else only with personal data."""
    return code if caller.personal_data or is_public(code, code_type) else mask_code(code)


PERSON_NAME = re.compile(r"[\u4e00-\u9fff·]{2,5}")


def shown_name(name: str | None, code_type: str | None, caller: SharingClient) -> str | None:
    """A natural person's name (张伟) is personal data too: only its first character without personal-data rights.
    A shop's name (武进区雪堰镇田洋理发店) is printed on its licence and stays."""
    if not name or caller.personal_data or code_type == USCC_TYPE or not PERSON_NAME.fullmatch(name):
        return name
    return name[0] + "*" * (len(name) - 1)


def logged_holder(code: str | None, code_type: str | None) -> str | None:
    """A holder code for the access log: a known legal person's USCC as it is, everything else masked."""
    return code if is_public(code, code_type) else mask_code(code)


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


class Finding(_Wire):
    finding_id: str = Field(description="监管结果编号, as the supervision platform numbers it")
    kind: str = Field(
        description="inspection (检查结果), rectification (责令整改), suspension (暂扣), revocation (吊销), blacklist "
        "(严重失信), commitment_untrue (告知承诺核查不实)"
    )
    result: str | None = Field(description="an inspection's result: pass / fail")
    department: str | None = Field(description="the supervising department, as the platform names it")
    decided_date: dt.date | None = Field(description="the date the supervisor decided (its 决定 date)")
    effective_date: dt.date | None = Field(description="the date it took effect")
    end_date: dt.date | None = Field(description="a suspension's last day")
    licence_id: str | None = Field(description="证照标识 of the licence it concerns, when it names exactly one")


class HolderFindings(_Wire):
    holder: Holder | None = Field(description="the holder as the repository knows it; null when only findings know it")
    as_of: dt.date = Field(description="the day openness was judged on (Asia/Shanghai)")
    credit_flag: bool = Field(
        description="an open finding of a credit kind (严重失信主体名单): reportable for 容缺/告知承诺"
    )
    open_findings: list[Finding] = Field(description="findings still in force: not closed, a suspension not ended")


class Problem(BaseModel):
    detail: str


# ---------------------------------------------------------------- the service
class _Stop(Refusal):
    """Ends a request after authentication with an HTTP status; ``outcome`` is what the access log records."""

    def __init__(self, status: int, reason: str, outcome: str = REFUSED) -> None:
        super().__init__(status, reason)
        self.outcome = outcome


@dataclass
class _Access:
    """One request as the access log records it: nothing here is stored as the caller sent it."""

    action: str
    client: str | None
    case_no: str | None = None  # a checked case number as it is; anything else through audit_text
    holder: str | None = None  # masked
    caller: SharingClient | None = None
    licence_key: str | None = None
    note: str = ""  # appended to the reason (the rotation's next key)


@dataclass(frozen=True)
class Action:
    """An endpoint's name in the log and the parameters it takes."""

    name: str
    parameters: tuple[str, ...]


LOOKUP = Action("lookup", ("holder_code", "caseNo", "type"))
FETCH = Action("fetch", ("licence_id", "caseNo"))
VERIFY = Action("verify", ("caseNo", "licenceNo", "holderCode"))
FINDINGS = Action("findings", ("holder_code", "caseNo"))
OTHER = "other"  # a path or method the API does not have

_LICENCE_COLUMNS = [licences.c[name] for name in ("licence_key", *Licence.model_fields)]
_HOLDER_COLUMNS = [holders.c.holder_id, holders.c.holder_code, holders.c.holder_code_type, holders.c.holder_name]
Work = Callable[[_Access, sa.Connection, Asked], tuple[BaseModel, str]]


def _today() -> dt.date:
    return clock.today()


def _clip(text: str | None, length: int) -> str | None:
    return text[:length] if text else text


def is_current(row: Any, today: dt.date) -> bool:
    return row.status == VALID and row.valid_from <= today and (row.valid_to is None or row.valid_to >= today)


def effective_status(row: Any, today: dt.date) -> str:
    """The recorded status, except that a licence past its end date is 过期失效 even before the nightly run says so."""
    return EXPIRED if row.status == VALID and row.valid_to is not None and row.valid_to < today else row.status


def _candidate_codes(code: str) -> list[str]:
    return [code, upgrade_ric15(code)] if code.isdigit() and len(code) == 15 else [code]


def is_party(conn: sa.Connection, case_no: str, codes: list[str], holder_ids: list[str]) -> bool | None:
    """Whether the holder a read asks about (``codes``: as the caller sent it and as the repository holds it;
    ``holder_ids``: the repository's holder, when the read found one) is a party of the case ``case_no`` names
    (``case_parties``, written by licensing/parties.py). Equal codes, or codes of one holder (a case written with
    a mistyped 身份证号 the repository resolved), are one party. None when the bridge knows no party of that number
    yet: the case may still be on its way."""
    p, hc = case_parties.c, holder_codes.c
    parties = {r[0] for r in conn.execute(sa.select(p.party_code).where(p.case_no == case_no))}
    if not parties:
        return None
    if set(codes) & parties:
        return True
    party_holders = {r[0] for r in conn.execute(sa.select(hc.holder_id).where(hc.code.in_(sorted(parties))))}
    asked = set(holder_ids)
    if party_holders and codes:
        asked |= {r[0] for r in conn.execute(sa.select(hc.holder_id).where(hc.code.in_(sorted(set(codes)))))}
    return bool(asked & party_holders)


class LicenceSharing:
    """Limits, parameter checks, authentication, purpose binding, masking and the audit around every read."""

    def __init__(
        self,
        warehouse: Warehouse,
        clients: dict[str, SharingClient],
        keys: KeyRing,
        limits: Limits | None = None,
        trusted_proxies: tuple[Network, ...] = (),
    ) -> None:
        self.warehouse = warehouse
        self.clients = clients
        self.keys = keys
        self.limiter = RateLimiter(limits or Limits())
        self.trusted_proxies = trusted_proxies
        self.types = licence_types()

    # ------------------------------------------------------------ the frame every request runs in
    def client(self, request: Request) -> str | None:
        peer = request.client.host if request.client else None
        return _clip(client_address(peer, request.headers.getlist("x-forwarded-for"), self.trusted_proxies), 64)

    def identify(self, presented: str | None, access: _Access) -> Key | None:
        """The key's owner, recorded for the audit; whether the request may go on is decided after the
        parameters (:meth:`authenticate`). An address that failed too often is refused for a while."""
        self.limiter.check("failed_auth_per_address", access.client or "-")
        key = self.keys.match(presented)
        if key is not None:
            access.caller = self.clients[key.caller]
            access.note = " (next key)" if key.slot == NEXT else ""
        return key

    def authenticate(self, key: Key | None, presented: str | None, access: _Access) -> SharingClient:
        if key is None:
            self.limiter.count("failed_auth_per_address", access.client or "-")
            raise Refusal(401, f"wrong {KEY_HEADER}" if presented else f"missing {KEY_HEADER}")
        return self.clients[key.caller]

    def handle(self, request: Request, action: Action, work: Work) -> BaseModel | JSONResponse:
        access = _Access(action=action.name, client=self.client(request))
        path, query = request.path_params, request.query_params.multi_items()
        # Until the parameters pass, they are kept only as the audit may hold them.
        raw_case_no = next((value for name, value in query if name == "caseNo"), None)
        # a national 办件编号 names a case, not a person: kept whole even when the request is refused before the
        # case number is checked, so the purpose mart can still tie the row to its case
        national = raw_case_no is not None and is_national_case_no(raw_case_no)
        access.case_no = raw_case_no if national else audit_text(raw_case_no, _CASE_NO_MAX)
        raw_holder = path.get("holder_code") or next((value for name, value in query if name == "holderCode"), None)
        access.holder = audit_code(raw_holder, _HOLDER_MAX)
        try:
            self.limiter.take("per_address", access.client or "-")
            presented = request.headers.get(KEY_HEADER)
            key = self.identify(presented, access)
            if access.caller is not None and raw_case_no and is_case_no(raw_case_no, access.caller.case_no_pattern):
                access.case_no = raw_case_no  # the caller's own shape, known once its key is: a case, not a person
            asked = check_parameters(path, query, action.parameters, self.types)
            asked_holder = asked.get("holder_code") or asked.get("holderCode")
            if asked_holder is not None:
                access.holder = logged_holder(asked_holder, None)
            caller = self.authenticate(key, presented, access)
            self.limiter.take("per_key", caller.caller)
            case_no = asked.get("caseNo")
            if not is_case_no(case_no, caller.case_no_pattern):
                raise Refusal(400, "caseNo: not a 办件编号 (national, or the shape registered for this caller)")
            access.case_no = case_no
            outside = [code for code in asked.types if not caller.covers(code)]
            if outside:  # the register answers this, not the repository: nothing about any holder is learned
                raise Refusal(403, f"type outside purpose: {', '.join(outside)}")
            with self.warehouse.engine.connect() as conn:
                body, reason = work(access, conn, asked)
        except Refusal as refusal:
            self.audit(access, getattr(refusal, "outcome", REFUSED), refusal.reason)
            headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
            return JSONResponse({"detail": refusal.reason}, status_code=refusal.status, headers=headers)
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
                    holder=access.holder,
                    outcome=outcome,
                    reason=audit_text(reason + access.note, 128),
                    client=access.client,
                )
            )

    # ------------------------------------------------------------ reads
    @staticmethod
    def bind(
        conn: sa.Connection, access: _Access, asked: Asked, codes: list[str | None], holder_id: str | None
    ) -> None:
        """A read answers only about a party of the case it names (its applicant, or its licences' holder): any
        other holder is refused (403), whether or not the repository knows it. A case the bridge has not recorded
        yet lets the read through, noted in its audit row, and the purpose mart judges it once the case came."""
        bound = is_party(conn, asked.get("caseNo"), [c for c in codes if c], [holder_id] if holder_id else [])
        if bound is False:
            raise Refusal(403, NOT_A_PARTY)
        if bound is None:
            access.note += CASE_NOT_KNOWN

    @staticmethod
    def covered(caller: SharingClient) -> list[Any]:
        """The condition that keeps a read to the caller's purpose: every read applies it in SQL."""
        return [] if caller.licence_types is None else [licences.c.licence_type_code.in_(sorted(caller.licence_types))]

    def holder_licences(self, conn: sa.Connection, code: str, caller: SharingClient) -> tuple[Any, list[Any]]:
        """The holder a code names and its licences of the types the caller covers, any status, in one query
        whether or not the holder exists: a holder with none of them is no holder to this caller."""
        found = (
            sa.select(holder_codes.c.holder_id, holder_codes.c.how)
            .where(holder_codes.c.code.in_(_candidate_codes(code)))
            .order_by(holder_codes.c.how)
            .limit(1)
            .subquery()
        )
        rows = conn.execute(
            sa.select(
                *(c.label(f"h_{c.name}") for c in _HOLDER_COLUMNS), found.c.how, *_LICENCE_COLUMNS, licences.c.holder_id
            )
            .select_from(found)
            .join(holders, holders.c.holder_id == found.c.holder_id)
            .join(licences, licences.c.holder_id == holders.c.holder_id)
            .where(*self.covered(caller))
            .order_by(licences.c.licence_type_code, licences.c.issue_date)
        ).all()
        return (rows[0] if rows else None), rows

    def bound_holder(self, conn: sa.Connection, access: _Access, asked: Asked, parameter: str) -> tuple[Any, list[Any]]:
        """:meth:`holder_licences` of the code in ``parameter``, once the read is :meth:`bind`-ed to its case."""
        code = asked.get(parameter)
        holder, rows = self.holder_licences(conn, code, access.caller)
        known = (holder.h_holder_code, holder.h_holder_id) if holder is not None else (None, None)
        self.bind(conn, access, asked, [*_candidate_codes(code), known[0]], known[1])
        return holder, rows

    @staticmethod
    def licence(row: Any, holder_code: str | None, today: dt.date, caller: SharingClient) -> Licence:
        """A licence row on the wire, with its holder's code and name as the caller may see them."""
        fields = {name: getattr(row, name) for name in Licence.model_fields}
        fields["holder_code"] = holder_code
        fields["holder_name"] = shown_name(row.holder_name, row.holder_code_type, caller)
        fields["status"] = effective_status(row, today)
        return Licence(**fields)

    def lookup(self, access: _Access, conn: sa.Connection, asked: Asked) -> tuple[HolderLicences, str]:
        caller, today = access.caller, _today()
        holder, rows = self.bound_holder(conn, access, asked, "holder_code")
        if holder is None:  # unknown, or known only through licences outside the purpose: the same answer
            raise _Stop(404, NO_SUCH_HOLDER, ALLOWED)
        holder_shown, access.holder = holder_code_views(holder.h_holder_code, holder.h_holder_code_type, caller)

        def code_on(row: Any) -> str | None:  # the holder's licences carry its code: masked once above
            same = (row.holder_code, row.holder_code_type) == (holder.h_holder_code, holder.h_holder_code_type)
            return holder_shown if same else shown_code(row.holder_code, row.holder_code_type, caller)

        shown = [
            self.licence(row, code_on(row), today, caller)
            for row in rows
            if is_current(row, today) and (not asked.types or row.licence_type_code in asked.types)
        ]
        body = HolderLicences(
            holder=Holder(
                holder_code=holder_shown,
                holder_code_type=holder.h_holder_code_type,
                holder_name=shown_name(holder.h_holder_name, holder.h_holder_code_type, caller),
            ),
            matched_by=holder.how,
            as_of=today,
            licences=shown,
        )
        return body, f"{len(shown)} licences"

    def fetch(self, access: _Access, conn: sa.Connection, asked: Asked) -> tuple[Licence, str]:
        row = conn.execute(
            sa.select(*_LICENCE_COLUMNS, licences.c.holder_id).where(
                licences.c.licence_id == asked.get("licence_id"), *self.covered(access.caller)
            )
        ).first()
        if row is None:  # unknown, or of a type outside the purpose: the same answer
            raise _Stop(404, "no such licence", ALLOWED)
        access.licence_key = row.licence_key
        holder_shown, access.holder = holder_code_views(row.holder_code, row.holder_code_type, access.caller)
        self.bind(conn, access, asked, [row.holder_code], row.holder_id)
        body = self.licence(row, holder_shown, _today(), access.caller)
        return body, f"status {body.status}"

    def verify(self, access: _Access, conn: sa.Connection, asked: Asked) -> tuple[Verification, str]:
        holder, rows = self.bound_holder(conn, access, asked, "holderCode")
        no_match = Verification(matches=False, status=None, licence_id=None)
        if holder is None:
            return no_match, NO_SUCH_HOLDER
        access.holder = logged_holder(holder.h_holder_code, holder.h_holder_code_type)
        wanted = asked.get("licenceNo")
        # numbers are compared as normalize_code reads them (spaces, dashes, full-width and case aside)
        theirs = [row for row in rows if normalize_code(row.licence_no) == normalize_code(wanted)]
        if not theirs:  # another holder's number, or this holder's of a type outside the purpose: the same answer
            return no_match, "number not the holder's"
        today = _today()
        best = max(theirs, key=lambda row: (is_current(row, today), row.issue_date, row.version))
        access.licence_key = best.licence_key
        matches, status = is_current(best, today), effective_status(best, today)
        body = Verification(matches=matches, status=status, licence_id=best.licence_id)
        return body, "matches" if matches else f"not valid: {status}"

    def findings(self, access: _Access, conn: sa.Connection, asked: Asked) -> tuple[HolderFindings, str]:
        """A holder's open findings and credit flag, for the callers registered for them (the approval bureau,
        deciding 容缺受理 or 告知承诺 on the case it names): any other caller is refused (403) before anything is
        read. A USCC no holder has still finds the findings filed under it (a holder unknown to the repository)."""
        caller = access.caller
        if not caller.findings:
            raise Refusal(403, "findings: not registered for this caller's purpose")
        code = asked.get("holder_code")
        holder = conn.execute(
            sa.select(*_HOLDER_COLUMNS)
            .join(holder_codes, holder_codes.c.holder_id == holders.c.holder_id)
            .where(holder_codes.c.code.in_(_candidate_codes(code)))
            .order_by(holder_codes.c.how)
            .limit(1)
        ).first()
        self.bind(
            conn, access, asked, [*_candidate_codes(code), holder and holder.holder_code], holder and holder.holder_id
        )
        f = findings.c
        same = f.holder_id == holder.holder_id if holder is not None else sa.false()
        public = (f.holder_code == code) if is_valid_uscc(code) else sa.false()  # masked otherwise: never matched
        rows = conn.execute(
            sa.select(
                f.finding_id,
                f.kind,
                f.result,
                f.department,
                f.decided_date,
                f.effective_date,
                f.end_date,
                licences.c.licence_id,
            )
            .select_from(findings)
            .outerjoin(licences, licences.c.licence_key == f.licence_key)
            .where((same | public) & f.in_force & (f.status != "quarantined"))
            .order_by(f.decided_date, f.finding_id)
        ).all()
        if holder is None and not rows:
            raise _Stop(404, NO_SUCH_HOLDER, ALLOWED)
        if holder is not None:
            shown, access.holder = holder_code_views(holder.holder_code, holder.holder_code_type, caller)
        credit = set(definitions().supervision.credit_kinds)
        body = HolderFindings(
            holder=Holder(
                holder_code=shown,
                holder_code_type=holder.holder_code_type,
                holder_name=shown_name(holder.holder_name, holder.holder_code_type, caller),
            )
            if holder is not None
            else None,
            as_of=_today(),
            credit_flag=any(row.kind in credit for row in rows),
            open_findings=[Finding(**row._mapping) for row in rows],
        )
        return body, f"{len(rows)} open findings" + (", credit flag" if body.credit_flag else "")


# ---------------------------------------------------------------- the app
DESCRIPTION = """
电子证照共享接口: departments reuse licences the government already issued instead of asking applicants for
copies ("一次录入、共享复用").

* **Keys.** Each registered caller has its own key (`LICENCE_API_KEY_<CALLER>`), sent as `X-Api-Key`; during a
  rotation the next one (`LICENCE_API_KEY_<CALLER>_NEXT`) is accepted too.
* **Purpose binding.** Every read names the case it is for (`caseNo`, required: a national 办件编号 of 43
  characters, or the shape registered for the caller's own system) and sees only licence types the caller's
  registered purpose covers (`schemas/codes/sharing_clients.csv`). A licence of another type answers as one
  that does not exist; asking for such a type by `type` is refused (403). The holder read must be a party of
  that case (its applicant, or the holder of a licence it produced): any other holder is refused (403). A case
  the bridge has not received yet is answered, and judged afterwards once it has.
* **Parameters.** Checked before anything else: control and invisible characters, lengths, shapes, registered
  type codes (at most 20). A bad one is a 400 naming the parameter and the rule, never echoing the value.
* **Masking.** 身份证号 of natural-person holders are masked unless the purpose is registered for personal data;
  USCCs of legal persons are shown.
* **Limits.** Per key and per address, stricter for failed keys: a 429 with `Retry-After`.
* **Audit.** Every request, allowed or refused, is recorded in `licence_access_log` before it is answered.
"""

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "a parameter missing, unknown, repeated or malformed (the detail names it)"},
    401: {"model": Problem, "description": "X-Api-Key missing or wrong"},
    403: {
        "model": Problem,
        "description": "a `type` outside the caller's registered purpose, or a holder who is not a party of the case",
    },
    429: {
        "model": Problem,
        "description": "over the rate limit of the key or the address: retry after `Retry-After` seconds",
    },
}
_CASE_NO = Query(
    alias="caseNo",
    description="办件编号 of the case this read is for (required): national (43 characters), or the shape "
    "registered for the caller's system",
)

ApiKey = Annotated[str | None, Security(APIKeyHeader(name=KEY_HEADER, auto_error=False))]
CaseNo = Annotated[str | None, _CASE_NO]


def create_app(
    warehouse_url: str,
    keys: dict[str, str | tuple[str, ...]] | None = None,
    limits: Limits | None = None,
    trusted_proxies: tuple[Network, ...] = (),
) -> FastAPI:
    """The sharing API over the warehouse at ``warehouse_url`` (one engine for the app's lifetime).

    ``keys`` (caller → key, or its current and next keys) overrides ``LICENCE_API_KEY_<CALLER>``; outside the
    sandbox profile every key must be safe (``sharing.keys``) or this raises :class:`KeyProblem`."""
    clients = sharing_clients()
    resolved_keys = api_keys(clients, keys)
    on_sandbox = [c for c, k in resolved_keys.items() if sandbox_key(c) in k]
    if on_sandbox:
        log.warning("sandbox keys in use for %s: set %s", ", ".join(on_sandbox), key_variable("<caller>"))
    warehouse = Warehouse(url=warehouse_url)
    # A failed statement prints its parameters, holder codes among them, into the server log: not these.
    warehouse.engine.hide_parameters = True
    service = LicenceSharing(warehouse, clients, KeyRing(resolved_keys), limits, trusted_proxies)

    # redirect_slashes off: ``…/findings/`` would be a 307 to the path without the slash, answered before any
    # audit; now it is a path the API does not have, a 404 audited as ``other`` like every other one
    app = FastAPI(
        title="电子证照共享接口 · Licence sharing API", description=DESCRIPTION, version="1.0", redirect_slashes=False
    )
    app.state.sharing = service

    @app.exception_handler(StarletteHTTPException)
    async def audit_the_rest(request: Request, error: StarletteHTTPException) -> JSONResponse:
        """A path or method the API does not have is answered by the router: audited as well (``other``)."""
        if request.url.path.startswith("/v1"):
            access = _Access(action=OTHER, client=service.client(request))
            await run_in_threadpool(service.audit, access, REFUSED, f"{error.status_code} {request.method}")
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)

    @app.get(
        "/v1/holders/{holder_code}/licences",
        response_model=HolderLicences,
        responses={**_ERRORS, 404: {"model": Problem, "description": "no holder known by this code to the caller"}},
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
            list[str] | None,
            Query(alias="type", description="证照类型代码 to narrow to (repeatable, registered codes, at most 20)"),
        ] = None,
    ):
        """Licences with status 有效 whose validity covers today, of the types the caller's purpose covers. A holder
        with no licence of those types, in any status, is answered as unknown (404)."""
        return service.handle(request, LOOKUP, service.lookup)

    @app.get(
        "/v1/licences/{licence_id}",
        response_model=Licence,
        responses={**_ERRORS, 404: {"model": Problem, "description": "no licence with this 证照标识 for the caller"}},
        summary="One licence by 证照标识, whatever its status",
        tags=["licences"],
    )
    def licence(
        request: Request,
        api_key: ApiKey,
        licence_id: Annotated[str, Path(description="证照标识 (GB/T 36904)")],
        case_no: CaseNo = None,
    ):
        """Any status, so a caller sees that a licence was revoked or suspended; a licence of a type outside the
        caller's purpose answers 404, as one that does not exist."""
        return service.handle(request, FETCH, service.fetch)

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
        """``matches`` is true only when the number is the holder's, of a type the caller's purpose covers, and
        the licence is valid today; otherwise every field but ``status`` tells nothing."""
        return service.handle(request, VERIFY, service.verify)

    @app.get(
        "/v1/holders/{holder_code}/findings",
        response_model=HolderFindings,
        responses={
            **_ERRORS,
            403: {
                "model": Problem,
                "description": "a caller not registered for supervision findings, or a holder who is not a party "
                "of the case",
            },
            404: {"model": Problem, "description": "no holder and no finding known by this code"},
        },
        summary="A holder's open supervision findings and credit flag (审管互动, the approval bureau only)",
        tags=["supervision"],
    )
    def holder_findings(
        request: Request,
        api_key: ApiKey,
        holder_code: Annotated[str, Path(description="持证主体代码: USCC or 身份证号")],
        case_no: CaseNo = None,
    ):
        """For 容缺受理 and 告知承诺 decisions: the findings supervisors fed back that are still in force (orders to
        rectify not closed, suspensions not ended, revocations, blacklisting not lifted) and whether the holder is
        on the credit blacklist. Only callers registered for it (`supervision_findings` in sharing_clients.csv);
        purpose-bound by `caseNo` like every read, and audited."""
        return service.handle(request, FINDINGS, service.findings)

    _document_parameters(app)
    return app


def _document_parameters(app: FastAPI) -> None:
    """The parameters are optional strings to the framework only so that a bad or missing one is answered 400 and
    audited by the API (a framework 422 would be neither); the published schema says what the API requires."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for operation in (op for path in schema["paths"].values() for op in path.values()):
                operation["responses"].pop("422", None)  # every parameter is a string: nothing for it to reject
                for parameter in operation.get("parameters", []):
                    if (rule := RULES.get(parameter["name"])) is not None:
                        parameter["schema"] = _documented(rule)
                        parameter["required"] = parameter["name"] in REQUIRED
                        parameter["required"] |= parameter["in"] == "path"
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
        return app.openapi_schema

    app.openapi = openapi


def _documented(rule: Rule) -> dict[str, Any]:
    one: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": rule.max_length}
    if rule.shape is not None:
        one["pattern"] = f"^{rule.shape.pattern}$"
    return {"type": "array", "items": one, "maxItems": MAX_TYPES} if rule.repeatable else one
