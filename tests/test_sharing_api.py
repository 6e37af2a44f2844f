"""The licence sharing API over real HTTP on loopback, against a SQLite warehouse of hand-made licences.

Every call goes through ``Api.get``, which also asserts that the request wrote exactly one access-log row.
"""

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from core import clock
from core.warehouse import create_tables
from sandbox.runtime import _ServerThread
from schemas.identifiers import (
    ID_KIND_RIC,
    is_valid_uscc,
    make_licence_identifier,
    make_uscc,
    mask_identifier,
    ric_check_char,
)
from schemas.licences import business_licence_number
from schemas.warehouse import holder_codes, holders, licence_access_log, licences
from sharing.api import SANDBOX_KEY, api_keys, create_app, key_variable, sharing_clients
from tests.conftest import TODAY

pytestmark = pytest.mark.integration

ISSUER = "11320412MB0395161Y"  # approval_bureau in departments.csv
BUSINESS, INDIVIDUAL_BUSINESS = "11100000MB0143028R001", "11100000MB0143028R002"
FOOD, SMALL_CATERING = "11100000MB0143028R003", "32000000MB1P0A5200001"
CONSTRUCTION, HYGIENE = "11100000MB01873110001", "11100000MB0288542B001"

COMPANY = make_uscc("91320412", "12345678")
OTHER_COMPANY = make_uscc("91320412", "87654321")
PERSON = "32041219850312001" + ric_check_char("32041219850312001")
PERSON_MISTYPED = PERSON[:12] + PERSON[13] + PERSON[12] + PERSON[14:]  # day digits transposed: 0321
COMPANY_MISTYPED = COMPANY[:10] + COMPANY[11] + COMPANY[10] + COMPANY[11 + 1 :]
UNKNOWN_PERSON = "32041219900101002" + ric_check_char("32041219900101002")
# A 身份证号 typed with month 13: no valid birth date, so it classifies as a (failing) USCC and the repository, which
# could link it to no one, holds it as an unverified holder of code type 001.
BAD_DATE = "32041219851312001" + ric_check_char("32041219851312001")
INDIVIDUAL_NO = business_licence_number(PERSON, ID_KIND_RIC)  # a 个体工商户's own USCC


# Case numbers as the callers' systems write them: a national 办件编号 (the published example of a Shanwei case,
# research notes §3.1), and the local shapes registered for each caller in sharing_clients.csv.
MARKET_CASE = "12441500196720244T3442199806003202206230068"
WINDOW_CASE, HOUSING_CASE, FIRE_CASE = "WJSP2026010500017", "WJJS2026031200042", "WJXF-20260105-0003"
CASE_OF = {"approval_bureau": WINDOW_CASE, "housing": HOUSING_CASE, "fire_rescue": FIRE_CASE, "health": MARKET_CASE}


def _holder_id(code: str) -> str:
    return "HD" + hashlib.sha1(code.encode()).hexdigest()[:16]


def _licence(key: str, type_code: str, name: str, number: str, holder: tuple[str, str, str], **fields) -> dict:
    code, code_type, holder_name = holder
    row = {
        "licence_key": key,
        "licence_id": make_licence_identifier(type_code, ISSUER, key.upper()),
        "licence_type_code": type_code,
        "licence_name": name,
        "licence_no": number,
        "holder_id": _holder_id(code),
        "holder_name": holder_name,
        "holder_code": code,
        "holder_code_type": code_type,
        "issuer_name": "武进区行政审批局",
        "issuer_code": ISSUER,
        "issue_date": TODAY - dt.timedelta(days=400),
        "valid_from": TODAY - dt.timedelta(days=400),
        "valid_to": None,
        "status": "有效",
        "area_code": "320412",
        "supervising_dept": "market_regulation",
        "sources": "case",
        "golden_case_id": None,
        "version": 1,
        "content_hash": hashlib.sha256(key.encode()).hexdigest(),
        "updated_at": dt.datetime(2026, 1, 5, 9, 30),
    }
    return {**row, **fields}


