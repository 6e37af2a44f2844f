"""The bridge's province profiles (national up_pro_*, front-end PRE_*) against the province stand-in's own
reading of the published tables.

Golden-case versions made here by hand go through ``ProvinceTableTarget`` into tables the sandbox creates from its
own fixture (``sandbox/province``), and the sandbox's exchange process judges every row with its own rules and code
lists. A misread column, length, code or key on either side shows as a rejection here.
"""

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa

from connectors.province import ProvinceTableTarget, batch_of, case_rows, profile
from connectors.targets import OutboxMessage
from sandbox.province.exchange import NationalExchange, PreExchange
from sandbox.province.fixture import build_metadata

pytestmark = pytest.mark.unit

MARKET_USCC = "11320412MB0143028G"
TASK = MARKET_USCC + "4" + "000102001000"  # 企业设立登记 as the market regulator implements it
COMPANY = "91320412MA1MXXXX0Y"


def case(number: int, status: str = "办结", **fields) -> dict:
    day = dt.datetime(2026, 11, 16, 9)
    payload = {
        "project_no": f"{TASK}20261116{number:04d}",
        "case_no": f"{TASK}20261116{number:04d}",
        "item_code": "000102001000",
        "item_name": "企业设立登记",
        "applicant_type": "legal_person",
        "applicant_name": f"常州武进恒达{number}号科技有限公司",
        "applicant_id": "913204125855863580",
        "applicant_id_kind": "uscc",
        "contact_phone": "13812345678",
        "address": "江苏省常州市武进区湖塘镇人民中路1号",
        "submitted_at": day.isoformat(),
        "accepted_at": (day + dt.timedelta(hours=1)).isoformat(),
        "decided_at": (day + dt.timedelta(days=1)).isoformat() if status in ("决定", "办结", "退件") else None,
        "completed_at": (day + dt.timedelta(days=1, hours=2)).isoformat() if status == "办结" else None,
        "status": status,
        "promised_days": 2,
        "statutory_days": 15,
        "handling_dept": "market_regulation",
        "submission_channel": "web",  # PRE_APASINFO.APPLYFROM requires one (issue 15)
        "delivery_method": "electronic",
    }
    return {**payload, **fields}


def message(golden_case_id: str, version: int, payload: dict) -> OutboxMessage:
    key = f"one_network:{golden_case_id}:v{version}"
    return OutboxMessage(key, golden_case_id, version, payload, hashlib.sha256(repr(payload).encode()).hexdigest())


EXCHANGES = {"national": NationalExchange, "pre": PreExchange}


def _front_end(tmp_path, family: str):
    """(url, the stand-in's exchange, the profile): the province's tables as the sandbox reads the definitions."""
    url = f"sqlite:///{tmp_path / 'province.sqlite'}"
    engine = sa.create_engine(url)
    build_metadata((family,)).create_all(engine)
    yield url, EXCHANGES[family](engine), family
    engine.dispose()


@pytest.fixture(params=sorted(EXCHANGES))
def province(request, tmp_path):
    yield from _front_end(tmp_path, request.param)


@pytest.fixture
def national(tmp_path):
    yield from _front_end(tmp_path, "national")


@pytest.fixture
def pre(tmp_path):
    yield from _front_end(tmp_path, "pre")


def held(exchange) -> dict[str, tuple[int, str | None]]:
    """Per case number the province holds: (process steps, result code), whichever family."""
    return {
        h["case_no"]: (h.get("process_rows", h.get("node_rows")), h.get("result_type", h.get("result_code")))
        for h in exchange.holdings()
    }


def answer(province, target, messages):
    exchange = province[1]
    # every row written so far, whenever the test runs; a row waiting on another is taken on a later pass
    for _ in range(5):
        if not exchange.process_once(dt.datetime(2100, 1, 1)):
            break
    return {d.idempotency_key: (d.outcome, d.code, d.reason) for d in target.follow_up(messages)}


def test_a_case_life_goes_out_as_acceptance_steps_and_result(province):
    url, exchange, family = province
    target = ProvinceTableTarget(url=url, profile_name=family)
    messages = [
        message("GC1", 1, case(1, "受理", decided_at=None)),
        message("GC2", 1, case(2, "办结")),
        message("GC3", 1, case(3, "退件")),
    ]
    sent = target.send(messages)
    assert [d.outcome for d in sent] == ["sent"] * 3
    assert [d.receipt_id for d in sent] == [batch_of(m.idempotency_key) for m in messages]
    answers = answer(province, target, messages)
    assert {k: v[0] for k, v in answers.items()} == dict.fromkeys((m.idempotency_key for m in messages), "acknowledged")
    assert exchange.rejections() == []
    holds = held(exchange)
    assert holds[f"{TASK}202611160001"] == (1, None)
    assert holds[f"{TASK}202611160002"] == (3, "0")
    assert holds[f"{TASK}202611160003"][1] == "5"  # 退件


