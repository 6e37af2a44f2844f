"""Delivery under faults, over real HTTP on loopback and against a real exchange database.

Each scenario queues golden-case versions in a real warehouse, drains them to a sandbox receiver that
misbehaves in one way, and then asks the receiver itself what it holds: every case once, at the newest
version it acknowledged, and every version accounted for on our side.
"""

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.municipal import MunicipalTarget
from connectors.province import ProvinceTableTarget
from connectors.targets import CredentialsRefused, DeliveryTarget
from core.vocabulary import PENDING_STATUSES
from core.warehouse import Warehouse, insert_frame
from delivery.outbox import drain, status_counts
from delivery.reconcile import EPOCH, compare_cases, per_day, receiver_counts, reconcile_receiver
from sandbox.runtime import CREDENTIALS
from schemas.identifiers import make_uscc
from schemas.warehouse import metadata, outbox
from tests.conftest import pipeline_environment, start_sandbox

CASE = {"case_no": "MR-1", "item_code": "000102001000", "item_name": "企业设立登记", "applicant_type": "legal_person",
        "applicant_name": "常州恒达科技有限公司", "applicant_id": "9132041258558635XF", "status": "受理",
        "contact_phone": "13812345678", "submitted_at": "2026-11-16T09:00:00"}  # fmt: skip
DAY = dt.date(2026, 11, 16)


def _uscc(n: int) -> str:
    return make_uscc("91320412", f"{n + 10000000:08d}")


def _case(n: int, **changes) -> dict:
    number = f"11320412MB0143028G4000102001000{DAY:%Y%m%d}{n + 1:04d}"  # 办件编号: the market regulator's 实施编码
    return {
        **CASE,
        "accepted_at": "2026-11-16T10:00:00",
        "handling_dept": "market_regulation",
        "applicant_id_kind": "uscc",
        "project_no": number,
        "case_no": number,
        "applicant_name": f"常州测试{n}号有限公司",
        "applicant_id": _uscc(n),
        **changes,
    }


def _queue(warehouse: Warehouse, target: str, versions: list[tuple[str, int, dict]]) -> None:
    """Outbox rows as case_resolution writes them: (golden case id, version, canonical payload)."""
    rows = []
    for golden_case_id, version, payload in versions:
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        rows.append({
            "target": target, "idempotency_key": f"{target}:{golden_case_id}:v{version}",
            "golden_case_id": golden_case_id, "version": version, "partition_date": DAY, "payload": text,
            "payload_hash": hashlib.sha256(text.encode()).hexdigest(), "status": "queued", "attempts": 0,
            "created_at": dt.datetime(2026, 11, 16, 9) + dt.timedelta(seconds=len(rows)),
        })  # fmt: skip
    with warehouse.begin() as conn:
        insert_frame(conn, outbox, pd.DataFrame(rows))


def _pending(warehouse: Warehouse, target: str | None = None) -> int:
    marks = ", ".join(f"'{s}'" for s in PENDING_STATUSES)
    only = f" AND target = '{target}'" if target else ""
    return int(warehouse.scalar(f"SELECT COUNT(*) FROM outbox WHERE status IN ({marks}){only}"))