ACME = (COMPANY, "001", "常州武进恒达食品有限公司")
OTHER = (OTHER_COMPANY, "001", "常州武进宏远建设有限公司")
ZHANG = (PERSON, "111", "张伟")
LI = (BAD_DATE, "001", "李娜")
LICENCES = {
    "business": _licence("LC0001", BUSINESS, "营业执照", COMPANY, ACME),
    "food": _licence(
        "LC0002", FOOD, "食品经营许可证", "JY23204120000010", ACME, valid_to=TODAY + dt.timedelta(days=900)
    ),
    "revoked": _licence(
        "LC0003", CONSTRUCTION, "建筑工程施工许可证", "32041220250312" + "0101", ACME, status="撤销", version=2
    ),
    # Past its end date, but the nightly expiry has not marked it yet: the API must not call it valid.
    "expired": _licence(
        "LC0004", HYGIENE, "公共场所卫生许可证", "WJ140001202301010001", ACME, valid_to=TODAY - dt.timedelta(days=30)
    ),
    "individual": _licence("LC0005", INDIVIDUAL_BUSINESS, "营业执照", INDIVIDUAL_NO, ZHANG),
    "catering": _licence("LC0006", SMALL_CATERING, "小型餐饮服务提供者备案公示卡", "WJ2025XC000006", ZHANG),
    "other_business": _licence("LC0007", BUSINESS, "营业执照", OTHER_COMPANY, OTHER),
    "unverified": _licence("LC0008", INDIVIDUAL_BUSINESS, "营业执照", "WJ00200220250101000008", LI),
}


def build_warehouse(where) -> str:
    """The hand-made licences in a SQLite file at ``where`` (a path), or in the database at ``where`` (a URL)."""
    url = where if isinstance(where, str) and "://" in where else f"sqlite:///{where}"
    engine = sa.create_engine(url)
    create_tables(engine)  # the marts in their schema (mapped onto SQLite's one)
    now = dt.datetime(2026, 1, 5, 9, 30)
    with engine.begin() as conn:
        conn.execute(
            holders.insert(),
            [
                {
                    "holder_id": _holder_id(c),
                    "holder_code": c,
                    "holder_code_type": t,
                    "holder_name": n,
                    "updated_at": now,
                }
                for c, t, n in (ACME, OTHER, ZHANG, LI)
            ],
        )
        conn.execute(
            holder_codes.insert(),
            [
                {"code": COMPANY, "holder_id": _holder_id(COMPANY), "how": "identifier"},
                {"code": OTHER_COMPANY, "holder_id": _holder_id(OTHER_COMPANY), "how": "identifier"},
                {"code": PERSON, "holder_id": _holder_id(PERSON), "how": "identifier"},
                {"code": PERSON_MISTYPED, "holder_id": _holder_id(PERSON), "how": "resolved"},
                {"code": COMPANY_MISTYPED, "holder_id": _holder_id(COMPANY), "how": "resolved"},
                {"code": BAD_DATE, "holder_id": _holder_id(BAD_DATE), "how": "unverified"},
            ],
        )
        conn.execute(licences.insert(), list(LICENCES.values()))
    engine.dispose()
    return url


class Api:
    """An httpx client that also reads the access log: each call returns the response and its one log row."""

    def __init__(self, base_url: str, warehouse_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10.0, connect=5.0))
        self.log = sa.create_engine(warehouse_url)

    def get(
        self, path: str, caller: str | None = None, key: str | None = None, **params
    ) -> tuple[httpx.Response, dict]:
        headers = {}
        if caller or key:
            headers["X-Api-Key"] = key or SANDBOX_KEY.format(caller=caller)
        before = self.last_id()
        response = self.client.get(path, params={k: v for k, v in params.items() if v is not None}, headers=headers)
        with self.log.connect() as conn:
            rows = conn.execute(sa.select(licence_access_log).where(licence_access_log.c.id > before)).mappings().all()
        assert len(rows) == 1, f"{path}: {len(rows)} access-log rows"
        return response, dict(rows[0])

    def last_id(self) -> int:
        with self.log.connect() as conn:
            return conn.execute(sa.select(sa.func.coalesce(sa.func.max(licence_access_log.c.id), 0))).scalar_one()

    def all_log_rows(self) -> list[dict]:
        with self.log.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(licence_access_log)).mappings()]

    def close(self) -> None:
        self.client.close()
        self.log.dispose()


