"""The sharing API probed as an attacker and a careless caller would, over real HTTP on loopback, on SQLite and on
PostgreSQL: each probe gets its documented answer (docs/security.md), never a 500, and every request leaves exactly
one audit row holding nothing the caller sent unmasked.

Served as ``approval-bridge serve`` serves it (``sharing.server.SERVER_OPTIONS``: no proxy headers from uvicorn).
The rules behind the answers are unit-tested in ``test_security_rules.py``.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from schemas.identifiers import mask_identifier
from schemas.warehouse import licence_access_log
from sharing.api import SANDBOX_KEY, create_app, key_variable, sharing_clients
from sharing.guard import Limits, audit_text, parse_networks
from sharing.server import SERVER_OPTIONS
from tests.conftest import POSTGRES_ADMIN_URL, _fresh_database
from tests.test_sharing_api import (
    BUSINESS,
    COMPANY,
    FIRE_CASE,
    FOOD,
    HOUSING_CASE,
    LICENCES,
    MARKET_CASE,
    OTHER_COMPANY,
    PERSON,
    UNKNOWN_PERSON,
    WINDOW_CASE,
    Api,
    build_warehouse,
)

pytestmark = pytest.mark.integration

GENEROUS = Limits(per_key="100000/minute", per_address="100000/minute", failed_auth_per_address="100000/minute")
KEY = SANDBOX_KEY.format


class Server:
    """The app under uvicorn, as ``serve`` runs it, on an ephemeral loopback port in a thread."""

    def __init__(self, app) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", **SERVER_OPTIONS)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.app = app

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.app.state.sharing.warehouse.dispose()


class Probe(Api):
    """``Api`` with any method, raw headers and repeated parameters: each call still returns its one log row."""

    def call(self, path: str, params=None, headers=None, method: str = "GET") -> tuple[httpx.Response, dict]:
        before = self.last_id()
        response = self.client.request(method, path, params=params, headers=headers)
        with self.log.connect() as conn:
            rows = conn.execute(sa.select(licence_access_log).where(licence_access_log.c.id > before)).mappings().all()
        assert len(rows) == 1, f"{method} {path}: {len(rows)} access-log rows"
        assert response.status_code < 500 and "Traceback" not in response.text
        return response, dict(rows[0])


def key(caller: str) -> dict[str, str]:
    return {"X-Api-Key": KEY(caller=caller)}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request, tmp_path_factory) -> Iterator[str]:
    if request.param == "sqlite":
        yield build_warehouse(tmp_path_factory.mktemp("security") / "warehouse.sqlite")
        return
    database = _fresh_database(POSTGRES_ADMIN_URL, "PostgreSQL")
    url = next(database)
    yield build_warehouse(url)
    next(database, None)


@pytest.fixture(scope="module")
def sandbox_keys():
    with pytest.MonkeyPatch.context() as env:
        env.delenv("BRIDGE_PROFILE", raising=False)
        for caller in sharing_clients():
            env.delenv(key_variable(caller), raising=False)
            env.delenv(key_variable(caller, "next"), raising=False)
        yield


@pytest.fixture(scope="module")
def probe(warehouse_url, sandbox_keys) -> Iterator[Probe]:
    with Server(create_app(warehouse_url, limits=GENEROUS)) as base:
        client = Probe(base, warehouse_url)
        yield client
        client.close()


def lookup(code: str = COMPANY, case_no: str = WINDOW_CASE, **params) -> tuple[str, dict]:
    return f"/v1/holders/{code}/licences", {"caseNo": case_no, **params}


# ---------------------------------------------------------------- bad input: an audited 400, nothing echoed
@pytest.mark.parametrize(
    "case_no",
    ["WJSP2026\x0001", "WJSP\n2026", "\x1b[31mWJSP2026010500017", "WJSP\u200b2026010500017", "x", PERSON, "W" * 65],
)
def test_a_bad_case_number_is_an_audited_400(probe, case_no):
    path, params = lookup(case_no=case_no)
    response, row = probe.call(path, params, key("approval_bureau"))
    assert response.status_code == 400 and response.json()["detail"].startswith("caseNo")
    assert case_no not in response.text and PERSON not in response.text
    assert (row["caller"], row["outcome"]) == ("approval_bureau", "refused")
    stored = row["case_no"]
    assert not any(ch in stored for ch in "\x00\n\x1b\u200b") and PERSON not in stored
    if case_no == PERSON:
        assert stored == mask_identifier(PERSON)


def test_a_refused_holder_code_is_masked_and_a_national_case_number_kept_whole(probe):
    # A holder code with dots (or another script's digits) was stored unmasked after its 400; a well-formed case
    # number was masked when the refusal came before the case-number check, so the row named no case.
    for sent in ("320412.19980729.6328", "٣٢٠٤١٢١٩٩٨٠٧٢٩٦٣٢٨"):
        for caller, case_no in (("approval_bureau", WINDOW_CASE), ("market_regulation", MARKET_CASE)):
            response, row = probe.call(*lookup(code=sent, case_no=case_no), key(caller))
            assert response.status_code == 400 and row["outcome"] == "refused"
            assert row["holder"] == "320412********6328" and row["case_no"] == case_no
        # with a wrong key no caller's shape is known: only the national shape is kept whole
        response, row = probe.call(*lookup(code=sent, case_no=MARKET_CASE), {"X-Api-Key": "wrong"})
        assert row["case_no"] == MARKET_CASE and row["holder"] == "320412********6328"
        response, row = probe.call(*lookup(code=sent, case_no=WINDOW_CASE), {"X-Api-Key": "wrong"})
        assert row["case_no"] != WINDOW_CASE and "*" in row["case_no"]


def test_nul_in_a_holder_code_even_with_a_wrong_key(probe):
    for headers in ({"X-Api-Key": "wrong"}, key("market_regulation")):
        response, row = probe.call("/v1/holders/9132%00/licences", {"caseNo": MARKET_CASE}, headers)
        assert response.status_code == 400 and response.json() == {
            "detail": "holder_code: control or invisible characters"
        }
        assert row["holder"] == "9132\\u0000" and row["outcome"] == "refused"
    response, row = probe.call(
        "/v1/verify", {"caseNo": MARKET_CASE, "licenceNo": "JY\x00", "holderCode": COMPANY}, key("market_regulation")
    )
    assert response.status_code == 400 and row["outcome"] == "refused"


def test_types_must_be_registered_and_are_never_echoed(probe):
    path, params = lookup(type=PERSON)
    response, row = probe.call(path, params, key("approval_bureau"))
    assert response.json() == {"detail": "type: not a registered 证照类型代码"}
    assert PERSON not in repr(row)
    path, params = lookup(type=["A1"] * 5000)  # 35 kB of query string
    response, row = probe.call(path, params, key("approval_bureau"))
    assert response.status_code == 400 and response.json() == {"detail": "type: at most 20 values"}
    assert "A1" not in response.text and "A1" not in repr(row)
    path, params = lookup(type=[BUSINESS] * 3)  # repeats within the limit are folded
    assert probe.call(path, params, key("approval_bureau"))[0].status_code == 200


def test_unknown_repeated_and_missing_parameters(probe):
    path, _ = lookup()
    for params, detail in (
        ({"caseNo": WINDOW_CASE, "debug": "1"}, "unknown parameter: this endpoint takes caseNo, type"),
        ([("caseNo", WINDOW_CASE), ("caseNo", WINDOW_CASE)], "caseNo: given more than once"),
        ({}, "caseNo is required: the case this read is for"),
    ):
        response, row = probe.call(path, params, key("approval_bureau"))
        assert (response.status_code, response.json()["detail"], row["outcome"]) == (400, detail, "refused")


def test_keys_that_are_not_keys(probe):
    path, params = lookup()
    for header in ("", "k" * 10_000, "sandbox-licence-key-housin", "ключ-密钥"):
        response, row = probe.call(path, params, {"X-Api-Key": header.encode()})
        assert response.status_code == 401 and row["caller"] == "unknown"


def test_requests_no_endpoint_handles_are_audited(probe):
    response, row = probe.call("/v1/holders", None, key("housing"))
    assert response.status_code == 404 and (row["action"], row["reason"]) == ("other", "404 GET")
    response, row = probe.call("/v1/verify", None, key("housing"), method="POST")
    assert response.status_code == 405 and (row["action"], row["reason"]) == ("other", "405 POST")
    path, params = lookup()
    response, row = probe.call(path + "/", params, key("housing"))  # a trailing slash: no 307 before the audit
    assert response.status_code == 404 and (row["action"], row["reason"]) == ("other", "404 GET")
    assert "location" not in response.headers


# ---------------------------------------------------------------- case numbers
def test_case_numbers_national_or_the_callers_own_shape(probe):
    for caller, case_no, status in (
        ("market_regulation", MARKET_CASE, 200),  # national: every caller
        ("housing", MARKET_CASE, 200),
        ("housing", HOUSING_CASE, 200),  # its own system's shape
        ("market_regulation", HOUSING_CASE, 400),  # another caller's shape
        ("fire_rescue", FIRE_CASE, 200),
        ("fire_rescue", "XF-2026-0003", 400),
    ):
        path, params = lookup(case_no=case_no)
        response, row = probe.call(path, params, key(caller))
        assert response.status_code == status, (caller, case_no)
        assert row["case_no"] == (case_no if status == 200 else audit_text(case_no, 64))  # not a case number: masked


# ---------------------------------------------------------------- no oracles
def test_verify_of_a_licence_outside_the_purpose_answers_as_a_wrong_number(probe):
    food_no = LICENCES["food"]["licence_no"]
    params = {"caseNo": FIRE_CASE, "holderCode": COMPANY}
    own, _ = probe.call("/v1/verify", {**params, "licenceNo": food_no}, key("fire_rescue"))
    random, _ = probe.call("/v1/verify", {**params, "licenceNo": "JY29999999999999"}, key("fire_rescue"))
    assert (own.status_code, own.content) == (random.status_code, random.content)
    assert own.json() == {"matches": False, "status": None, "licenceId": None}
    # to a caller whose purpose covers it, the number is the holder's
    covered, _ = probe.call(
        "/v1/verify", {**params, "caseNo": MARKET_CASE, "licenceNo": food_no}, key("market_regulation")
    )
    assert covered.json()["matches"] is True


def test_a_holder_known_only_outside_the_purpose_answers_as_unknown(probe):
    # housing covers business licences and construction permits: the person holds neither
    known, known_row = probe.call(*lookup(PERSON, HOUSING_CASE), key("housing"))
    unknown, _ = probe.call(*lookup(UNKNOWN_PERSON, HOUSING_CASE), key("housing"))
    assert (
        (known.status_code, known.content)
        == (unknown.status_code, unknown.content)
        == (404, b'{"detail":"no such holder"}')
    )
    assert known_row["holder"] == mask_identifier(PERSON)
    # a type outside the purpose is refused from the register, the same for any holder
    refused = [
        probe.call(*lookup(code, FIRE_CASE, type=FOOD), key("fire_rescue"))[0] for code in (COMPANY, UNKNOWN_PERSON)
    ]
    assert refused[0].status_code == refused[1].status_code == 403 and refused[0].content == refused[1].content


def test_fetch_outside_the_purpose_answers_as_no_such_licence(probe):
    food = probe.call(f"/v1/licences/{LICENCES['food']['licence_id']}", {"caseNo": FIRE_CASE}, key("fire_rescue"))[0]
    none = probe.call("/v1/licences/1.2.156.3005.2.NOPE", {"caseNo": FIRE_CASE}, key("fire_rescue"))[0]
    assert (food.status_code, food.content) == (none.status_code, none.content)


# ---------------------------------------------------------------- who called, how often
def test_forwarded_for_is_ignored_unless_from_a_trusted_proxy(warehouse_url, sandbox_keys):
    forged = {**key("housing"), "X-Forwarded-For": "203.0.113.9"}
    path, params = lookup(COMPANY, HOUSING_CASE)
    with Server(create_app(warehouse_url, limits=GENEROUS)) as base:
        probe = Probe(base, warehouse_url)
        assert probe.call(path, params, forged)[1]["client"] == "127.0.0.1"
        probe.close()
    with Server(create_app(warehouse_url, limits=GENEROUS, trusted_proxies=parse_networks("127.0.0.1"))) as base:
        probe = Probe(base, warehouse_url)
        assert probe.call(path, params, forged)[1]["client"] == "203.0.113.9"
        chained = {**key("housing"), "X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
        assert probe.call(path, params, chained)[1]["client"] == "203.0.113.9"
        junk = {**key("housing"), "X-Forwarded-For": "<script>"}
        assert probe.call(path, params, junk)[1]["client"] == "127.0.0.1"
        probe.close()


def test_rate_limits_answer_429_with_retry_after_and_are_audited(warehouse_url, sandbox_keys):
    limits = Limits(per_key="4/minute", per_address="1000/minute", failed_auth_per_address="3/minute")
    path, params = lookup(COMPANY, HOUSING_CASE)
    with Server(create_app(warehouse_url, limits=limits, trusted_proxies=parse_networks("127.0.0.1"))) as base:
        probe = Probe(base, warehouse_url)
        statuses = [probe.call(path, params, key("housing"))[0].status_code for _ in range(4)]
        over, row = probe.call(path, params, key("housing"))
        assert statuses == [200] * 4 and over.status_code == 429
        assert 1 <= int(over.headers["Retry-After"]) <= 60
        assert (row["caller"], row["outcome"], row["reason"]) == (
            "housing",
            "refused",
            "too many requests: try again later",
        )
        assert probe.call(path, {"caseNo": WINDOW_CASE}, key("approval_bureau"))[0].status_code == 200  # its own key

        # three wrong keys from one address, then even the right key waits; another address does not
        guesser = {"X-Forwarded-For": "203.0.113.50"}
        wrong = [probe.call(path, params, {**guesser, "X-Api-Key": f"guess-{i}"})[0].status_code for i in range(3)]
        locked, row = probe.call(path, {"caseNo": WINDOW_CASE}, {**guesser, **key("approval_bureau")})
        assert wrong == [401] * 3 and locked.status_code == 429 and "Retry-After" in locked.headers
        assert row["client"] == "203.0.113.50" and row["outcome"] == "refused"
        other = {"X-Forwarded-For": "203.0.113.51", **key("approval_bureau")}
        assert probe.call(path, {"caseNo": WINDOW_CASE}, other)[0].status_code == 200
        probe.close()


# ---------------------------------------------------------------- under load
def test_two_hundred_mixed_requests_in_parallel_each_get_one_audit_row(warehouse_url, sandbox_keys):
    kinds = {
        "good": (lookup(COMPANY, WINDOW_CASE), key("approval_bureau"), 200),
        "wrong_key": (lookup(COMPANY, WINDOW_CASE), {"X-Api-Key": "not-a-key"}, 401),
        "forbidden": (lookup(COMPANY, FIRE_CASE, type=FOOD), key("fire_rescue"), 403),
        "malformed": (lookup(COMPANY, "WJSP\x00"), key("approval_bureau"), 400),
        "unknown": (lookup(OTHER_COMPANY, HOUSING_CASE, type=[FOOD]), key("housing"), 403),
        "verify": (
            ("/v1/verify", {"caseNo": MARKET_CASE, "licenceNo": COMPANY, "holderCode": COMPANY}),
            key("market_regulation"),
            200,
        ),
    }
    plan = [list(kinds)[i % len(kinds)] for i in range(200)]
    with Server(create_app(warehouse_url, limits=GENEROUS)) as base:
        probe = Probe(base, warehouse_url)
        before = probe.last_id()

        def send(kind: str) -> tuple[str, int]:
            (path, params), headers, _ = kinds[kind]
            with httpx.Client(base_url=base, timeout=60) as client:
                return kind, client.get(path, params=params, headers=headers).status_code

        with ThreadPoolExecutor(max_workers=32) as pool:
            answers = list(pool.map(send, plan))
        with probe.log.connect() as conn:
            rows = conn.execute(sa.select(licence_access_log).where(licence_access_log.c.id > before)).mappings().all()
        probe.close()
    assert all(status == kinds[kind][2] for kind, status in answers), Counter(answers)
    assert len(rows) == 200
    outcomes = Counter(row["outcome"] for row in rows)
    assert outcomes == {
        "allowed": plan.count("good") + plan.count("verify"),
        "refused": 200 - plan.count("good") - plan.count("verify"),
    }
    assert Counter(row["caller"] for row in rows)["unknown"] == plan.count("wrong_key")