def _settle(warehouse: Warehouse, name: str, target: DeliveryTarget, seconds: float = 40.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        drain(warehouse, name, target)
        if not _pending(warehouse, name):
            return
        time.sleep(0.25)
    raise AssertionError(f"{name}: {_pending(warehouse, name)} versions still pending after {seconds}s")


def _assert_exactly_once(warehouse: Warehouse, name: str, target: DeliveryTarget) -> pd.DataFrame:
    """The receiver holds each acknowledged case once, at the newest version it acknowledged, as its own query says
    (the province's tables; the platform's receipts query, which cannot tell a version that took effect twice)."""
    found = reconcile_receiver(warehouse, name, target, None, EPOCH)
    cases = found.cases
    assert found.check == "verified" and set(cases["verdict"]) <= {"agrees"}, cases[cases["verdict"] != "agrees"]
    assert receiver_counts(warehouse, name, target)["duplicate_effects"] in (0, None)
    counts = status_counts(warehouse).set_index("target").loc[name]
    assert counts["case_versions"] == counts["acknowledged"] + counts["dead_lettered"]
    return cases


def _municipal(sandbox, **overrides) -> MunicipalTarget:
    key, secret = CREDENTIALS["municipal"]
    return MunicipalTarget(**{"base_url": sandbox.url("municipal"), "app_key": key, "app_secret": secret, **overrides})


def _faults(sandbox, **settings) -> None:
    httpx.post(sandbox.url("municipal") + "/_sandbox/faults", json=settings, timeout=5).raise_for_status()


def _served(sandbox) -> dict:
    return httpx.get(sandbox.url("municipal") + "/_sandbox/served", timeout=5).json()


def _platform(sandbox) -> dict:
    """What the stand-in platform holds, from its own inspection endpoint (the test's truth, never the bridge's)."""
    stats = httpx.get(sandbox.url("municipal") + "/_sandbox/stats", timeout=5).json()
    return {"received_cases": stats["received_cases"], "duplicate_effects": stats["duplicate_effects"]}


def _platform_case_numbers(sandbox) -> set[str]:
    return {h["entityId"] for h in httpx.get(sandbox.url("municipal") + "/_sandbox/holdings", timeout=5).json()["data"]}


@pytest.fixture
def sandbox(tmp_path):
    sandbox = start_sandbox(tmp_path / "sandbox", days=1, cases_per_day=5, fault_level="none")
    yield sandbox
    sandbox.stop()


@pytest.mark.integration
def test_rejection_then_correction_closes_the_dead_letter(warehouse, sandbox):
    target = _municipal(sandbox)
    _queue(warehouse, "municipal", [("GC1", 1, _case(0, contact_phone=None))])  # the platform rejects it
    _settle(warehouse, "municipal", target)
    letter = warehouse.read("SELECT reason_code, clerk_message, closed_at FROM dead_letters")
    assert letter["reason_code"].tolist() == ["E2011"] and "联系电话" in letter["clerk_message"].iloc[0]
    assert letter["closed_at"].isna().all()

    _queue(warehouse, "municipal", [("GC1", 2, _case(0))])  # the clerk fixed the source record
    _settle(warehouse, "municipal", target)
    assert warehouse.scalar("SELECT status FROM outbox WHERE version = 2") == "acknowledged"
    assert warehouse.read("SELECT closed_at FROM dead_letters")["closed_at"].notna().all()
    assert _platform(sandbox) == {"received_cases": 1, "duplicate_effects": 0}


@pytest.mark.integration
def test_status_update_is_a_new_version_and_the_receiver_ends_with_it(warehouse, sandbox):
    target = _municipal(sandbox, batch_size=10)
    _queue(warehouse, "municipal", [(f"GC{n}", 1, _case(n)) for n in range(5)])
    _settle(warehouse, "municipal", target)
    completed = {"status": "办结", "completed_at": "2026-11-18T10:00:00"}
    _queue(warehouse, "municipal", [(f"GC{n}", 2, _case(n, **completed)) for n in range(3)])
    _settle(warehouse, "municipal", target)
    cases = _assert_exactly_once(warehouse, "municipal", target).set_index("golden_case_id")
    assert cases["receiver_version"].astype(int).to_dict() == {"GC0": 2, "GC1": 2, "GC2": 2, "GC3": 1, "GC4": 1}
    assert _platform(sandbox)["received_cases"] == 5


@pytest.mark.integration
def test_the_municipal_platform_gets_the_case_number_never_the_golden_id_and_drops_a_withdrawn_one(warehouse, sandbox):
    target = _municipal(sandbox)
    allocated = "11320412MB0143028G4000102001000202611169001"  # the bridge's number, before the department's came
    _queue(warehouse, "municipal", [("GC1", 1, _case(0, project_no=allocated)), ("GC2", 1, _case(1))])
    _queue(warehouse, "municipal", [("GC3", 1, {**_case(2), "project_no": None, "accepted_at": None})])
    _settle(warehouse, "municipal", target)
    department = _case(0)["project_no"]
    _queue(warehouse, "municipal", [("GC1", 2, _case(0, withdrawn_numbers=allocated))])
    _settle(warehouse, "municipal", target)
    held = _platform_case_numbers(sandbox)
    assert held == {department, _case(1)["project_no"]}  # not the withdrawn number, not GC3 yet
    assert not any(number.startswith("GC") for number in held)
    _assert_exactly_once(warehouse, "municipal", target)
    documents = [json.loads(p) for p in httpx.get(sandbox.url("municipal") + "/_sandbox/payloads", timeout=5).json()]
    assert documents and not any("GC" in json.dumps(d) for d in documents)
    assert {d["status"] for d in documents} <= {"5", "10"} and {d["handlingDept"] for d in documents} == {
        "11320412MB0143028G"
    }


@pytest.mark.integration
def test_lost_responses_late_and_doubled_acknowledgements_take_effect_once(warehouse, sandbox):
    # Half the answers are lost after the work is done (502), acknowledgements come late and twice.
    _faults(sandbox, lost_response_rate=0.5, ack_delay_seconds=[0.2, 1.0], duplicate_ack_rate=1.0)
    target = _municipal(sandbox)
    _queue(warehouse, "municipal", [(f"GC{n}", 1, _case(n)) for n in range(20)])
    _settle(warehouse, "municipal", target)
    _assert_exactly_once(warehouse, "municipal", target)
    assert _platform(sandbox)["received_cases"] == 20
    # A resend under a known key answered with the original receipt: more requests than cases, one effect each.
    assert _served(sandbox)["requests"] > 20


@pytest.mark.integration
def test_outage_opens_the_circuit_and_sending_resumes_where_it_stopped(warehouse, sandbox):
    target = _municipal(sandbox, circuit_breaker_failures=4, circuit_breaker_cooldown_seconds=3)
    _queue(warehouse, "municipal", [(f"GC{n}", 1, _case(n)) for n in range(30)])
    _faults(sandbox, down_for_seconds=600)
    drain(warehouse, "municipal", target)
    assert target.breaker.times_opened == 1
    # The open circuit stopped the run after a handful of calls instead of retrying every version.
    assert _served(sandbox)["requests"] <= 6
    assert warehouse.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'queued'") == 30

    _faults(sandbox, down_for_seconds=0.01)  # the platform is back
    time.sleep(3.1)  # the cool-down passes; the next call is the probe
    _settle(warehouse, "municipal", target)
    _assert_exactly_once(warehouse, "municipal", target)
    assert _platform(sandbox)["received_cases"] == 30


@pytest.mark.integration
def test_client_rate_limit_keeps_under_the_receivers_limit_and_retry_after_is_honoured(warehouse, sandbox):
    _faults(sandbox, rate_limit_per_second=10)
    _queue(warehouse, "municipal", [(f"GC{n}", 1, _case(n)) for n in range(25)])
    polite = _municipal(sandbox, rate_limit_per_second=8)
    drain(warehouse, "municipal", polite)
    assert _served(sandbox)["over_rate_limit"] == 0  # the configured limit kept every request under the receiver's

    _queue(warehouse, "municipal", [(f"GC{n}", 1, _case(n)) for n in range(25, 50)])
    eager = _municipal(sandbox, rate_limit_per_second=0)  # no client limit: the receiver answers 429 + Retry-After
    _settle(warehouse, "municipal", eager)
    assert _served(sandbox)["over_rate_limit"] > 0
    _settle(warehouse, "municipal", polite)
    _assert_exactly_once(warehouse, "municipal", polite)
    assert _platform(sandbox)["received_cases"] == 50


@pytest.mark.integration
def test_hmac_sm3_signing_is_chosen_by_configuration(warehouse, sandbox):
    target = _municipal(sandbox, sign_method="HMAC-SM3", batch_size=5)
    _queue(warehouse, "municipal", [(f"GC{n}", 1, _case(n)) for n in range(6)])
    _settle(warehouse, "municipal", target)
    _assert_exactly_once(warehouse, "municipal", target)
    wrong = _municipal(sandbox, sign_method="HMAC-SM3", app_secret="not-the-secret")
    _queue(warehouse, "municipal", [("GC9", 1, _case(9))])
    with pytest.raises(CredentialsRefused):  # a wrong secret stops the run; it is not the case's fault
        drain(warehouse, "municipal", wrong)
    assert warehouse.scalar("SELECT status FROM outbox WHERE golden_case_id = 'GC9'") == "queued"
    assert not warehouse.scalar("SELECT COUNT(*) FROM dead_letters")


#: The province's ids for the housekeeping columns, and a settling time the tests can wait out.
PROVINCE = {"tenant_id": 1, "org_id": 2, "user_id": 3, "settle_seconds": 1.5}


def _exchange_scenario(warehouse: Warehouse, target: ProvinceTableTarget) -> None:
    """The national tables through the province stand-in: its audit refuses a version in dn_audit_abnormal (a
    dead letter with its words), the corrected next version is taken and closes it; the rest is taken once it
    has stood for the settling time; a re-send writes nothing twice."""
    bad_number = {"project_no": _case(99)["project_no"][:-4] + "0000"}  # serial 0000: the province refuses it
    versions = [(f"GC{n}", 1, _case(n)) for n in range(8)] + [("GCX", 1, _case(99, **bad_number))]
    _queue(warehouse, "one_network", versions)
    _settle(warehouse, "one_network", target)
    letter = warehouse.read("SELECT reason_code, target_reason FROM dead_letters WHERE golden_case_id = 'GCX'")
    assert letter["reason_code"].tolist() == ["03"] and "project_no" in letter["target_reason"].iloc[0]
    completed = {"status": "办结", "decided_at": "2026-11-18T09:00:00", "completed_at": "2026-11-18T10:00:00"}
    _queue(warehouse, "one_network", [("GC0", 2, _case(0, **completed)), ("GCX", 2, _case(99))])
    _settle(warehouse, "one_network", target)
    cases = _assert_exactly_once(warehouse, "one_network", target).set_index("golden_case_id")
    assert cases.loc["GC0", "receiver_version"] == 2 and cases.loc["GCX", "receiver_version"] == 2
    assert warehouse.read("SELECT closed_at FROM dead_letters")["closed_at"].notna().all()

    # Sending the same versions again changes nothing at the province.
    engine = sa.create_engine(target.url)
    count = "SELECT COUNT(*) FROM up_pro_accept"
    with engine.connect() as conn:
        before = conn.exec_driver_sql(count).scalar()
    with warehouse.begin() as conn:
        conn.exec_driver_sql("UPDATE outbox SET status = 'queued' WHERE golden_case_id IN ('GC1', 'GC2')")
    _settle(warehouse, "one_network", target)
    with engine.connect() as conn:
        assert conn.exec_driver_sql(count).scalar() == before
    engine.dispose()
    held = receiver_counts(warehouse, "one_network", target)
    assert (held["received_cases"], held["duplicate_effects"]) == (9, 0)


@pytest.mark.integration
def test_unreachable_front_end_database_opens_the_circuit(tmp_path, warehouse):
    target = ProvinceTableTarget(
        url=f"sqlite:///{tmp_path / 'gone' / 'front.sqlite'}", batch_size=10, circuit_breaker_failures=3, **PROVINCE
    )
    _queue(warehouse, "one_network", [(f"GC{n}", 1, _case(n)) for n in range(100)])
    drain(warehouse, "one_network", target)
    assert target.breaker.times_opened == 1
    assert warehouse.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'queued'") == 100
    assert warehouse.scalar("SELECT COUNT(*) FROM outbox WHERE last_error LIKE '%unable to open%'") == 30
    assert not warehouse.scalar("SELECT COUNT(*) FROM dead_letters")


@pytest.mark.integration
def test_exchange_table_on_sqlite(tmp_path, warehouse):
    sandbox = start_sandbox(tmp_path / "sandbox", days=1, cases_per_day=5, fault_level="none")
    try:
        _exchange_scenario(warehouse, ProvinceTableTarget(url=sandbox.exchange_url, **PROVINCE))
    finally:
        sandbox.stop()


@pytest.mark.integration
def test_exchange_table_on_postgresql(tmp_path, postgres_url):
    sandbox = start_sandbox(
        tmp_path / "sandbox", days=1, cases_per_day=5, fault_level="none", exchange_url=postgres_url
    )
    warehouse = Warehouse(url=postgres_url)
    metadata.create_all(warehouse.engine)
    try:
        _exchange_scenario(warehouse, ProvinceTableTarget(url=postgres_url, **PROVINCE))
    finally:
        warehouse.dispose()
        sandbox.stop()


@pytest.mark.integration
def test_sigkill_in_the_middle_of_sending_then_rerun(tmp_path, warehouse):
    """The Dagster run that sends a day's versions is killed (SIGKILL, the whole process group) while a batch is
    on the wire: what the receivers took in has no record on our side yet. The rerun sends the same versions
    under the same keys; nothing lands twice and nothing is lost."""
    sandbox = start_sandbox(tmp_path / "sandbox", days=1, cases_per_day=5, fault_level="none")
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        **pipeline_environment(sandbox, str(warehouse.engine.url)),
        "DAGSTER_HOME": str(home),
        "MUNICIPAL_REQUESTS_PER_SECOND": "25",  # slow enough that the kill lands mid-batch
        "ONE_NETWORK_ROWS_PER_SECOND": "25",
        "MUNICIPAL_BATCH_SIZE": "1",
    }
    versions = [(f"GC{n}", 1, _case(n)) for n in range(120)]
    _queue(warehouse, "municipal", versions)
    _queue(warehouse, "one_network", versions)
    command = [
        *(sys.executable, "-m", "dagster", "asset", "materialize", "-m", "pipelines.definitions"),
        *("--select", "municipal_delivery,one_network_delivery", "--partition", str(DAY)),
    ]
    try:
        run = subprocess.Popen(
            command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 120
        while _served(sandbox)["requests"] < 20 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.1)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        received_before_rerun = _served(sandbox)["requests"]
        assert 0 < received_before_rerun < 120, "the kill must land in the middle of sending"
        assert warehouse.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'queued'") > 0

        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
        for name, target in (
            ("municipal", _municipal(sandbox)),
            ("one_network", ProvinceTableTarget(url=sandbox.exchange_url, **PROVINCE)),  # the national profile
        ):
            _settle(warehouse, name, target)  # acknowledgements that came after the run
            _assert_exactly_once(warehouse, name, target)
            assert receiver_counts(warehouse, name, target)["received_cases"] == 120
        assert _platform(sandbox) == {"received_cases": 120, "duplicate_effects": 0}
    finally:
        sandbox.stop()