def _start(warehouse_url: str, keys: dict[str, str] | None = None) -> _ServerThread:
    server = _ServerThread(create_app(warehouse_url, keys), 0)
    server.start()
    return server


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[Api]:
    url = build_warehouse(tmp_path_factory.mktemp("sharing") / "warehouse.sqlite")
    with pytest.MonkeyPatch.context() as env:
        for caller in sharing_clients():
            env.delenv(key_variable(caller), raising=False)  # the sandbox defaults, whatever the shell has set
        server = _start(url)
    client = Api(f"http://127.0.0.1:{server.port}", url)
    yield client
    client.close()
    server.stop()
    server.server.config.app.state.sharing.warehouse.dispose()


def _lookup(api: Api, code: str, caller: str | None = "approval_bureau", **params):
    case_no = CASE_OF.get(caller, MARKET_CASE)
    return api.get(f"/v1/holders/{code}/licences", caller, **{"caseNo": case_no, **params})


def _ids(body: dict) -> set[str]:
    return {licence["licenceId"] for licence in body["licences"]}


def _id(name: str) -> str:
    return LICENCES[name]["licence_id"]


# ---------------------------------------------------------------- lookup
def test_lookup_returns_only_valid_licences_of_allowed_types(api):
    response, row = _lookup(api, COMPANY, "approval_bureau")
    assert response.status_code == 200
    body = response.json()
    # the revoked construction permit and the hygiene licence past its end date are left out
    assert _ids(body) == {_id("business"), _id("food")}
    assert body["matchedBy"] == "identifier"
    assert body["holder"] == {"holderCode": COMPANY, "holderCodeType": "001", "holderName": "常州武进恒达食品有限公司"}
    assert body["asOf"] == TODAY.isoformat()
    business = next(lic for lic in body["licences"] if lic["licenceTypeCode"] == BUSINESS)
    assert business["licenceNo"] == COMPANY and business["validTo"] is None and business["status"] == "有效"
    assert row["caller"] == "approval_bureau" and row["action"] == "lookup" and row["outcome"] == "allowed"
    assert row["case_no"] == WINDOW_CASE and row["holder"] == COMPANY  # a USCC is not personal data
    assert row["client"] == "127.0.0.1" and row["purpose"].startswith("受理审查")


def test_validity_is_judged_on_the_clocks_day(api):
    # The food licence ends TODAY + 900 days: on its last day it is still shown, the day after it is not.
    with clock.frozen(LICENCES["food"]["valid_to"]):
        body = _lookup(api, COMPANY, "approval_bureau")[0].json()
    assert _ids(body) == {_id("business"), _id("food")} and body["asOf"] == LICENCES["food"]["valid_to"].isoformat()
    with clock.frozen(LICENCES["food"]["valid_to"] + dt.timedelta(days=1)):
        assert _ids(_lookup(api, COMPANY, "approval_bureau")[0].json()) == {_id("business")}
        fetched = api.get(f"/v1/licences/{_id('food')}", "market_regulation", caseNo=MARKET_CASE)[0].json()
    assert fetched["status"] == "过期失效"


def test_lookup_leaves_out_types_outside_the_purpose_and_records_it(api):
    response, row = _lookup(api, COMPANY, "fire_rescue")
    assert response.status_code == 200
    assert _ids(response.json()) == {_id("business")}  # the food licence is not fire_rescue's to read
    assert row["outcome"] == "allowed" and row["reason"] == "1 licences (case not yet known)"


def test_lookup_narrowed_by_type(api):
    response, _ = _lookup(api, COMPANY, "market_regulation", type=FOOD)
    assert response.status_code == 200 and _ids(response.json()) == {_id("food")}


def test_lookup_of_a_type_outside_the_purpose_is_refused_and_audited(api):
    response, row = _lookup(api, COMPANY, "fire_rescue", type=FOOD)
    assert response.status_code == 403
    assert FOOD in response.json()["detail"]
    assert (row["caller"], row["outcome"], row["action"]) == ("fire_rescue", "refused", "lookup")
    # refused from the register before the repository is read: the same answer whoever the holder is
    assert FOOD in row["reason"] and row["holder"] == COMPANY[:6] + "********" + COMPANY[-4:]
    assert _lookup(api, UNKNOWN_PERSON, "fire_rescue", type=FOOD)[0].json() == response.json()


def test_lookup_through_a_mistyped_identifier(api):
    response, row = _lookup(api, PERSON_MISTYPED, "market_regulation")
    assert response.status_code == 200
    body = response.json()
    assert body["matchedBy"] == "resolved"
    assert body["holder"]["holderCode"] == PERSON  # market regulation may see personal identifiers
    assert _ids(body) == {_id("individual"), _id("catering")}
    assert row["holder"] == mask_identifier(PERSON)  # the holder found, masked; never the code as typed

    response, _ = _lookup(api, COMPANY_MISTYPED.lower(), "housing")  # normalised before the lookup
    assert response.status_code == 200 and response.json()["holder"]["holderCode"] == COMPANY


