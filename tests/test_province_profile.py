"""The bridge's national profile against the province stand-in's reading of the published tables.

Golden-case versions made here by hand go through ``ProvinceTableTarget`` into tables the stand-in creates from the
copies of the public DDL (``contracts/national``), and the stand-in's audit judges every row with its own rules and
code lists. A misread column, length, code or key on either side shows as a refusal here. Time (rows' write times,
the settling time) moves by hand through the target's clock.
"""

import datetime as dt
import hashlib

import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.province import ProfileError, ProvinceTableTarget, assumptions, batch_of, case_rows, profile
from connectors.targets import OutboxMessage, ReadWindow
from sandbox.province.contract import contract
from sandbox.province.exchange import NationalExchange
from sandbox.province.fixture import front_end_metadata

pytestmark = pytest.mark.unit

MARKET_USCC = "11320412MB0143028G"
TASK = MARKET_USCC + "4" + "000102001000"  # 企业设立登记 as the market regulator implements it
IDS = {"tenant_id": 11, "org_id": 22, "user_id": 33}
SETTLE = 300


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
        "delivery_method": "electronic",
    }
    return {**payload, **fields}


def message(golden_case_id: str, version: int, payload: dict) -> OutboxMessage:
    key = f"one_network:{golden_case_id}:v{version}"
    return OutboxMessage(key, golden_case_id, version, payload, hashlib.sha256(repr(payload).encode()).hexdigest())


def sent(messages, deliveries) -> list[OutboxMessage]:
    """The messages as the outbox hands them to follow_up: keys and receipts, no payload."""
    receipts = {d.idempotency_key: d.receipt_id for d in deliveries}
    return [
        OutboxMessage(m.idempotency_key, m.golden_case_id, m.version, {}, "", receipts[m.idempotency_key])
        for m in messages
    ]


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 17, 8, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now


class Province:
    """The stand-in's front-end database in a SQLite file, the bridge's target on it, and a hand-moved clock."""

    def __init__(self, tmp_path, version: str = "current") -> None:
        self.url = f"sqlite:///{tmp_path / f'province-{version}.sqlite'}"
        self.engine = sa.create_engine(self.url)
        front_end_metadata(version).create_all(self.engine)
        self.exchange = NationalExchange(self.engine, version)
        self.clock = Clock()
        self.target = ProvinceTableTarget(url=self.url, ddl_version=version, settle_seconds=SETTLE, **IDS)
        self.target.using_clock(self.clock)

    def audit(self) -> None:
        for _ in range(5):  # every row written so far; a row waiting on another is taken on a later pass
            if not self.exchange.process_once(dt.datetime(2100, 1, 1)):
                break

    def answers(self, messages) -> dict[str, tuple]:
        self.audit()
        self.clock.now += dt.timedelta(seconds=SETTLE + 1)
        return {d.idempotency_key: (d.outcome, d.code, d.reason) for d in self.target.follow_up(messages)}

    def rows(self, sql: str) -> list:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql)).all()


@pytest.fixture
def province(tmp_path):
    p = Province(tmp_path)
    yield p
    p.engine.dispose()


def test_a_case_life_goes_out_and_is_taken_once_it_settles(province):
    messages = [
        message("GC1", 1, case(1, "受理", decided_at=None)),
        message("GC2", 1, case(2, "办结")),
        message("GC3", 1, case(3, "退件")),
    ]
    delivered = province.target.send(messages)
    assert [d.outcome for d in delivered] == ["sent"] * 3
    assert [d.receipt_id for d in delivered] == [batch_of(m.idempotency_key) for m in messages]
    province.audit()
    assert province.target.follow_up(sent(messages, delivered)) == []  # audited, but not settled yet
    province.clock.now += dt.timedelta(seconds=SETTLE + 1)
    answers = {d.idempotency_key: d.outcome for d in province.target.follow_up(sent(messages, delivered))}
    assert answers == dict.fromkeys((m.idempotency_key for m in messages), "acknowledged")
    assert province.exchange.rejections() == []
    holds = {h["case_no"]: (h["process_rows"], h["result_type"]) for h in province.exchange.holdings()}
    assert holds[f"{TASK}202611160001"] == (1, None)
    assert holds[f"{TASK}202611160002"] == (3, "0")
    assert holds[f"{TASK}202611160003"][1] == "5"  # 退件
    opinions = set(province.rows("SELECT event_name, handle_explain FROM up_pro_process"))
    assert opinions == {("4", "同意受理"), ("1", "准予许可"), ("1", "办结"), ("7", "退回申请")}


