"""The province stand-in's own contract: its table fixture, code lists and exchange process, checked with rows
typed out here (never built by the bridge's code), so that a misread specification on either side fails.

Values come from the published sources in ../shared/research/exchange-formats.md: the 办件编号 and 实施编码 are
the Shanwei example of §3.1 (12441500196720244T3442199806003 + 20220623 + 0068), the department USCC the Jining
body of §3.2.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from sandbox.province.exchange import NationalExchange, PreExchange
from sandbox.province.fixture import LEDGER, PROVINCE_METADATA, codes, family, table
from sandbox.province.rules import (
    DUPLICATE,
    MALFORMED,
    MISSING,
    NO_SUCH_ROW,
    NOT_ACCEPTED,
    TOO_LONG,
    UNKNOWN_CODE,
    case_number_problem,
    check_row,
    implementing_code_problem,
    uscc_problem,
)

pytestmark = pytest.mark.unit

TASK = "12441500196720244T3442199806003"  # §3.1 实施编码 (31)
CASE = TASK + "20220623" + "0068"  # §3.1 办件编号 (43)
ORG = "11370800MB28559184"  # §3.2 an implementing body's USCC
T0 = dt.datetime(2022, 6, 23, 9, 30)
LATER = dt.datetime(2030, 1, 1)  # a cutoff after every row: no acknowledgement delay in these tests


def accept_row(**changes) -> dict:
    row = {
        "row_guid": "a-0001",
        "cd_batch": "B2022062301",
        "cd_operation": "i",
        "cd_time": T0,
        "data_source": "132",
        "project_no": CASE,
        "task_code": TASK,
        "catalog_code": "442199806003",
        "task_name": "公共场所卫生许可",
        "task_version": 1,
        "project_type": "2",
        "apply_type": "1",
        "apply_date": T0,
        "applyer_type": "2",
        "applyer_name": "汕尾市城区某某餐饮有限公司",
        "applyer_page_type": "001",
        "applyer_page_code": "91441502MA4W0XXXXX",
        "org_code": ORG,
        "org_name": "某某市卫生健康局",
        "accept_date": T0,
    }
    return {**row, **changes}


def process_row(**changes) -> dict:
    row = {
        "row_guid": "p-0001",
        "cd_batch": "B2022062302",
        "cd_operation": "i",
        "cd_time": T0,
        "data_source": "132",
        "project_no": CASE,
        "process_name": "审核",
        "event_name": "1",
        "event_start_time": T0,
        "event_end_time": T0 + dt.timedelta(hours=2),
        "handle_user_name": "张三",
        "handle_explain": "材料齐全，同意",
    }
    return {**row, **changes}


def apasinfo_row(**changes) -> dict:
    row = {
        "PROJID": CASE,
        "SERVICECODE": TASK,
        "SERVICENAME": "公共场所卫生许可",
        "INFOTYPE": "2",
        "APPLYNAME": "汕尾市城区某某餐饮有限公司",
        "APPLY_CARDTYPE": "001",
        "APPLY_CARDNUMBER": "91441502MA4W0XXXXX",
        "DEPTID": ORG,
        "DEPTNAME": "某某市卫生健康局",
        "APPLYFROM": "1",
        "APPLY_TYPE": "1",
        "RECEIVETIME": T0,
        "AREACODE": "320412",
        "BELONGSYSTEM": "WJSPJ",
        "SYNC_STATUS": "I",
        "DATAVERSION": 1,
        "CTRTIME": T0,
        "BATCHNO": "B2022062301",
    }
    return {**row, **changes}


def problems_of(table_name: str, row: dict, fam: str = "national") -> dict[str, str]:
    """column -> err_type of each problem of ``row``."""
    return {p.column: p.err_type for p in check_row(family(fam).tables[table_name], row)}


# ---------------------------------------------------------------- the fixture is the published definition
# (table, column, type, NOT NULL) typed from exchange-formats.md §1.1-1.3, not read from the fixture's YAML.
PUBLISHED = [
    ("up_pro_accept", "project_no", "varchar(50)", True),
    ("up_pro_accept", "task_code", "varchar(36)", True),
    ("up_pro_accept", "local_task_code", "varchar(50)", False),
    ("up_pro_accept", "catalog_code", "varchar(12)", True),
    ("up_pro_accept", "task_name", "varchar(1000)", True),
    ("up_pro_accept", "project_type", "varchar(2)", True),
    ("up_pro_accept", "apply_date", "datetime", True),
    ("up_pro_accept", "applyer_name", "varchar(100)", True),
    ("up_pro_accept", "applyer_page_type", "varchar(70)", True),
    ("up_pro_accept", "applyer_page_code", "varchar(500)", True),
    ("up_pro_accept", "contact_type", "varchar(6)", False),
    ("up_pro_accept", "contact_mobile", "varchar(11)", False),
    ("up_pro_accept", "zip_code", "varchar(6)", False),
    ("up_pro_accept", "org_code", "varchar(64)", False),
    ("up_pro_accept", "org_name", "varchar(100)", True),
    ("up_pro_accept", "accept_date", "datetime", True),
    ("up_pro_accept", "accept_doc_no", "varchar(50)", False),
    ("up_pro_process", "process_name", "varchar(1000)", False),
    ("up_pro_process", "event_name", "varchar(2)", False),
    ("up_pro_process", "event_end_time", "datetime", True),
    ("up_pro_process", "handle_user_name", "varchar(100)", True),
    ("up_pro_process", "handle_explain", "varchar(2000)", True),
    ("up_pro_result", "result_type", "varchar(2)", True),
    ("up_pro_result", "result_cetr_name", "varchar(256)", False),
    ("up_pro_result", "result_cetr_no", "varchar(2000)", False),
    ("up_pro_result", "is_delivery_results", "varchar(2)", True),
    ("up_pro_special_procedure", "special_type", "varchar(2)", True),
    ("up_pro_special_procedure", "special_reason", "varchar(2000)", True),
    ("up_pro_special_procedure", "end_time", "datetime", True),
    ("up_pro_material", "material_name", "varchar(200)", True),
    ("up_pro_material", "get_type", "varchar(2)", True),
    ("up_pro_material", "get_num", "varchar(5)", False),
    ("up_pro_material", "material_attach_name", "varchar(200)", False),
]
SYNC = [("row_guid", "varchar(50)"), ("cd_batch", "varchar(32)"), ("cd_operation", "varchar(2)"),
        ("cd_time", "datetime"), ("data_source", "varchar(3)")]  # fmt: skip


def _declared(column: sa.Column) -> str:
    if isinstance(column.type, sa.String) and not isinstance(column.type, sa.Text):
        return f"varchar({column.type.length})"
    return {sa.DateTime: "datetime", sa.Integer: "int", sa.Text: "text"}[type(column.type)]


@pytest.mark.parametrize(("table_name", "column", "declared", "not_null"), PUBLISHED)
def test_national_tables_as_published(table_name, column, declared, not_null):
    c = table(table_name).c[column]
    assert (_declared(c), not c.nullable) == (declared, not_null)


@pytest.mark.parametrize("table_name", list(family("national").tables))
def test_every_national_table_carries_the_sync_columns(table_name):
    t = table(table_name)
    assert [(name, _declared(t.c[name])) for name, _ in SYNC] == SYNC
    assert all(not t.c[name].nullable for name, _ in SYNC)


def test_error_table_and_pre_family_columns():
    abnormal = table("dn_audit_abnormal")
    assert {"err_type", "table_sql_name", "table_row_guid", "table_cd_batch", "table_cd_source", "table_cd_time",
            "table_update_time", "remark"} <= set(abnormal.c.keys())  # fmt: skip
    for name in ("PRE_APASINFO", "PRE_ACCEPT", "PRE_NODE", "PRE_ATTR", "PRE_TRANSACT"):
        assert {"PROJID", "BELONGSYSTEM", "SYNC_STATUS", "DATAVERSION", "CTRTIME", "BATCHNO", "SYNC_ERROR"} <= set(
            table(name).c.keys()
        ), name
    assert {"PROMISEVALUE", "PROMISETYPE", "PROMISE_ETIME"} <= set(table("PRE_ACCEPT").c.keys())
    assert {"ACTION", "PHASE_CODE"} <= set(table("PRE_NODE").c.keys())
    assert {"RESULT_CODE", "ELECTRONIC_RECORDS"} <= set(table("PRE_TRANSACT").c.keys())


def test_code_lists_are_the_provinces_picks():
    lists = codes()
    assert {"111", "001", "414", "516", "999"} <= set(lists["cert_type"]) and "513" not in lists["cert_type"]
    assert "51" not in lists["cert_type"] and "01" not in lists["cert_type"]  # legacy codes refused
    assert lists["applyer_type"] == {"1": "自然人", "2": "法人"}
    assert lists["project_type"] == {"1": "即办件", "2": "承诺件", "9": "其他"}  # GB/T 39046 A.6
    assert set(lists["handle_form"]) == {"1", "2", "3", "4", "9"}  # A.5
    assert lists["time_unit"]["1"] == "工作日" and lists["time_unit"]["2"] == "自然日"
    assert lists["result_type"]["0"] == "出证办结" and lists["result_type"]["1"] == "不予许可"  # EA_JC_STEP_DONE
    assert lists["cd_operation"].keys() == {"i", "u", "d"}


# ---------------------------------------------------------------- identifier rules
def test_published_examples_pass_the_rules():
    assert uscc_problem(ORG) is None and uscc_problem("12441500196720244T") is None
    assert implementing_code_problem(TASK) is None
    assert case_number_problem(CASE) is None
    assert case_number_problem("11370800MB285591843370117002011" + "20240229" + "0001") is None


@pytest.mark.parametrize(
    ("case_no", "why"),
    [
        (CASE[:-1], "43位"),  # 42 characters
        ("GC" + CASE[2:], "校验位"),  # the bridge's internal golden id prefix breaks the USCC
        ("12441500196720244X" + CASE[18:], "校验位"),  # wrong check character
        ("12441500196720244T3442199806003202213230068", "日期"),  # month 13
        ("12441500196720244T3442199806003202206230000", "流水号"),  # serial starts at 0001
        ("12441500196720244T344219980600a202206230068", "后13位"),  # lower case in the 实施编码
        ("GC00001234", "43位"),
    ],
)
def test_malformed_case_numbers(case_no, why):
    problem = case_number_problem(case_no)
    assert problem and why in problem
    assert problems_of("up_pro_accept", accept_row(project_no=case_no)) == {"project_no": MALFORMED}


# ---------------------------------------------------------------- one row against the fixture
def test_good_rows_pass():
    assert problems_of("up_pro_accept", accept_row()) == {}
    assert problems_of("up_pro_process", process_row()) == {}
    assert problems_of("PRE_APASINFO", apasinfo_row(), "pre") == {}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"applyer_name": None}, {"applyer_name": MISSING}),
        ({"accept_date": None}, {"accept_date": MISSING}),
        ({"applyer_name": "  "}, {"applyer_name": MISSING}),
        ({"cd_batch": None}, {"cd_batch": MISSING}),
        ({"org_name": "局" * 101}, {"org_name": TOO_LONG}),
        ({"contact_mobile": "139123456789"}, {"contact_mobile": TOO_LONG}),
        ({"catalog_code": "4421998060031"}, {"catalog_code": TOO_LONG}),
        ({"applyer_page_type": "51"}, {"applyer_page_type": UNKNOWN_CODE}),  # legacy 身份证 code
        ({"project_type": "即办件"}, {"project_type": TOO_LONG}),  # a word where a code belongs: 6 > 2
        ({"project_type": "3"}, {"project_type": UNKNOWN_CODE}),
        ({"applyer_type": "0"}, {"applyer_type": UNKNOWN_CODE}),
        ({"cd_operation": "U"}, {"cd_operation": UNKNOWN_CODE}),
        ({"data_source": "p32"}, {"data_source": UNKNOWN_CODE}),
        ({"task_code": "11370800MB28559184" + "3370117002011"}, {"project_no": MALFORMED}),  # number of another item
        ({"org_code": "market_regulation"}, {"org_code": MALFORMED}),  # a slug, not the department's USCC
    ],
)
def test_bad_accept_rows(changes, expected):
    assert problems_of("up_pro_accept", accept_row(**changes)) == expected


def test_reasons_name_the_column_in_the_provinces_words():
    (problem,) = check_row(family("national").tables["up_pro_accept"], accept_row(org_name="局" * 101))
    assert problem.message == "字段org_name长度101超过规定的100"
    (problem,) = check_row(family("pre").tables["PRE_APASINFO"], apasinfo_row(INFOTYPE="5"))
    assert problem.message == "字段INFOTYPE的值5不在代码表info_type中"


# ---------------------------------------------------------------- the exchange process, in a SQLite file
@pytest.fixture
def front_end(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'front.sqlite'}")
    PROVINCE_METADATA.create_all(engine)
    yield engine
    engine.dispose()


def _insert(engine, name: str, *rows: dict) -> None:
    with engine.begin() as conn:
        for row in rows:  # one by one: the rows differ in which columns they fill
            conn.execute(table(name).insert().values(**row))


def _abnormal(engine) -> dict[str, tuple[str, str, str, str]]:
    t = table("dn_audit_abnormal")
    with engine.connect() as conn:
        return {
            r.table_row_guid: (r.table_sql_name, r.table_cd_batch, r.err_type, r.remark)
            for r in conn.execute(sa.select(t))
        }


def test_database_refuses_null_in_not_null_column(front_end):
    with pytest.raises(sa.exc.IntegrityError):
        _insert(front_end, "up_pro_accept", accept_row(applyer_name=None))
    with pytest.raises(sa.exc.IntegrityError):
        _insert(front_end, "PRE_APASINFO", apasinfo_row(SERVICENAME=None))


def test_national_exchange_accepts_and_refuses_the_national_way(front_end):
    other_case = TASK + "20220623" + "0069"
    _insert(
        front_end,
        "up_pro_accept",
        accept_row(),
        accept_row(row_guid="a-long", project_no=other_case, org_name="局" * 101),
        accept_row(row_guid="a-code", cd_batch="B3", project_no=TASK + "202206230070", applyer_page_type="513"),
        accept_row(row_guid="a-gc", project_no="GC0000042", cd_batch="B4"),
        accept_row(row_guid="a-ghost", cd_operation="u", cd_batch="B5", cd_time=T0 + dt.timedelta(minutes=1)),
    )
    _insert(front_end, "up_pro_process", process_row(), process_row(row_guid="p-orphan", project_no=other_case))
    exchange = NationalExchange(front_end)
    assert exchange.process_once(LATER) == 7
    refused = _abnormal(front_end)
    assert set(refused) == {"a-long", "a-code", "a-gc", "a-ghost", "p-orphan"}
    assert refused["a-long"] == ("up_pro_accept", "B2022062301", TOO_LONG, "字段org_name长度101超过规定的100")
    assert refused["a-code"][2] == UNKNOWN_CODE and "applyer_page_type" in refused["a-code"][3]
    assert refused["a-gc"][2] == MALFORMED and "43位" in refused["a-gc"][3]
    assert refused["a-ghost"] == ("up_pro_accept", "B5", NO_SUCH_ROW, "修改或删除的记录a-ghost不存在")
    assert refused["p-orphan"][:3] == ("up_pro_process", "B2022062302", NOT_ACCEPTED)
    # Accepted rows stay where they are and are mirrored.
    with front_end.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table("up_pro_accept"))).scalar() == 5
        assert conn.execute(sa.select(table("dn_pro_accept").c.row_guid)).scalars().all() == ["a-0001"]
        assert conn.execute(sa.select(table("dn_pro_process").c.row_guid)).scalars().all() == ["p-0001"]
    assert exchange.process_once(LATER) == 0  # each row once

    # An update of a row it holds is taken; a second insert of it is refused; a result follows.
    _insert(
        front_end,
        "up_pro_accept",
        accept_row(cd_batch="B6", cd_operation="u", project_name="变更摘要"),
        accept_row(cd_batch="B7"),
    )
    result = {
        "row_guid": "r-0001", "cd_batch": "B8", "cd_operation": "i", "cd_time": T0, "data_source": "132",
        "project_no": CASE, "result_date": T0, "result_type": "0", "is_delivery_results": "0",
    }  # fmt: skip
    _insert(front_end, "up_pro_result", result)
    assert exchange.process_once(LATER) == 3
    assert _abnormal(front_end)["a-0001"] == ("up_pro_accept", "B7", DUPLICATE, "记录a-0001已存在，不能重复新增")
    (held,) = exchange.holdings()
    assert held == {
        "case_no": CASE,
        "batch": "B6",
        "process_rows": 1,
        "special_rows": 0,
        "material_rows": 0,
        "result_type": "0",
        "repeated_inserts_refused": 1,
    }
    with front_end.connect() as conn:
        outcomes = conn.execute(sa.select(table(LEDGER).c.outcome, sa.func.count()).group_by("outcome")).all()
    assert dict(outcomes) == {"accepted": 4, "rejected": 6}


def test_national_exchange_waits_for_the_acknowledgement_delay(front_end):
    _insert(front_end, "up_pro_accept", accept_row())
    exchange = NationalExchange(front_end)
    assert exchange.process_once(T0 - dt.timedelta(seconds=1)) == 0
    assert exchange.process_once(T0) == 1


def test_pre_exchange_marks_s_and_e(front_end):
    _insert(
        front_end,
        "PRE_APASINFO",
        apasinfo_row(),
        apasinfo_row(PROJID=TASK + "202206230071", DATAVERSION=2),  # an update of a case it never had
        apasinfo_row(PROJID=TASK + "202206230072", APPLYFROM="网上"),  # free text where the code belongs
        apasinfo_row(PROJID=TASK + "202206230073", APPLYNAME="名" * 101),
    )
    node = {
        "PROJID": CASE, "NODE_NAME": "审核", "ACTION": "1", "NAME": "张三", "START_TIME": T0,
        "BELONGSYSTEM": "WJSPJ", "SYNC_STATUS": "I", "DATAVERSION": 1, "CTRTIME": T0, "BATCHNO": "B1",
    }  # fmt: skip
    _insert(
        front_end,
        "PRE_NODE",
        node,
        {**node, "PROJID": TASK + "202206230074"},
        {**node, "NODE_NAME": "x", "ACTION": "9"},
    )
    exchange = PreExchange(front_end)
    assert exchange.process_once(LATER) == 7
    refused = {(r["table"], r["PROJID"]): r["SYNC_ERROR"] for r in exchange.rejections()}
    assert refused == {
        ("PRE_APASINFO", TASK + "202206230071"): "数据版本2的前一版本不存在，不能修改",
        ("PRE_APASINFO", TASK + "202206230072"): "字段APPLYFROM的值网上不在代码表handle_form中",
        ("PRE_APASINFO", TASK + "202206230073"): "字段APPLYNAME长度101超过规定的100",
        ("PRE_NODE", TASK + "202206230074"): f"办件{TASK}202206230074未受理，不能接收",
        ("PRE_NODE", CASE): "字段ACTION的值9不在代码表event_name中",
    }
    with front_end.connect() as conn:
        t = table("PRE_APASINFO")
        status = dict(conn.execute(sa.select(t.c.PROJID, t.c.SYNC_STATUS)).all())
    assert status[CASE] == "S"
    _insert(front_end, "PRE_APASINFO", apasinfo_row(DATAVERSION=2, CTRTIME=T0 + dt.timedelta(hours=1)))
    assert exchange.process_once(LATER) == 1
    (held,) = exchange.holdings()
    assert held == {"case_no": CASE, "version": 2, "accepted": False, "node_rows": 1, "result_code": None,
                    "refused_rows": 1}  # fmt: skip


def test_the_bridges_interim_table_fits_the_provinces_copy():
    """While the bridge still writes ex_case_info: every column it defines exists in the province's copy, no
    longer than the province allows (skipped once the bridge no longer has the interim table)."""
    exchange = pytest.importorskip("connectors.exchange")
    bridge = getattr(exchange, "EX_CASE_INFO", None)
    if bridge is None:
        pytest.skip("the bridge no longer defines ex_case_info")
    province = table("ex_case_info")
    for column in bridge.columns:
        assert column.name in province.c, column.name
        theirs, ours = column.type, province.c[column.name].type
        if isinstance(theirs, sa.String) and theirs.length:
            assert ours.length and theirs.length <= ours.length, column.name