def test_identity_numbers_masked_for_callers_without_personal_data(api):
    for caller in ("fire_rescue",):
        response, _ = _lookup(api, PERSON, caller)
        assert response.status_code == 200
        assert PERSON not in response.text
        body = response.json()
        assert body["holder"]["holderCode"] == mask_identifier(PERSON) == PERSON[:6] + "********" + PERSON[-4:]
        assert all(lic["holderCode"] == mask_identifier(PERSON) for lic in body["licences"])
        assert body["holder"]["holderName"] == "张*" and "张伟" not in response.text  # a person's name too
    # fire_rescue reads business licences (the 个体工商户's too); housing reads none of this holder's types, so
    # to housing the holder is as unknown as one the repository has never seen
    assert _ids(_lookup(api, PERSON, "fire_rescue")[0].json()) == {_id("individual")}
    housing, unknown = _lookup(api, PERSON, "housing")[0], _lookup(api, UNKNOWN_PERSON, "housing")[0]
    assert (
        (housing.status_code, housing.json())
        == (unknown.status_code, unknown.json())
        == (
            404,
            {"detail": "no such holder"},
        )
    )

    unmasked = _lookup(api, PERSON, "market_regulation")[0].json()
    assert unmasked["holder"]["holderCode"] == PERSON and unmasked["holder"]["holderName"] == "张伟"
    assert {lic["holderCode"] for lic in unmasked["licences"]} == {PERSON}


def test_a_holder_known_only_by_a_failing_code_is_masked(api):
    assert not is_valid_uscc(BAD_DATE)
    response, row = _lookup(api, BAD_DATE, "fire_rescue")
    assert response.status_code == 200 and BAD_DATE not in response.text
    body = response.json()
    assert body["matchedBy"] == "unverified" and _ids(body) == {_id("unverified")}
    assert body["holder"]["holderCode"] == BAD_DATE[:6] + "********" + BAD_DATE[-4:]
    assert row["holder"] == BAD_DATE[:6] + "********" + BAD_DATE[-4:]
    assert _lookup(api, BAD_DATE, "market_regulation")[0].json()["holder"]["holderCode"] == BAD_DATE


def test_unknown_holder(api):
    response, row = _lookup(api, UNKNOWN_PERSON, "approval_bureau")
    assert response.status_code == 404
    assert row["outcome"] == "allowed" and row["reason"] == "no such holder (case not yet known)"
    assert row["holder"] == mask_identifier(UNKNOWN_PERSON)


# ---------------------------------------------------------------- keys, case numbers
def test_wrong_or_missing_key_is_refused_and_audited_as_unknown(api):
    response, row = _lookup(api, PERSON, caller=None, key="not-a-key")
    assert response.status_code == 401
    assert (row["caller"], row["outcome"], row["purpose"]) == ("unknown", "refused", None)
    assert row["reason"] == "wrong X-Api-Key" and row["holder"] == mask_identifier(PERSON)

    response, row = _lookup(api, COMPANY, caller=None)
    assert response.status_code == 401 and row["caller"] == "unknown" and row["reason"] == "missing X-Api-Key"

    # another caller's key does not open a caller's purpose: the key decides who is calling
    response, row = _lookup(api, COMPANY, caller=None, key=SANDBOX_KEY.format(caller="housing") + "x")
    assert response.status_code == 401 and row["caller"] == "unknown"


def test_missing_case_number_is_refused_and_audited(api):
    for path, params in (
        (f"/v1/holders/{COMPANY}/licences", {}),
        (f"/v1/licences/{_id('business')}", {}),
        ("/v1/verify", {"licenceNo": COMPANY, "holderCode": COMPANY}),
        (f"/v1/holders/{COMPANY}/licences", {"caseNo": "  "}),
    ):
        response, row = api.get(path, "market_regulation", **params)
        assert response.status_code == 400, path
        assert "caseNo" in response.json()["detail"]
        assert (row["caller"], row["outcome"], row["case_no"]) == ("market_regulation", "refused", params.get("caseNo"))


