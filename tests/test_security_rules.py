"""The sharing API's rules that need no server: keys outside the sandbox, parameter checks, what the audit may
keep, whom X-Forwarded-For is believed from, the rate limiter, and the purpose binding checked afterwards.

The probes over real HTTP, on SQLite and PostgreSQL, are in ``test_security.py``; docs/security.md lists both.
"""

import argparse
import datetime as dt

import pandas as pd
import pytest

from core.warehouse import Warehouse, insert_frame
from pipelines.marts.purpose import every_read_has_its_case
from reporting.purpose import unbound_reads
from schemas.identifiers import is_national_case_no, mask_numbers_in_text, national_case_numbers
from schemas.warehouse import golden_cases, licence_access_log, mart_unbound_reads, staged_cases
from sharing.api import licence_types, sharing_clients
from sharing.guard import (
    Limits,
    RateLimiter,
    Refusal,
    audit_text,
    check_parameters,
    client_address,
    is_case_no,
    parse_networks,
)
from sharing.keys import MIN_KEY_LENGTH, KeyProblem, KeyRing, api_keys, key_variable, sandbox_key
from sharing.server import main_serve
from tests.test_checks import run_check, verdict

pytestmark = pytest.mark.unit

CALLERS = list(sharing_clients())
PERSON = "320412198503120011"  # a 身份证号 shape (region 320412, born 1985-03-12)
NATIONAL = "12441500196720244T3442199806003202206230068"  # the published example (research notes §3.1)


def good_key(caller: str) -> str:
    return f"{caller}-production-key-".ljust(MIN_KEY_LENGTH + 4, "k")


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setenv("BRIDGE_PROFILE", "production")
    for caller in CALLERS:
        monkeypatch.setenv(key_variable(caller), good_key(caller))
        monkeypatch.delenv(key_variable(caller, "next"), raising=False)
    return monkeypatch


# ---------------------------------------------------------------- keys
def test_production_keys_that_are_safe_are_accepted(production):
    keys = api_keys(CALLERS)
    assert keys == {caller: (good_key(caller),) for caller in CALLERS}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "LICENCE_API_KEY_HOUSING: missing (the key of caller housing)"),
        ("   ", "LICENCE_API_KEY_HOUSING: set but empty"),
        ("x", "LICENCE_API_KEY_HOUSING: 1 characters, at least 32 needed (caller housing)"),
        (sandbox_key("housing"), "LICENCE_API_KEY_HOUSING: a key the sandbox publishes (caller housing)"),
        (good_key("health"), "LICENCE_API_KEY_HEALTH: the same key as LICENCE_API_KEY_HOUSING"),
        ("a" * MIN_KEY_LENGTH, "LICENCE_API_KEY_HOUSING: one character repeated (caller housing)"),
        ("k" * 20 + "\n" + "k" * 20 + "x", "LICENCE_API_KEY_HOUSING: holds a character other than printable ASCII"),
        ("证照共享密钥" + "k" * 40, "LICENCE_API_KEY_HOUSING: holds a character other than printable ASCII"),
    ],
)
def test_production_refuses_an_unsafe_key_naming_the_caller(production, value, problem):
    if value is None:
        production.delenv(key_variable("housing"))
    else:
        production.setenv(key_variable("housing"), value)
    with pytest.raises(KeyProblem) as refused:
        api_keys(CALLERS)
    assert any(line.startswith(problem) for line in refused.value.problems), refused.value.problems


@pytest.mark.parametrize("profile", ["production", "sandbox"])
def test_a_key_variable_naming_no_caller_is_refused_not_ignored(production, profile):
    production.setenv("BRIDGE_PROFILE", profile)
    production.setenv("LICENCE_API_KEY_HOUSING_NXT", good_key("housing") + "-next")  # misspelt _NEXT
    with pytest.raises(KeyProblem) as refused:
        api_keys(CALLERS)
    assert refused.value.problems[0].startswith("LICENCE_API_KEY_HOUSING_NXT: names no caller and slot")


def test_config_check_reports_the_key_problems(production, capsys):
    from cli.main import main

    production.setenv(key_variable("fire_rescue"), "f" * 40)
    code = main(["config", "check"])
    err = capsys.readouterr().err
    assert code != 0 and "LICENCE_API_KEY_FIRE_RESCUE: one character repeated" in err and "f" * 40 not in err


def test_another_callers_sandbox_key_is_refused_too(production):
    production.setenv(key_variable("health"), sandbox_key("fire_rescue"))
    with pytest.raises(KeyProblem, match="LICENCE_API_KEY_HEALTH: a key the sandbox publishes"):
        api_keys(CALLERS)