def test_every_not_null_column_is_filled_with_the_documented_value(province):
    delivered = province.target.send([message("GC1", 1, case(1, "办结"))])
    assert delivered[0].outcome == "sent"
    (row,) = province.rows(
        "SELECT id, tenant_id, create_org_id, create_user_id, create_time, update_org_id, update_user_id, "
        "update_time, version, task_version, data_source, cd_time FROM up_pro_accept"
    )
    assert row[0] > 2**40 and row[1:4] == (11, 22, 33) and row[5:7] == (22, 33)
    assert row[4] == row[7] == row[11] == "2026-11-17 08:00:00.000000"  # the project's clock, to the second
    assert (row[8], row[9], row[10]) == (1, 1, "132")


def test_the_profile_covers_every_not_null_column_of_both_ddl_versions():
    national = profile("national")
    for version in ("current", "2020"):
        ddl = national.ddl_versions[version]
        sync = national.sync
        filled = {sync.row_key, sync.batch, sync.operation, sync.time, sync.origin.column, ddl.row_id.column}
        filled |= set(ddl.housekeeping) | ({ddl.version} if ddl.version else set())
        for name, spec in national.tables.items():
            published = contract(version).tables[name]
            renamed = ddl.rename.get(name, {})
            ours = filled | {renamed.get(c, c) for c in spec.columns}
            required = {c.name for c in published.columns if c.not_null and c.default is None}
            assert required <= ours, (version, name, required - ours)
            assert {renamed.get(c, c) for c in spec.columns} <= {c.name for c in published.columns}, (version, name)
            for column, how in spec.columns.items():  # lengths as the current DDL publishes them
                length = contract("current").tables[name].column(column).length
                assert how.length in (None, length) or length is None, (name, column)


def test_a_change_is_an_update_of_the_same_row_with_its_next_version(province):
    first = message("GC1", 1, case(1, "受理", decided_at=None))
    province.target.send([first])
    province.clock.now += dt.timedelta(hours=1)
    second = message("GC1", 2, case(1, "办结", applicant_name="常州武进恒达1号科技股份有限公司"))
    receipts = [d.receipt_id for d in province.target.send([second]) + province.target.send([second])]
    assert receipts[0] == receipts[1] == batch_of(second.idempotency_key)  # a re-send writes nothing twice
    answers = province.answers(sent([first, second], [*province.target.send([first]), *province.target.send([second])]))
    assert set(answers.values()) == {("acknowledged", None, None)}
    accepts = province.rows(
        "SELECT cd_operation, applyer_name, version, create_time, update_time FROM up_pro_accept ORDER BY id"
    )
    assert [(op, v) for op, _, v, _, _ in accepts] == [("i", 1), ("u", 2)]
    assert accepts[1][1] == "常州武进恒达1号科技股份有限公司"
    assert accepts[1][3] == accepts[0][3] != accepts[1][4]  # created when first written, updated now
    assert province.exchange.rejections() == []


def test_two_versions_written_in_the_same_second_keep_their_order(province):
    """v2 and v3 go out in one second (the clock does not move) and v3 undoes v2's change: the newest stored row is
    v3's by its id, so v4 (the same as v3) writes nothing, and the province holds v3. (GC2's v2 batch hash sorts
    after v3's: ordered by write time in whole seconds, then batch, v2 would pass for the newest.)"""
    a, b = "常州武进恒达1号科技有限公司", "常州武进恒达1号科技股份有限公司"
    versions = [
        message("GC2", 1, case(1, "受理", decided_at=None, applicant_name=a)),
        message("GC2", 2, case(1, "受理", decided_at=None, applicant_name=b)),
        message("GC2", 3, case(1, "受理", decided_at=None, applicant_name=a)),
    ]
    for version in versions:  # one transaction each, all at the same second
        province.target.send([version])
    batches = [batch_of(m.idempotency_key) for m in versions]
    assert batches[1] > batches[2]  # the order that used to mislead
    fourth = message("GC2", 4, case(1, "受理", decided_at=None, applicant_name=a, statutory_days=20))
    (answer,) = province.target.send([fourth])
    assert answer.receipt_id.startswith("=")  # nothing the province keeps changed since v3
    rows = province.rows("SELECT cd_operation, applyer_name, cd_batch FROM up_pro_accept ORDER BY id")
    assert [(op, name) for op, name, _ in rows] == [("i", a), ("u", b), ("u", a)]
    receipts = set(province.target.holdings(ReadWindow())["receipt"])  # v1 still holds the unchanged process row
    assert batches[2] in receipts and batches[1] not in receipts