def test_keys_from_environment_and_overrides(tmp_path, monkeypatch):
    url = build_warehouse(tmp_path / "warehouse.sqlite")
    monkeypatch.setenv(key_variable("fire_rescue"), "fire-key-from-env")
    server = _start(url, keys={"housing": "housing-override"})
    client = Api(f"http://127.0.0.1:{server.port}", url)
    try:
        assert _lookup(client, COMPANY, None, key="fire-key-from-env")[1]["caller"] == "fire_rescue"
        assert _lookup(client, COMPANY, "fire_rescue")[0].status_code == 401  # the sandbox default no longer works
        assert _lookup(client, COMPANY, None, key="housing-override")[0].status_code == 200
        assert _lookup(client, COMPANY, "housing")[0].status_code == 401
        assert _lookup(client, COMPANY, "health")[0].status_code == 200  # unset: the sandbox default
    finally:
        client.close()
        server.stop()
        server.server.config.app.state.sharing.warehouse.dispose()
    with pytest.raises(ValueError, match="tax_bureau"):
        api_keys(sharing_clients(), {"tax_bureau": "k"})


# ---------------------------------------------------------------- one licence
def test_fetch_shows_any_status_and_audits_the_licence(api):
    response, row = api.get(f"/v1/licences/{_id('revoked')}", "housing", caseNo=HOUSING_CASE)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "撤销" and body["licenceNo"] == "320412202503120101" and body["version"] == 2
    assert (row["action"], row["outcome"], row["licence_key"], row["case_no"]) == (
        "fetch",
        "allowed",
        "LC0003",
        HOUSING_CASE,
    )

    expired = api.get(f"/v1/licences/{_id('expired')}", "health", caseNo="WJWS-20260105-0007")[0].json()
    assert expired["status"] == "过期失效"  # past its end date, whatever the nightly run has recorded


def test_fetch_outside_the_purpose_answers_as_no_such_licence(api):
    response, row = api.get(f"/v1/licences/{_id('food')}", "fire_rescue", caseNo=FIRE_CASE)
    unknown, _ = api.get("/v1/licences/1.2.156.3005.2.NOPE", "fire_rescue", caseNo=FIRE_CASE)
    assert (
        (response.status_code, response.json())
        == (unknown.status_code, unknown.json())
        == (
            404,
            {"detail": "no such licence"},
        )
    )
    assert (row["caller"], row["licence_key"], row["case_no"]) == ("fire_rescue", None, FIRE_CASE)


def test_fetch_masks_identity_numbers_by_caller(api):
    path = f"/v1/licences/{_id('individual')}"
    masked, row = api.get(path, "fire_rescue", caseNo="WJXF-20260105-0004")
    assert masked.json()["holderCode"] == mask_identifier(PERSON) and PERSON not in masked.text
    assert row["holder"] == mask_identifier(PERSON)
    assert api.get(path, "market_regulation", caseNo=MARKET_CASE)[0].json()["holderCode"] == PERSON


def test_fetch_unknown_licence(api):
    response, row = api.get("/v1/licences/1.2.156.3005.2.NOPE", "approval_bureau", caseNo=WINDOW_CASE)
    assert response.status_code == 404 and row["outcome"] == "allowed" and row["licence_key"] is None


# ---------------------------------------------------------------- verify
def _verify(api: Api, number: str, code: str, caller: str = "market_regulation"):
    return api.get("/v1/verify", caller, licenceNo=number, holderCode=code, caseNo=MARKET_CASE)


def test_verify(api):
    response, row = _verify(api, COMPANY, COMPANY)
    assert response.json() == {"matches": True, "status": "有效", "licenceId": _id("business")}
    assert (row["action"], row["outcome"], row["licence_key"]) == ("verify", "allowed", "LC0001")

    # another company's licence number: no match, and nothing about the other licence is revealed
    response, row = _verify(api, OTHER_COMPANY, COMPANY)
    assert response.json() == {"matches": False, "status": None, "licenceId": None}
    assert row["licence_key"] is None

    # the holder's own licence, revoked: it is theirs but not valid
    response, _ = _verify(api, "320412202503120101", COMPANY, "approval_bureau")
    assert response.json() == {"matches": False, "status": "撤销", "licenceId": _id("revoked")}

    # through the mistyped identity number, with the licence number typed with spaces and lower case
    response, row = _verify(api, INDIVIDUAL_NO[:6].lower() + " " + INDIVIDUAL_NO[6:], PERSON_MISTYPED)
    assert response.json()["matches"] is True
    assert row["holder"] == mask_identifier(PERSON)

    # the holder's own food licence, outside fire_rescue's purpose: answered as a number that is not theirs
    response, row = _verify(api, "JY23204120000010", COMPANY, "fire_rescue")
    assert response.status_code == 200 and response.json() == {"matches": False, "status": None, "licenceId": None}
    assert row["licence_key"] is None

    response, row = api.get("/v1/verify", "market_regulation", holderCode=COMPANY, caseNo=MARKET_CASE)
    assert response.status_code == 400 and row["outcome"] == "refused"