@pytest.mark.unit
def test_reconciliation_finds_what_a_receiver_lost_and_flags_stale_pending():
    rows = pd.DataFrame(
        {
            "golden_case_id": ["A", "A", "B", "C", "D", "E"],
            "version": [1, 2, 1, 1, 1, 1],
            "partition_date": [DAY, DAY + dt.timedelta(days=1), DAY, DAY, DAY, DAY],
            "status": ["acknowledged", "acknowledged", "acknowledged", "sent", "queued", "dead_lettered"],
            "created_at": [dt.datetime(2026, 11, 16, 9)] * 4
            + [dt.datetime(2026, 11, 10, 9), dt.datetime(2026, 11, 16)],
        }
    )
    held = pd.DataFrame(
        {"golden_case_id": ["A", "C", "Z"], "version": [1, 1, 1], "duplicate_effects": [0, 0, 1]}
    )  # A is a version behind, B is lost, C is in flight, Z was never ours and took effect twice
    cases = compare_cases(rows, held).set_index("golden_case_id")["verdict"].to_dict()
    assert cases == {
        "A": "version_differs",
        "B": "missing_at_receiver",
        "C": "in_flight",
        "Z": "duplicate_effect",
    }
    table = per_day("municipal", rows, compare_cases(rows, held), stale_before=dt.datetime(2026, 11, 15))
    first = table[table["day"] == DAY].iloc[0]
    assert (first["case_versions"], first["acknowledged"], first["pending"], first["dead_lettered"]) == (5, 2, 2, 1)
    assert first["stale_pending"] == 1 and first["in_flight"] == 1 and first["differences"] == 1  # B
    second = table[table["day"] == DAY + dt.timedelta(days=1)].iloc[0]
    assert second["differences"] == 1  # A's newest acknowledged version is this day's
    assert table[table["day"].isna()]["differences"].tolist() == [1]  # Z
    agreeing = compare_cases(rows[rows["golden_case_id"] == "B"], held[held["golden_case_id"] == "nobody"])
    assert agreeing["verdict"].tolist() == ["missing_at_receiver"]