def test_a_change_is_an_update_under_the_same_key_and_a_resend_writes_nothing(national):
    url, exchange, _ = national
    target = ProvinceTableTarget(url=url)
    first = message("GC1", 1, case(1, "受理", decided_at=None))
    target.send([first])
    answer(national, target, [first])
    second = message("GC1", 2, case(1, "办结", applicant_name="常州武进恒达1号科技股份有限公司"))
    receipts = [d.receipt_id for d in target.send([second]) + target.send([second])]  # a re-send after a crash
    assert receipts[0] == receipts[1] == batch_of(second.idempotency_key)  # nothing twice, the same receipt
    assert answer(national, target, [second])[second.idempotency_key][0] == "acknowledged"
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        accepts = conn.execute(sa.text("SELECT cd_operation, applyer_name FROM up_pro_accept ORDER BY cd_time")).all()
        mirror = conn.execute(sa.text("SELECT applyer_name FROM dn_pro_accept")).scalar_one()
    engine.dispose()
    assert [op for op, _ in accepts] == ["i", "u"]  # one insert, then the change as an update of the same row
    assert mirror == "常州武进恒达1号科技股份有限公司"
    assert exchange.rejections() == []


def test_pre_a_change_is_the_next_dataversion_and_a_resend_writes_nothing(pre):
    url, exchange, _ = pre
    target = ProvinceTableTarget(url=url, profile_name="pre")
    first = message("GC1", 1, case(1, "受理", decided_at=None))
    target.send([first])
    answer(pre, target, [first])
    second = message("GC1", 2, case(1, "办结", applicant_name="常州武进恒达1号科技股份有限公司"))
    receipts = [d.receipt_id for d in target.send([second]) + target.send([second])]  # a re-send after a crash
    assert receipts[0] == receipts[1] == batch_of(second.idempotency_key)
    assert answer(pre, target, [second])[second.idempotency_key][0] == "acknowledged"
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        cases = conn.execute(
            sa.text("SELECT DATAVERSION, SYNC_STATUS, APPLYNAME, HANDLESTATE FROM PRE_APASINFO ORDER BY DATAVERSION")
        ).all()
        accepts = conn.execute(sa.text("SELECT DATAVERSION FROM PRE_ACCEPT")).scalars().all()
        nodes = conn.execute(sa.text("SELECT NODE_NAME, DATAVERSION FROM PRE_NODE ORDER BY NODE_NAME")).all()
    engine.dispose()
    # the case row: version 1 as accepted, version 2 with the new name and 办结 (10); both taken (S)
    assert cases == [(1, "S", "常州武进恒达1号科技有限公司", "5"), (2, "S", "常州武进恒达1号科技股份有限公司", "10")]
    assert accepts == [1]  # the acceptance did not change: not written again
    assert sorted(nodes) == [("办结", 1), ("受理", 1), ("审查决定", 1)]
    assert exchange.rejections() == []


def test_versions_of_one_case_sent_together_and_a_version_with_nothing_for_the_province(province):
    url, exchange, family = province
    target = ProvinceTableTarget(url=url, profile_name=family)
    versions = [
        message("GC1", 1, case(1, "申报", accepted_at=None, decided_at=None)),  # not accepted: nothing to write
        message("GC1", 2, case(1, "受理", decided_at=None)),
        message("GC1", 3, case(1, "办结")),
        message("GC1", 4, case(1, "办结", statutory_days=20)),  # a change outside what the province keeps
    ]
    receipts = [d.receipt_id for d in target.send(versions)]
    assert receipts[0].startswith("=") and receipts[3].startswith("=")
    assert receipts[1:3] == [batch_of(m.idempotency_key) for m in versions[1:3]]
    sent = [
        OutboxMessage(m.idempotency_key, m.golden_case_id, m.version, {}, "", r)
        for m, r in zip(versions, receipts, strict=True)
    ]
    assert {v[0] for v in answer(province, target, sent).values()} == {"acknowledged"}
    assert exchange.rejections() == []
    assert held(exchange) == {f"{TASK}202611160001": (3, "0")}