# ---------------------------------------------------------------- failures
class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(logging.Formatter().format(record))


def test_failures_are_audited_and_keep_identity_numbers_out_of_the_server_log(tmp_path):
    url = build_warehouse(tmp_path / "warehouse.sqlite")
    server = _start(url)
    client = Api(f"http://127.0.0.1:{server.port}", url)
    records = _Records()
    logging.getLogger("uvicorn.error").addHandler(records)
    try:
        with client.log.begin() as conn:
            conn.execute(sa.text("DROP TABLE holder_codes"))
        response, row = _lookup(client, PERSON, "market_regulation")
        assert response.status_code == 500
        assert (row["outcome"], row["reason"], row["holder"]) == ("refused", "internal error", mask_identifier(PERSON))
        deadline = time.monotonic() + 5
        while not records.texts and time.monotonic() < deadline:  # uvicorn logs after the 500 has been sent
            time.sleep(0.01)
        server_log = "\n".join(records.texts)
        assert "no such table: holder_codes" in server_log  # the failure is there for the operator …
        assert PERSON not in server_log  # … without the number the statement was run with

        # a read whose audit row cannot be written is not answered
        with client.log.begin() as conn:
            conn.execute(sa.text("DROP TABLE licence_access_log"))
        response = client.client.get(
            f"/v1/licences/{_id('individual')}",
            params={"caseNo": MARKET_CASE},
            headers={"X-Api-Key": SANDBOX_KEY.format(caller="market_regulation")},
        )
        assert response.status_code == 500
        assert INDIVIDUAL_NO not in response.text and PERSON not in response.text
    finally:
        logging.getLogger("uvicorn.error").removeHandler(records)
        client.close()
        server.stop()
        server.server.config.app.state.sharing.warehouse.dispose()


# ---------------------------------------------------------------- OpenAPI, and the log
def test_openapi_describes_the_three_endpoints(api):
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert "Licence sharing API" in schema["info"]["title"] and schema["info"]["description"]
    assert {"/v1/holders/{holder_code}/licences", "/v1/licences/{licence_id}", "/v1/verify"} <= set(schema["paths"])
    lookup = schema["paths"]["/v1/holders/{holder_code}/licences"]["get"]
    assert {"200", "400", "401", "403", "404"} <= set(lookup["responses"])
    parameters = {p["name"]: p for p in lookup["parameters"]}
    assert set(parameters) == {"holder_code", "caseNo", "type"}
    assert parameters["caseNo"]["required"] is True and parameters["type"]["required"] is False
    licence_schema = schema["components"]["schemas"]["Licence"]["properties"]
    assert {"licenceId", "holderCode", "validTo", "status"} <= set(licence_schema)
    assert "X-Api-Key" in str(schema["components"]["securitySchemes"])
    assert api.client.get("/docs").status_code == 200


def test_no_identity_number_reaches_the_access_log(api):
    # requests that carry the raw numbers in every place one can: path, query, refused and allowed
    _lookup(api, PERSON, caller=None, key="wrong")
    _lookup(api, PERSON_MISTYPED, "fire_rescue")
    _lookup(api, UNKNOWN_PERSON, "housing")
    _verify(api, INDIVIDUAL_NO, PERSON, "health")
    _lookup(api, BAD_DATE, "fire_rescue")
    api.get(f"/v1/holders/{PERSON}/licences", "health")  # no caseNo
    rows = api.all_log_rows()
    assert len(rows) >= 5
    text = repr(rows)
    for number in (PERSON, PERSON_MISTYPED, UNKNOWN_PERSON, BAD_DATE, PERSON[:17]):
        assert number not in text
    assert mask_identifier(PERSON) in text
