"""Done when: the national tables created in MariaDB AND PostgreSQL from the copies of the public DDL
(``contracts/national``, not the stand-in's own definitions) take every version of a realistic set of cases through
the national profile, and the acknowledgement step completes: refusals the province plants in
``dn_audit_abnormal`` become dead letters with its reason, the rest are acknowledged once the settling time has
passed on the project's clock (moved by hand: nothing sleeps).

The cases (made here, independently of the bridge): 180 cases of a week, each accepted (with materials, and the
clerk's name for most), a third paused for 补正 and resumed, most completed and some returned, one in ten renumbered by
the department (the bridge's number withdrawn), in 1-4 versions each: over 400 versions, through the real outbox.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.province import ProvinceTableTarget, batch_of
from connectors.targets import ReadWindow
from core.warehouse import Warehouse, insert_frame
from delivery.outbox import drain, status_counts
from delivery.reconcile import EPOCH, receiver_counts, reconcile_receiver
from sandbox.province.contract import build_metadata
from schemas.warehouse import outbox

pytestmark = pytest.mark.integration

TASKS = {  # 基本编码 → the market regulator's 实施编码 (its USCC, level 4, the code)
    "000102001000": ("企业设立登记", "11320412MB0143028G4000102001000"),
    "000102003000": ("企业变更登记", "11320412MB0143028G4000102003000"),
}
IDS = {"tenant_id": 9001, "org_id": 9002, "user_id": 9003}
SETTLE = 600
CLERKS = ["陈晓燕", "王敏", "李建国", None]
MATERIALS = [
    {"name": "申请书", "get_type": "paper", "count": 1, "attachment": None},
    {"name": "章程", "get_type": "upload", "count": None, "attachment": "章程.pdf"},
    {"name": "营业执照", "get_type": "licence", "count": 1, "attachment": None},
]


def _uscc(n: int) -> str:
    """A 统一社会信用代码 with its GB 32100 check character (weights 3^i mod 31), made here."""
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = f"91320412MA{n:07d}"
    total = sum(chars.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return body + chars[(31 - total % 31) % 31]


def _life(n: int, rng: random.Random) -> list[dict]:
    """The versions of case ``n``: what the department's system said, day by day."""
    item = rng.choice(sorted(TASKS))
    name, task = TASKS[item]
    day = dt.datetime(2026, 11, 16, 9) + dt.timedelta(days=n % 5, minutes=n)
    number = f"{task}{day:%Y%m%d}{n + 1:04d}"
    base = {
        "project_no": number,
        "case_no": number,
        "item_code": item,
        "item_name": name,
        "applicant_type": "legal_person",
        "applicant_name": f"常州武进{n}号科技有限公司",
        "applicant_id": _uscc(n),
        "applicant_id_kind": "uscc",
        "contact_phone": rng.choice(["13812345678", "0519-86543210"]),
        "address": "江苏省常州市武进区湖塘镇人民中路1号",
        "submitted_at": day.isoformat(),
        "accepted_at": (day + dt.timedelta(hours=1)).isoformat(),
        "status": "受理",
        "promised_days": 2,
        "statutory_days": 15,
        "handling_dept": "market_regulation",
        "handler_name": rng.choice(CLERKS),
        "materials": rng.sample(MATERIALS, rng.randint(0, 3)),
    }
    versions = [base]
    if n % 10 == 3:  # the department's own number came after the bridge had numbered the case
        allocated = f"{task}{day:%Y%m%d}{9000 + n:04d}"
        versions = [{**base, "project_no": allocated}, {**base, "withdrawn_numbers": allocated}]
    if n % 3 == 0:  # 补正: paused and resumed
        pause = {"kind": "补正", "start": (day + dt.timedelta(hours=3)).isoformat()}
        pause["end"] = (day + dt.timedelta(days=1)).isoformat()
        versions.append({**versions[-1], "pauses": [pause]})
    if n % 7 != 6:  # decided: most completed, some returned
        decided = day + dt.timedelta(days=2)
        status = "退件" if n % 11 == 5 else "办结"
        versions.append(
            {
                **versions[-1],
                "status": status,
                "decided_at": decided.isoformat(),
                "completed_at": (decided + dt.timedelta(hours=2)).isoformat() if status == "办结" else None,
            }
        )
    return versions


def _queue(warehouse: Warehouse, cases: int) -> int:
    rng, rows = random.Random(22), []
    for n in range(cases):
        golden = f"GC{uuid.UUID(int=n).hex[-12:].upper()}"
        for version, payload in enumerate(_life(n, rng), start=1):
            text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
            rows.append({
                "target": "one_network", "idempotency_key": f"one_network:{golden}:v{version}",
                "golden_case_id": golden, "version": version, "partition_date": dt.date(2026, 11, 16),
                "payload": text, "payload_hash": hashlib.sha256(text.encode()).hexdigest(), "status": "queued",
                "attempts": 0, "created_at": dt.datetime(2026, 11, 16, 9) + dt.timedelta(seconds=len(rows)),
            })  # fmt: skip
    with warehouse.begin() as conn:
        insert_frame(conn, outbox, pd.DataFrame(rows))
    return len(rows)