def test_versions_of_one_case_sent_together_and_a_version_with_nothing_for_the_province(province):
    versions = [
        message("GC1", 1, case(1, "申报", accepted_at=None, decided_at=None)),  # not accepted: nothing to write
        message("GC1", 2, case(1, "受理", decided_at=None)),
        message("GC1", 3, case(1, "办结")),
        message("GC1", 4, case(1, "办结", statutory_days=20)),  # a change outside what the province keeps
    ]
    delivered = province.target.send(versions)
    receipts = [d.receipt_id for d in delivered]
    assert receipts[0].startswith("=") and receipts[3].startswith("=")
    assert receipts[1:3] == [batch_of(m.idempotency_key) for m in versions[1:3]]
    assert {v[0] for v in province.answers(sent(versions, delivered)).values()} == {"acknowledged"}
    assert province.exchange.rejections() == []


def test_a_version_that_cannot_be_written_is_held_with_a_reason(province):
    cases = [
        message("GC1", 1, case(1, applicant_id=None)),  # required 证件号码 missing
        message("GC2", 1, case(2, applicant_id_kind="hk_macau_pass_old")),  # a certificate type with no code
        message("GC3", 1, case(3, materials=[{"name": "申请书", "get_type": "fax", "count": 1}])),  # no 收取方式 code
        message("GC4", 1, case(4)),
    ]
    answers = {d.idempotency_key: d for d in province.target.send(cases)}
    assert "applyer_page_code" in answers[cases[0].idempotency_key].reason
    assert "certificate_type" in answers[cases[1].idempotency_key].reason
    assert "material_get_type" in answers[cases[2].idempotency_key].reason
    assert [answers[m.idempotency_key].outcome for m in cases] == ["rejected"] * 3 + ["sent"]
    numbers = {n for (n,) in province.rows("SELECT DISTINCT project_no FROM up_pro_accept")}
    assert numbers == {f"{TASK}202611160004"}  # nothing of a held version reached the province


def test_the_provinces_refusal_comes_back_in_its_words(province):
    bad = message("GC1", 1, case(1, project_no=f"{TASK}202611160000"))  # serial 0000: not a 办件编号
    good = message("GC2", 1, case(2))
    delivered = province.target.send([bad, good])
    answers = province.answers(sent([bad, good], delivered))
    outcome, code, reason = answers[bad.idempotency_key]
    assert outcome == "rejected" and code == "03" and reason.startswith("up_pro_accept: 字段project_no")
    assert answers[good.idempotency_key][0] == "acknowledged"
    # what is in effect at the province leaves the refused rows out
    assert set(province.target.holdings(ReadWindow())["case_no"]) == {f"{TASK}202611160002"}


def test_handler_opinion_and_materials(province):
    materials = [
        {"name": "公司登记（备案）申请书", "get_type": "paper", "count": 1, "attachment": None},
        {"name": "法定代表人身份证明", "get_type": "upload", "count": None, "attachment": "id.pdf"},
        {"name": "营业执照", "get_type": "licence", "count": 1, "attachment": None},
    ]
    named = message("GC1", 1, case(1, "办结", handler_name="王敏", materials=materials))
    unnamed = message("GC2", 1, case(2, "受理", decided_at=None))  # no clerk, no materials: no material rows
    delivered = province.target.send([named, unnamed])
    assert {v[0] for v in province.answers(sent([named, unnamed], delivered)).values()} == {"acknowledged"}
    people = province.rows("SELECT project_no, handle_user_name, handle_explain FROM up_pro_process ORDER BY id")
    assert {(n[-4:], who, why) for n, who, why in people} == {
        ("0001", "王敏", "同意受理"),
        ("0001", "王敏", "准予许可"),
        ("0001", "王敏", "办结"),
        ("0002", "窗口工作人员", "同意受理"),  # the profile's documented stand-in where no clerk is named
    }
    assert province.rows("SELECT handle_user_name FROM up_pro_accept ORDER BY id") == [("王敏",), (None,)]
    stored = province.rows("SELECT material_name, get_type, get_num, material_attach_name FROM up_pro_material")
    assert sorted(stored) == [
        ("公司登记（备案）申请书", "1", "1", None),
        ("法定代表人身份证明", "2", None, "id.pdf"),
        ("营业执照", "3", "1", None),
    ]
    assert {h["case_no"][-4:]: h["material_rows"] for h in province.exchange.holdings()} == {"0001": 3, "0002": 0}