def test_serve_stops_in_one_line_per_problem_before_listening(production, capsys, tmp_path):
    production.setenv("BRIDGE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.sqlite'}")
    production.setenv(key_variable("housing"), "short")
    production.setenv(key_variable("fire_rescue"), good_key("health"))
    code = main_serve(argparse.Namespace(host="127.0.0.1", port=1, warehouse_url=None))
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and "Traceback" not in "\n".join(err)
    assert err[0] == "approval-bridge serve: the API does not start (BRIDGE_PROFILE=production):"
    assert any("LICENCE_API_KEY_HOUSING: 5 characters" in line for line in err)
    assert any("LICENCE_API_KEY_HEALTH: the same key as" in line or "FIRE_RESCUE: the same key" in line for line in err)


def test_a_bad_rate_limit_stops_serve_naming_the_variable(production, capsys, tmp_path):
    production.setenv("BRIDGE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.sqlite'}")
    production.setenv("LICENCE_API_RATE_PER_KEY", "lots")
    assert main_serve(argparse.Namespace(host="127.0.0.1", port=1, warehouse_url=None)) == 2
    assert capsys.readouterr().err.startswith("approval-bridge serve: LICENCE_API_RATE_PER_KEY='lots'")


def test_the_sandbox_profile_fills_in_missing_keys_but_never_an_empty_or_shared_one(monkeypatch):
    monkeypatch.delenv("BRIDGE_PROFILE", raising=False)
    for caller in CALLERS:
        monkeypatch.delenv(key_variable(caller), raising=False)
    assert api_keys(CALLERS)["housing"] == (sandbox_key("housing"),)
    monkeypatch.setenv(key_variable("housing"), "")
    with pytest.raises(KeyProblem, match="set but empty"):
        api_keys(CALLERS)
    monkeypatch.setenv(key_variable("housing"), sandbox_key("health"))
    with pytest.raises(KeyProblem, match="the same key as"):
        api_keys(CALLERS)


def test_rotation_accepts_both_keys_of_one_caller(production):
    production.setenv(key_variable("housing", "next"), good_key("housing") + "-2026-12")
    ring = KeyRing(api_keys(CALLERS))
    current, upcoming = ring.match(good_key("housing")), ring.match(good_key("housing") + "-2026-12")
    assert (current.caller, current.slot) == ("housing", "current")
    assert (upcoming.caller, upcoming.slot) == ("housing", "next")
    assert ring.match(good_key("housing")[:-1]) is None and ring.match("") is None and ring.match(None) is None
    assert ring.match("k" * 100_000) is None  # compared no further than its length
    production.setenv(key_variable("health", "next"), good_key("housing"))  # a next key is still one caller's
    with pytest.raises(KeyProblem, match="LICENCE_API_KEY_HEALTH_NEXT: the same key as LICENCE_API_KEY_HOUSING"):
        api_keys(CALLERS)


# ---------------------------------------------------------------- parameters
LOOKUP = ("holder_code", "caseNo", "type")
TYPES = licence_types()


def refused(path: dict, query: list, accepted=LOOKUP) -> str:
    with pytest.raises(Refusal) as stop:
        check_parameters(path, query, accepted, TYPES)
    assert stop.value.status == 400
    return stop.value.reason


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("WJSP2026\x0001", "caseNo: control or invisible characters"),
        ("WJSP2026\n01", "caseNo: control or invisible characters"),
        ("\x1b[31mWJSP\x1b[0m", "caseNo: control or invisible characters"),
        ("WJSP\u200b2026", "caseNo: control or invisible characters"),
        ("WJSP\u202e2026", "caseNo: control or invisible characters"),
        ("\ufeffWJSP", "caseNo: control or invisible characters"),
        ("W" * 65, "caseNo: longer than 64 characters"),
        ("   ", "caseNo is required: the case this read is for"),
    ],
)
def test_a_bad_case_number_is_named_not_echoed(value, reason):
    assert refused({"holder_code": "91320412123456788X"}, [("caseNo", value)]) == reason


def test_holder_codes_types_and_parameters():
    path = {"holder_code": "91320412123456788X"}
    case = [("caseNo", NATIONAL)]
    assert refused({"holder_code": "9132\x00"}, case) == "holder_code: control or invisible characters"
    assert refused({"holder_code": "<script>"}, case).startswith("holder_code: not a USCC or 身份证号")
    assert refused(path, [*case, ("type", PERSON)]) == "type: not a registered 证照类型代码"
    assert refused(path, [*case, *[("type", next(iter(TYPES)))] * 5000]) == "type: at most 20 values"
    assert refused(path, [*case, ("debug", "1")]).startswith("unknown parameter: this endpoint takes caseNo")
    assert refused(path, [*case, *case]) == "caseNo: given more than once"
    assert refused(path, []) == "caseNo is required: the case this read is for"
    assert refused({}, case, ("caseNo", "licenceNo", "holderCode")) == "licenceNo: required"
    # a code typed with full-width digits, spaces and a dash is read as normalize_code reads it
    asked = check_parameters({"holder_code": "９１３２ 0412-123456788x"}, case, LOOKUP, TYPES)
    assert asked.get("holder_code") == "91320412123456788X" and asked.get("caseNo") == NATIONAL
    asked = check_parameters(path, [*case, *[("type", t) for t in sorted(TYPES)] * 2], LOOKUP, TYPES)
    assert asked.types == tuple(sorted(TYPES))  # repeats folded, order kept