def test_a_version_that_cannot_be_written_is_held_with_a_reason(national):
    url, _, _ = national
    target = ProvinceTableTarget(url=url)
    cases = [
        message("GC1", 1, case(1, applicant_id=None)),  # required 证件号码 missing
        message("GC2", 1, case(2, applicant_id_kind="hk_macau_pass_old")),  # a certificate type with no code
        message("GC3", 1, case(3)),
    ]
    sent = {d.idempotency_key: d for d in target.send(cases)}
    assert (
        sent[cases[0].idempotency_key].outcome == "rejected"
        and "applyer_page_code" in sent[cases[0].idempotency_key].reason
    )
    assert (
        sent[cases[1].idempotency_key].outcome == "rejected"
        and "certificate_type" in sent[cases[1].idempotency_key].reason
    )
    assert sent[cases[2].idempotency_key].outcome == "sent"
    engine = sa.create_engine(url)
    with engine.connect() as conn:  # nothing of a held version reached the province
        numbers = set(conn.execute(sa.text("SELECT DISTINCT project_no FROM up_pro_accept")).scalars())
    engine.dispose()
    assert numbers == {f"{TASK}202611160003"}


def test_the_province_refusal_comes_back_in_its_words(province):
    url, _, family = province
    target = ProvinceTableTarget(url=url, profile_name=family)
    bad = message("GC1", 1, case(1, project_no=f"{TASK}202611160000"))  # serial 0000: not a 办件编号
    target.send([bad])
    outcome, code, reason = answer(province, target, [bad])[bad.idempotency_key]
    assert outcome == "rejected" and code and reason  # the province's error code and text


def test_rows_carry_the_profiles_codes_and_keys():
    tables, held = case_rows(
        __import__("pandas").DataFrame([{**case(7), "golden_case_id": "GC7", "version": 1}]), profile("national")
    )
    assert held.empty
    accept = tables["up_pro_accept"].iloc[0]
    assert accept["task_code"] == TASK and accept["org_code"] == MARKET_USCC
    assert (
        accept["applyer_type"] == "2" and accept["applyer_page_type"] == "001" and accept["project_type"] in ("1", "2")
    )
    assert len(accept["row_guid"]) == 36 and len(batch_of("one_network:GC7:v1")) == 32


def test_a_number_replaced_by_the_departments_is_withdrawn(province):
    """The bridge numbered the case; the department's own number came later: the province ends holding the case
    under the department's number only (national: the old rows deleted; PRE: the old case row 作废)."""
    url, exchange, family = province
    target = ProvinceTableTarget(url=url, profile_name=family)
    allocated, department = f"{TASK}202611169001", f"{TASK}202611160042"
    first = message("GC1", 1, case(1, "受理", decided_at=None, project_no=allocated))
    target.send([first])
    answer(province, target, [first])
    assert set(held(exchange)) == {allocated}
    second = message("GC1", 2, case(1, "办结", project_no=department, withdrawn_numbers=allocated))
    receipts = [d.receipt_id for d in target.send([second]) + target.send([second])]  # a re-send writes nothing
    assert receipts[0] == receipts[1] == batch_of(second.idempotency_key)
    assert answer(province, target, [second])[second.idempotency_key][0] == "acknowledged"
    assert exchange.rejections() == []
    assert held(exchange) == {department: (3, "0")}
    assert set(target.holdings()["case_no"]) == {department}
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        table, column = ("up_pro_accept", "project_no") if family == "national" else ("PRE_APASINFO", "PROJID")
        rows = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE {column} = :n"), {"n": allocated}).scalar()
    engine.dispose()
    assert rows == 2  # written once, taken back once: the re-send added nothing


def test_a_number_replaced_before_the_province_took_the_first_is_withdrawn_all_the_same(province):
    """Both versions reach the province before it has taken either (a department system that reported days late):
    the province takes the first, then the withdrawal, and both versions are acknowledged; the case is held once."""
    url, exchange, family = province
    target = ProvinceTableTarget(url=url, profile_name=family)
    allocated, department = f"{TASK}202611169001", f"{TASK}202611160042"
    versions = [
        message("GC1", 1, case(1, "办结", project_no=allocated)),
        message("GC1", 2, case(1, "办结", project_no=department, withdrawn_numbers=allocated)),
    ]
    receipts = {d.idempotency_key: d.receipt_id for d in target.send(versions)}
    sent = [OutboxMessage(m.idempotency_key, "GC1", m.version, {}, "", receipts[m.idempotency_key]) for m in versions]
    assert {v[0] for v in answer(province, target, sent).values()} == {"acknowledged"}
    assert exchange.rejections() == []
    assert set(held(exchange)) == {department} and set(target.holdings()["case_no"]) == {department}
