"""Every province profile on every database the front-end may run on: SQLite, PostgreSQL and MariaDB.

The province's tables are created by the sandbox from its own fixture of the published definitions (NOT NULL,
lengths; ``sandbox/province/tables``). The cases here are made by hand and sit at the edges: names and addresses
of exactly the permitted length in Chinese characters (a MariaDB ``varchar(100)`` counts characters, not bytes),
a natural person under a 居民身份证, a landline instead of a mobile, a returned case, a case accepted one day and
finished the next. After the stand-in's exchange has judged them, every row in every table is checked once more
against the stand-in's own rules, and what was written reads back unchanged.
"""

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa

from connectors.province import ProvinceTableTarget
from connectors.province import profile as bridge_profile
from connectors.targets import OutboxMessage
from sandbox.province.exchange import NationalExchange, PreExchange
from sandbox.province.fixture import build_metadata, family
from sandbox.province.rules import check_row

TASK = "11320412MB0143028G4000102001000"  # 企业设立登记 as the market regulator implements it (its 实施编码)
NAME_100 = "常州市武进区" + "恒" * 88 + "科技有限公司"  # exactly 100 characters
ADDRESS_1000 = "江苏省常州市武进区湖塘镇" + "路" * 988
EXCHANGES = {"national": NationalExchange, "pre": PreExchange}
CASE_NAME_COLUMN = {"national": ("up_pro_accept", "applyer_name"), "pre": ("PRE_APASINFO", "APPLYNAME")}


def _case(serial: int, status: str, **fields) -> dict:
    day = dt.datetime(2026, 11, 16, 9, 30)
    number = f"{TASK}20261116{serial:04d}"
    ended = status in ("办结", "退件")
    return {
        "project_no": number,
        "case_no": number,
        "item_code": "000102001000",
        "item_name": "企业设立登记",
        "applicant_type": "legal_person",
        "applicant_name": f"常州武进边界{serial}号科技有限公司",
        "applicant_id": "913204125855863580",
        "applicant_id_kind": "uscc",
        "contact_phone": "13912345678",
        "address": "江苏省常州市武进区湖塘镇人民中路1号",
        "submitted_at": day.isoformat(),
        "accepted_at": (day + dt.timedelta(hours=1)).isoformat(),
        "decided_at": (day + dt.timedelta(days=1)).isoformat() if ended else None,
        "completed_at": (day + dt.timedelta(days=1, hours=3)).isoformat() if status == "办结" else None,
        "status": status,
        "promised_days": 2,
        "statutory_days": 15,
        "handling_dept": "market_regulation",
        "submission_channel": "web",  # PRE_APASINFO.APPLYFROM requires one (issue 15)
        "delivery_method": "electronic",
        **fields,
    }


def _message(golden_case_id: str, version: int, payload: dict) -> OutboxMessage:
    key = f"one_network:{golden_case_id}:v{version}"
    return OutboxMessage(key, golden_case_id, version, payload, hashlib.sha256(repr(payload).encode()).hexdigest())


NATURAL_PERSON = {  # a 居民身份证 (GB 11643's published example) and a landline, not a mobile
    "applicant_type": "natural_person",
    "applicant_name": "王小明",
    "applicant_id": "11010519491231002X",
    "applicant_id_kind": "ric",
    "contact_phone": "0519-86543210",
}
EDGE_CASES = [
    _message("GC1", 1, _case(1, "办结", applicant_name=NAME_100, address=ADDRESS_1000)),
    _message("GC2", 1, _case(2, "受理", **NATURAL_PERSON)),
    _message("GC3", 1, _case(3, "退件")),
    _message("GC4", 1, _case(4, "受理")),
    # accepted one day, finished the next: the same rows, updated; with a 补正 on the way (a 特别程序 row) and a
    # 专家评审 still open (nothing to report until it ends)
    _message(
        "GC4",
        2,
        _case(
            4,
            "办结",
            pauses=[
                {"kind": "补正", "start": "2026-11-16T11:00:00", "end": "2026-11-16T16:30:00"},
                {"kind": "专家评审", "start": "2026-11-16T17:00:00", "end": None},
            ],
        ),
    ),
]
TOO_LONG = _message("GC5", 1, _case(5, "受理", applicant_name=NAME_100 + "司"))  # 101 characters


def _deliver_and_judge(url: str, profile: str) -> None:
    engine = sa.create_engine(url)
    try:
        build_metadata((profile,)).create_all(engine)
        exchange = EXCHANGES[profile](engine)
        target = ProvinceTableTarget(url=url, profile_name=profile)
        sent = {d.idempotency_key: d for d in target.send([*EDGE_CASES, TOO_LONG])}
        assert {sent[m.idempotency_key].outcome for m in EDGE_CASES} == {"sent"}
        held = sent[TOO_LONG.idempotency_key]
        assert held.outcome == "rejected" and "超过 100 个字符" in held.reason  # kept back, never cut
        answered = [
            OutboxMessage(m.idempotency_key, m.golden_case_id, m.version, {}, "", sent[m.idempotency_key].receipt_id)
            for m in EDGE_CASES
        ]
        exchange.process_once(dt.datetime(2100, 1, 1))
        exchange.process_once(dt.datetime(2100, 1, 1))  # a row deferred for its parent is taken on the next pass
        outcomes = {d.idempotency_key: d.outcome for d in target.follow_up(answered)}
        assert outcomes == dict.fromkeys((m.idempotency_key for m in EDGE_CASES), "acknowledged")
        assert exchange.rejections() == []
        numbers = {h["case_no"] for h in exchange.holdings()}
        assert numbers == {f"{TASK}20261116{n:04d}" for n in (1, 2, 3, 4)}  # GC5 never reached the province

        # every row of every table, once more against the stand-in's own definitions and code lists
        spec = family(profile)
        with engine.connect() as conn:
            for name, table_spec in spec.tables.items():
                rows = conn.execute(sa.select(sa.Table(name, sa.MetaData(), autoload_with=conn))).mappings().all()
                # special procedures and materials: the cases carry none yet (issue 15)
                assert rows or name not in bridge_profile(profile).tables, name
                for row in rows:
                    assert check_row(table_spec, row) == [], (name, check_row(table_spec, row))
            table, column = CASE_NAME_COLUMN[profile]
            t = sa.Table(table, sa.MetaData(), autoload_with=conn)
            names = set(conn.execute(sa.select(t.c[column])).scalars())
        assert NAME_100 in names  # 100 Chinese characters, stored whole
        if profile == "national":
            special = {h["case_no"]: h["special_rows"] for h in exchange.holdings()}
            assert special == {f"{TASK}20261116{n:04d}": int(n == 4) for n in (1, 2, 3, 4)}
    finally:
        engine.dispose()


@pytest.mark.unit
@pytest.mark.parametrize("profile", sorted(EXCHANGES))
def test_edge_cases_on_sqlite(tmp_path, profile):
    _deliver_and_judge(f"sqlite:///{tmp_path / 'province.sqlite'}", profile)


@pytest.mark.integration
@pytest.mark.parametrize("profile", sorted(EXCHANGES))
def test_edge_cases_on_postgresql(postgres_url, profile):
    _deliver_and_judge(postgres_url, profile)


@pytest.mark.integration
@pytest.mark.parametrize("profile", sorted(EXCHANGES))
def test_edge_cases_on_mariadb(mariadb_url, profile):
    _deliver_and_judge(mariadb_url, profile)