def test_case_numbers_national_or_as_registered():
    assert is_national_case_no(NATIONAL)
    for wrong in (
        NATIONAL[:-4] + "0000",  # serials start at 0001
        NATIONAL[:-12] + "20221332" + NATIONAL[-4:],  # no 32 December… of month 13
        "12441500196720244X" + NATIONAL[18:],  # the 实施编码 must open with a valid USCC
        PERSON + NATIONAL[18:],  # a 身份证号 where the USCC belongs
        NATIONAL + "1",
        "x",
    ):
        assert not is_national_case_no(wrong), wrong
    samples = [NATIONAL, NATIONAL[:-4] + "0000", PERSON + NATIONAL[18:], NATIONAL.lower(), "", NATIONAL[:30]]
    assert national_case_numbers(pd.Series(samples)).tolist() == [is_national_case_no(s) for s in samples]
    clients = sharing_clients()
    assert is_case_no("WJJS2026031200042", clients["housing"].case_no_pattern)
    assert not is_case_no("WJJS2026031200042", clients["market_regulation"].case_no_pattern)
    assert not is_case_no("WJJS2026031200042x", clients["housing"].case_no_pattern)  # matched whole
    assert all(is_case_no(NATIONAL, client.case_no_pattern) for client in clients.values())


def test_audit_text_spells_out_invisible_characters_and_masks_numbers():
    assert audit_text("WJ\x00\n\x1b[31m\u200b", 64) == "WJ\\u0000\\u000a\\u001b[31m\\u200b"
    assert audit_text(f"type {PERSON} and 13812345678", 128) == "type 320412********0011 and 138****5678"
    assert audit_text("３２０４１２１９８５０３１２００１１", 64) == "320412********0011"  # full-width digits
    assert audit_text("3204 1219 8503 1200 11", 64) == "320412********0011"
    assert audit_text("x" * 500, 64) == "x" * 64 and audit_text(None, 64) is None
    assert mask_numbers_in_text("WJSP2026010500017") == "WJSP202******0017"  # only where the audit needs it