def _plant_refusals(url: str, batches: list[str]) -> None:
    """As the province's audit would: a dn_audit_abnormal row for every row those batches wrote, with every
    column the published table requires."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    feedback = sa.Table("dn_audit_abnormal", meta, autoload_with=engine)
    now = dt.datetime(2026, 11, 17, 10)
    with engine.begin() as conn:
        planted = []
        for name in ("up_pro_accept", "up_pro_process", "up_pro_material"):
            t = sa.Table(name, meta, autoload_with=engine)
            for guid, batch, source, written in conn.execute(
                sa.select(t.c.row_guid, t.c.cd_batch, t.c.data_source, t.c.cd_time).where(t.c.cd_batch.in_(batches))
            ):
                planted.append({
                    "id": 10_000 + len(planted), "cd_time": now, "create_org_id": 1, "create_time": now,
                    "create_user_id": 1, "err_type": "E0301", "remark": "申请人证件号码核验不通过",
                    "row_guid": uuid.uuid4().hex,
                    "table_cd_batch": batch, "table_cd_source": source, "table_cd_time": written,
                    "table_name": "办件信息", "table_row_guid": guid, "table_sql_name": name, "table_update_time": now,
                    "tenant_id": 1, "update_org_id": 1, "update_time": now, "update_user_id": 1, "version": 1,
                })  # fmt: skip
        conn.execute(feedback.insert(), planted)
    engine.dispose()


def _acknowledgement_completes(url: str, tmp_path) -> None:
    engine = sa.create_engine(url)
    build_metadata("current").create_all(engine)  # from contracts/national/current.yaml
    if engine.dialect.name in ("mysql", "mariadb"):
        with engine.connect() as conn:
            assert "STRICT" in conn.exec_driver_sql("SELECT @@sql_mode").scalar()  # refuses what it cannot store
    engine.dispose()
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    from schemas.warehouse import metadata

    metadata.create_all(warehouse.engine)
    versions = _queue(warehouse, 180)
    assert versions > 400
    now = [dt.datetime(2026, 11, 17, 8)]
    target = ProvinceTableTarget(url=url, settle_seconds=SETTLE, **IDS).using_clock(lambda: now[0])

    totals = drain(warehouse, "one_network", target)
    counts = status_counts(warehouse).set_index("target").loc["one_network"]
    assert totals["sent"] + totals["dead_lettered"] + totals["acknowledged"] == versions
    assert counts["dead_lettered"] == 0, warehouse.read("SELECT * FROM dead_letters")  # nothing held, nothing refused
    # versions with nothing for the province (a change outside its tables) are taken at once; the rest wait
    written = warehouse.read("SELECT golden_case_id, version, receipt_id FROM outbox WHERE status = 'sent'")
    assert len(written) > 300

    # the province refuses five first versions of cases that have no other (and so every row they wrote)
    single = warehouse.read("SELECT golden_case_id FROM outbox GROUP BY golden_case_id HAVING MAX(version) = 1")[
        "golden_case_id"
    ].tolist()[:5]
    assert len(single) == 5
    refused_batches = [batch_of(f"one_network:{g}:v1") for g in single]
    _plant_refusals(url, refused_batches)

    now[0] += dt.timedelta(seconds=SETTLE - 60)  # not settled yet: the refusals come back, nothing else
    drain(warehouse, "one_network", target)
    letters = warehouse.read("SELECT golden_case_id, reason_code, target_reason FROM dead_letters")
    assert sorted(letters["golden_case_id"]) == sorted(single)
    assert set(letters["reason_code"]) == {"E0301"}
    assert letters["target_reason"].str.endswith("申请人证件号码核验不通过").all()
    assert warehouse.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'sent'") == len(written) - 5

    now[0] += dt.timedelta(seconds=61)  # settled: every other version is taken
    drain(warehouse, "one_network", target)
    counts = status_counts(warehouse).set_index("target").loc["one_network"]
    assert (counts["case_versions"], counts["pending"], counts["dead_lettered"]) == (versions, 0, 5)
    assert counts["acknowledged"] == versions - 5

    # what the province holds in effect is what was acknowledged: per case its newest acknowledged version,
    # the withdrawn numbers gone, the refused cases not there, nothing twice
    found = reconcile_receiver(warehouse, "one_network", target, None, EPOCH)  # its tables, a month at a time
    cases = found.cases
    assert set(cases["verdict"]) == {"agrees"}, cases[cases["verdict"] != "agrees"]
    held = receiver_counts(warehouse, "one_network", target)
    assert (held["received_cases"], held["duplicate_effects"]) == (175, 0) and "cd_time" in held["verified_by"]
    # the sensor's window (the last days only) reads the province's rows by date range, and agrees as well
    recent = reconcile_receiver(warehouse, "one_network", target, dt.date(2026, 11, 16), EPOCH)
    assert set(recent.cases["verdict"]) == {"agrees"} and recent.check == "verified"
    listing = target.holdings(ReadWindow())
    assert not listing["case_no"].str.contains(r"9\d{3}$").any()  # the bridge's withdrawn numbers
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = conn.exec_driver_sql("SELECT COUNT(*), COUNT(DISTINCT id) FROM up_pro_process").one()
        deleted = conn.exec_driver_sql("SELECT COUNT(*) FROM up_pro_accept WHERE cd_operation = 'd'").scalar()
        materials = conn.exec_driver_sql("SELECT COUNT(*) FROM up_pro_material").scalar()
        pauses = conn.exec_driver_sql("SELECT COUNT(*) FROM up_pro_special_procedure").scalar()
    engine.dispose()
    assert ids[0] == ids[1] > 0 and deleted == 18 and materials > 100 and pauses == 60
    warehouse.dispose()


def test_acknowledgement_completes_on_mariadb(mariadb_url, tmp_path):
    _acknowledgement_completes(mariadb_url, tmp_path)


def test_acknowledgement_completes_on_postgresql(postgres_url, tmp_path):
    _acknowledgement_completes(postgres_url, tmp_path)
