"""Delivery against the municipal stand-in over loopback: rejection, correction, and the dead letter closing."""

import datetime as dt
import hashlib
import json
import time

import pandas as pd

from connectors.targets import HttpTarget
from pipelines.deliver.outbox import drain
from pipelines.warehouse import Warehouse, insert_frame
from sandbox.runtime import CREDENTIALS
from schemas.warehouse import outbox
from tests.conftest import start_sandbox

CASE = {"case_no": "MR-1", "item_code": "000102001000", "item_name": "企业设立登记", "applicant_type": "legal_person",
        "applicant_name": "常州恒达科技有限公司", "applicant_id": "9132041258558635XF", "status": "受理",
        "submitted_at": "2026-11-16T09:00:00"}  # fmt: skip


def _queue(warehouse: Warehouse, version: int, payload: dict) -> None:
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    with warehouse.begin() as conn:
        insert_frame(conn, outbox, pd.DataFrame([{
            "target": "municipal", "idempotency_key": f"municipal:GC1:v{version}", "golden_case_id": "GC1",
            "version": version, "partition_date": dt.date(2026, 11, 16), "payload": text,
            "payload_hash": hashlib.sha256(text.encode()).hexdigest(), "status": "queued", "attempts": 0,
            "created_at": dt.datetime(2026, 11, 16, 9, version),
        }]))  # fmt: skip


def _settle(warehouse: Warehouse, target: HttpTarget) -> None:
    for _ in range(40):
        drain(warehouse, "municipal", target)
        if not warehouse.scalar("SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sent')"):
            return
        time.sleep(0.25)
    raise AssertionError("the receiver never answered")


def test_rejection_then_correction_closes_the_dead_letter(tmp_path):
    sandbox = start_sandbox(tmp_path / "sandbox", days=1, cases_per_day=5, fault_level="none")
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    key, secret = CREDENTIALS["municipal"]
    target = HttpTarget(base_url=sandbox.url("municipal"), app_key=key, app_secret=secret)
    try:
        _queue(warehouse, 1, CASE)  # no contact phone: the platform rejects it
        _settle(warehouse, target)
        letter = warehouse.read("SELECT reason_code, clerk_message, closed_at FROM dead_letters")
        assert letter["reason_code"].tolist() == ["E2011"] and "联系电话" in letter["clerk_message"].iloc[0]
        assert letter["closed_at"].isna().all()

        _queue(warehouse, 2, {**CASE, "contact_phone": "13812345678"})  # the clerk fixed the source record
        _settle(warehouse, target)
        assert warehouse.scalar("SELECT status FROM outbox WHERE version = 2") == "acknowledged"
        assert warehouse.read("SELECT closed_at FROM dead_letters")["closed_at"].notna().all()
        assert target.counts() == {"received_cases": 1, "duplicate_effects": 0}
    finally:
        warehouse.dispose()
        sandbox.stop()