# ---------------------------------------------------------------- the client's address
def test_forwarded_for_is_believed_only_from_trusted_proxies():
    trusted = parse_networks("10.0.0.0/8, 127.0.0.1")
    assert client_address("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"  # none trusted by default
    assert client_address("192.0.2.7", ["203.0.113.9"], trusted) == "192.0.2.7"  # not from a proxy
    assert client_address("127.0.0.1", ["203.0.113.9"], trusted) == "203.0.113.9"
    # the client wrote the left part itself: only the hop the trusted proxies added counts
    assert client_address("127.0.0.1", ["198.51.100.1, 203.0.113.9, 10.1.2.3"], trusted) == "203.0.113.9"
    assert client_address("127.0.0.1", ["evil<script>"], trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", ["10.1.1.1", "10.2.2.2"], trusted) == "10.1.1.1"  # every hop ours
    with pytest.raises(ValueError, match=r"LICENCE_API_TRUSTED_PROXIES: 'proxy\.local'"):
        parse_networks("proxy.local")


# ---------------------------------------------------------------- rate limits
def test_rate_limits_refuse_with_when_to_come_back():
    limiter = RateLimiter(Limits(per_key="3/minute", per_address="100/minute", failed_auth_per_address="2/minute"))
    for _ in range(3):
        limiter.take("per_key", "housing")
    with pytest.raises(Refusal) as stop:
        limiter.take("per_key", "housing")
    assert stop.value.status == 429 and 1 <= stop.value.retry_after <= 60
    limiter.take("per_key", "health")  # another key has its own window
    limiter.check("failed_auth_per_address", "192.0.2.1")
    limiter.count("failed_auth_per_address", "192.0.2.1")
    limiter.count("failed_auth_per_address", "192.0.2.1")
    with pytest.raises(Refusal):
        limiter.check("failed_auth_per_address", "192.0.2.1")
    with pytest.raises(ValueError, match="LICENCE_API_RATE_FAILED_AUTH='often'"):
        RateLimiter(Limits(failed_auth_per_address="often"))


# ---------------------------------------------------------------- the purpose binding, checked afterwards
TODAY = dt.date(2026, 11, 30)


def read(read_id: int, day: dt.date, case_no: str, outcome: str = "allowed", caller: str = "housing") -> dict:
    return {
        "id": read_id,
        "at": dt.datetime.combine(day, dt.time(10, read_id % 60)),
        "caller": caller,
        "purpose": "施工许可与预售许可审查",
        "action": "lookup",
        "case_no": case_no,
        "outcome": outcome,
        "reason": "1 licences",
        "client": "192.0.2.10",
    }


def staged(case_no: str, day: dt.date) -> dict:
    return {
        "source_system": "housing",
        "partition_date": day,
        "record_key": case_no,
        "source_record_id": case_no,
        "case_no": case_no,
    }


@pytest.fixture
def reads(warehouse: Warehouse) -> Warehouse:
    d = TODAY - dt.timedelta(days=20)
    rows = [
        read(1, d, "WJJS2026111000001"),  # its case arrived two days later: bound
        read(2, d, "WJJS2026111000002"),  # arrived the week before the read: bound
        read(3, d, "WJJS2026111000003"),  # never arrived: unbound
        read(4, d, "WJJS2026111000004"),  # arrived 12 days later: too late, unbound
        read(5, d, "WJJS2026111000005", outcome="refused"),  # refused: handed out nothing
        read(6, TODAY - dt.timedelta(days=3), "WJJS2026112700006"),  # its window is still open
        read(7, d, NATIONAL, caller="market_regulation"),  # a national number a golden case carries
    ]
    with warehouse.begin() as conn:
        insert_frame(conn, licence_access_log, pd.DataFrame(rows))
        insert_frame(
            conn,
            staged_cases,
            pd.DataFrame(
                [
                    staged("WJJS2026111000001", d + dt.timedelta(days=2)),
                    staged("WJJS2026111000002", d - dt.timedelta(days=7)),
                    staged("WJJS2026111000004", d + dt.timedelta(days=12)),
                ]
            ),
        )
        insert_frame(
            conn,
            golden_cases,
            pd.DataFrame(
                [
                    {
                        "golden_case_id": "GC1",
                        "case_no": NATIONAL,
                        "record_count": 1,
                        "version": 1,
                        "content_hash": "h",
                        "first_partition": d,
                        "updated_partition": d,
                        "updated_at": dt.datetime.combine(d, dt.time()),
                    }
                ]
            ),
        )
    return warehouse


def test_reads_whose_case_never_arrived(reads):
    with reads.engine.connect() as conn:
        frame = unbound_reads(conn, TODAY, days=7)
    assert frame["read_id"].tolist() == [3, 4]
    assert frame["case_first_seen"].tolist() == [None, TODAY - dt.timedelta(days=8)]
    assert frame["days_waited"].tolist() == [20, 20] and frame["read_day"].tolist() == [TODAY - dt.timedelta(20)] * 2
    with reads.engine.connect() as conn:  # a longer window lets the late case count
        assert unbound_reads(conn, TODAY, days=14)["read_id"].tolist() == [3]


def test_the_check_warns_while_any_read_is_unbound(reads):
    assert verdict(run_check(every_read_has_its_case, reads, partition=None)) == "passed"  # mart not built yet
    with reads.engine.connect() as conn:
        frame = unbound_reads(conn, TODAY, days=7)
    with reads.begin() as conn:
        insert_frame(conn, mart_unbound_reads, frame)
    evaluation = run_check(every_read_has_its_case, reads, partition=None)
    assert verdict(evaluation) == "warning" and evaluation.metadata["unbound_reads"].value == 2


# ---------------------------------------------------------------- what the audit keeps of a holder code
@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("320412.19980729.6328", "320412********6328"),  # dots between the parts of a 身份证号
        ("320412/19980729_6328", "320412********6328"),
        ("٣٢٠٤١٢١٩٩٨٠٧٢٩٦٣٢٨", "320412********6328"),  # Arabic-Indic digits (NFKC leaves them alone)
        ("３２０４１２１９９８０７２９６３２８", "320412********6328"),  # full-width
        ("3204\u200b1219980729\u200b6328", "320412********6328"),  # invisible characters splitting it
        ("139.1234.5678", "139****5678"),  # a phone
        ("9132\x00", "9132\\u0000"),  # short: kept as audit_text keeps it, the control character shown
        ("91320412MA1W7R8X1K", "91320412MA1W7R8X1K"),  # a USCC is not personal data
    ],
)
def test_a_holder_code_is_masked_in_the_audit_whatever_separates_its_digits(sent, kept):
    from sharing.guard import audit_code

    assert audit_code(sent, 64) == kept
    assert "19980729" not in audit_code(sent, 64)


def test_digits_of_any_script_are_masked_in_free_text():
    assert mask_numbers_in_text("call ١٣٩١٢٣٤٥٦٧٨ now") == "call 139****5678 now"