def test_a_number_replaced_by_the_departments_is_withdrawn_with_every_column_filled(province):
    allocated, department = f"{TASK}202611169001", f"{TASK}202611160042"
    first = message("GC1", 1, case(1, "受理", decided_at=None, project_no=allocated))
    province.answers(sent([first], province.target.send([first])))
    province.clock.now += dt.timedelta(hours=2)
    second = message("GC1", 2, case(1, "办结", project_no=department, withdrawn_numbers=allocated))
    delivered = province.target.send([second]) + province.target.send([second])  # a re-send writes nothing
    assert delivered[0].receipt_id == delivered[1].receipt_id == batch_of(second.idempotency_key)
    assert province.answers(sent([second], delivered[:1]))[second.idempotency_key][0] == "acknowledged"
    assert province.exchange.rejections() == []
    assert {h["case_no"] for h in province.exchange.holdings()} == {department}
    assert set(province.target.holdings(ReadWindow())["case_no"]) == {department}
    taken_back = province.rows(
        f"SELECT cd_operation, version, tenant_id, create_time, update_time FROM up_pro_accept "
        f"WHERE project_no = '{allocated}' ORDER BY id"
    )
    assert [(op, v) for op, v, *_ in taken_back] == [("i", 1), ("d", 2)]  # written once, taken back once
    assert taken_back[1][2] == 11 and taken_back[1][3] == taken_back[0][3] != taken_back[1][4]


def test_the_2020_tables_take_the_same_cases(tmp_path):
    """The older DDL: the database numbers rows, there is no tenant/create/update column, and the material table
    calls its count get_name; the same profile writes it through its ddl_versions entry."""
    older = Province(tmp_path, "2020")
    materials = [{"name": "申请书", "get_type": "paper", "count": 2, "attachment": None}]
    messages = [message("GC1", 1, case(1, "受理", decided_at=None, materials=materials)), message("GC1", 2, case(1))]
    delivered = older.target.send(messages[:1]) + older.target.send(messages[1:])
    assert {v[0] for v in older.answers(sent(messages, delivered)).values()} == {"acknowledged"}
    assert older.rows("SELECT id, get_name, get_type FROM up_pro_material") == [(1, "2", "1")]
    assert [op for (op,) in older.rows("SELECT cd_operation FROM up_pro_process ORDER BY id")] == ["i", "i", "i"]
    older.engine.dispose()


def test_the_current_ddl_without_the_provinces_ids_is_refused_in_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.sqlite'}"
    engine = sa.create_engine(url)
    front_end_metadata("current").create_all(engine)
    engine.dispose()
    with pytest.raises(ProfileError, match="set ONE_NETWORK_TENANT_ID"):
        ProvinceTableTarget(url=url).send([message("GC1", 1, case(1))])
    with pytest.raises(ValueError, match="knows current, 2020"):
        ProvinceTableTarget(url=url, ddl_version="2019")


def test_rows_carry_the_profiles_codes_and_the_catalogues_item_version():
    tables, held = case_rows(pd.DataFrame([{**case(7), "golden_case_id": "GC7", "version": 1}]), profile("national"))
    assert held.empty
    accept = tables["up_pro_accept"].iloc[0]
    assert accept["task_code"] == TASK and accept["org_code"] == MARKET_USCC and str(accept["task_version"]) == "1"
    assert accept["applyer_type"] == "2" and accept["applyer_page_type"] == "001"
    assert len(accept["row_guid"]) == 36 and len(batch_of("one_network:GC7:v1")) == 32


def test_every_assumption_is_listed_with_its_file_and_column():
    listed = assumptions("national")
    where = {line.split(":")[0] for line in listed}
    assert {
        "connectors/profiles/national.yaml up_pro_accept.apply_type",
        "connectors/profiles/national.yaml up_pro_process.event_name",
        "connectors/profiles/national.yaml up_pro_process.handle_user_name",
        "connectors/profiles/national.yaml up_pro_material.get_type",
    } <= where
    assert any(line.startswith("connectors/profiles/national.yaml sync.origin data_source=132") for line in listed)
    assert profile("national").source and profile("national").assumed is None
