"""The province stand-in's own contract: the published tables as transcribed (``contracts/national``), the reader
that builds them, the stand-in's code lists and rules, and its audit, checked with rows typed out here (never built
by the bridge's code), so that a misread definition on either side fails.

Values come from the published sources in ../shared/research/exchange-formats.md: the 办件编号 and 实施编码 are
the Shanwei example of §3.1 (12441500196720244T3442199806003 + 20220623 + 0068), the department USCC the Jining
body of §3.2. The column facts below are typed from the public DDL (store ids 35927674781, 35476054485,
35943413550), not read from the contract files.
"""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from sandbox.province.contract import contract, definitions
from sandbox.province.exchange import NationalExchange
from sandbox.province.fixture import LEDGER, audited, codes, front_end_metadata, table
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

ROOT = Path(__file__).resolve().parents[1]
TASK = "12441500196720244T3442199806003"  # §3.1 实施编码 (31)
CASE = TASK + "20220623" + "0068"  # §3.1 办件编号 (43)
ORG = "11370800MB28559184"  # §3.2 an implementing body's USCC
T0 = dt.datetime(2022, 6, 23, 9, 30)
LATER = dt.datetime(2030, 1, 1)  # a cutoff after every row: no acknowledgement delay in these tests
_ids = iter(range(1000, 100000))


def housekeeping(**changes) -> dict:
    """The platform columns every row of the current DDL carries (NOT NULL there)."""
    row = {
        "id": next(_ids),
        "tenant_id": 7,
        "create_org_id": 8,
        "create_user_id": 9,
        "create_time": T0,
        "update_org_id": 8,
        "update_user_id": 9,
        "update_time": T0,
        "version": 1,
    }
    return {**row, **changes}


def accept_row(**changes) -> dict:
    row = {
        **housekeeping(),
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
        **housekeeping(),
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


def problems_of(table_name: str, row: dict) -> dict[str, str]:
    """column -> err_type of each problem of ``row``."""
    return {p.column: p.err_type for p in check_row(audited()[table_name], row)}


# ---------------------------------------------------------------- the transcription is the published definition
# (table, column, type, NOT NULL, default) typed from the public DDL, store id 35927674781
PUBLISHED = [
    ("up_pro_accept", "id", "bigint(20)", True, None),
    ("up_pro_accept", "task_code", "varchar(36)", True, None),
    ("up_pro_accept", "task_version", "int(10)", True, None),
    ("up_pro_accept", "org_code", "varchar(64)", True, None),
    ("up_pro_accept", "handle_user_name", "varchar(100)", False, "NULL"),
    ("up_pro_accept", "tenant_id", "bigint(20)", True, None),
    ("up_pro_accept", "version", "int(10)", True, "'1'"),
    ("up_pro_process", "process_name", "varchar(1000)", True, None),
    ("up_pro_process", "event_name", "varchar(2)", True, None),
    ("up_pro_process", "handle_explain", "varchar(2000)", True, None),
    ("up_pro_process", "remark", "varchar(256)", False, "NULL"),
    ("up_pro_result", "is_delivery_results", "varchar(2)", True, None),
    ("up_pro_result", "result_cetr_no", "varchar(2000)", False, "NULL"),
    ("up_pro_special_procedure", "special_reason", "varchar(2000)", True, None),
    ("up_pro_material", "get_type", "varchar(2)", True, None),
    ("up_pro_material", "get_num", "varchar(5)", False, "NULL"),
    ("up_pro_material", "remark", "varchar(1000)", False, "NULL"),
    ("dn_audit_abnormal", "err_type", "varchar(100)", True, None),
    ("dn_audit_abnormal", "table_cd_source", "varchar(10)", True, None),
    ("dn_audit_abnormal", "remark", "varchar(1000)", False, "NULL"),
]


def _published_type(column) -> str:
    return {"varchar": f"varchar({column.length})", "bigint": "bigint(20)", "int": "int(10)"}.get(
        column.type, column.type
    )


@pytest.mark.parametrize(("name", "column", "declared", "not_null", "default"), PUBLISHED)
def test_current_contract_as_published(name, column, declared, not_null, default):
    c = contract("current").tables[name].column(column)
    assert (_published_type(c), c.not_null, c.default) == (declared, not_null, default)


def test_contract_files_name_their_sources_and_change_nothing():
    current, older = contract("current"), contract("2020")
    assert "35927674781" in current.source and current.changed == "nothing"
    assert older.changed == "nothing"
    # the 2020 dumps, one store id each (typed here from the search results)
    assert {t.source.split()[3] for t in older.tables.values()} == {
        "35476054485",
        "35104485172",
        "35722934540",
        "35804754637",
        "35943413550",
    }
    for name, t in current.tables.items():
        assert t.primary_key == ("id",), name
        assert not t.column("id").auto_increment and t.column("id").comment == "雪花算法生成的ID"


def test_the_2020_copy_differs_as_published():
    older = contract("2020").tables
    assert all(t.column("id").auto_increment for t in older.values())
    accept = {c.name for c in older["up_pro_accept"].columns}
    assert not {"tenant_id", "create_time", "update_user_id", "version"} & accept
    assert older["up_pro_accept"].column("org_code").length == 18
    assert older["up_pro_process"].column("remark").type == "longtext"
    material = {c.name: c for c in older["up_pro_material"].columns}
    assert "get_name" in material and "get_num" not in material and not material["get_type"].not_null
    # no published 2020 feedback table: a 2020 database answers through the current one
    assert "dn_audit_abnormal" not in older and "dn_audit_abnormal" in definitions("2020")


def test_the_reader_builds_the_published_tables():
    engine = sa.create_engine("sqlite://")
    front_end_metadata("current").create_all(engine)
    inspector = sa.inspect(engine)
    columns = {c["name"]: c for c in inspector.get_columns("up_pro_accept")}
    assert len(columns) == 43 and not columns["task_version"]["nullable"] and columns["zip_code"]["nullable"]
    assert inspector.get_pk_constraint("up_pro_accept")["constrained_columns"] == ["id"]
    with engine.begin() as conn:  # the published DEFAULT '1' of version
        row = {k: v for k, v in accept_row().items() if k != "version"}
        conn.execute(table("up_pro_accept").insert().values(**row))
        assert conn.execute(sa.text("SELECT version FROM up_pro_accept")).scalar_one() == 1
    engine.dispose()


def test_nothing_in_the_stand_in_imports_the_product():
    product = {"schemas", "core", "connectors", "pipelines", "staging", "resolution", "delivery", "licensing"}
    product |= {"reporting", "cli", "sharing", "dashboard"}
    files = [*(ROOT / "sandbox" / "province").glob("*.py"), ROOT / "sandbox" / "one_network.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & product, (path.name, names)


def test_code_lists_are_the_provinces_picks():
    lists = codes()
    assert {"111", "001", "414", "516", "999"} <= set(lists["cert_type"]) and "513" not in lists["cert_type"]
    assert "51" not in lists["cert_type"] and "01" not in lists["cert_type"]  # legacy codes refused
    assert lists["applyer_type"] == {"1": "自然人", "2": "法人"}
    assert lists["project_type"] == {"1": "即办件", "2": "承诺件", "9": "其他"}  # GB/T 39046 A.6
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
    ],
)
def test_malformed_case_numbers(case_no, why):
    problem = case_number_problem(case_no)
    assert problem and why in problem
    assert problems_of("up_pro_accept", accept_row(project_no=case_no)) == {"project_no": MALFORMED}


# ---------------------------------------------------------------- one row against the definitions
def test_good_rows_pass():
    assert problems_of("up_pro_accept", accept_row()) == {}
    assert problems_of("up_pro_process", process_row()) == {}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"applyer_name": None}, {"applyer_name": MISSING}),
        ({"applyer_name": "  "}, {"applyer_name": MISSING}),
        ({"tenant_id": None}, {"tenant_id": MISSING}),  # a housekeeping column is required too
        ({"task_version": None}, {"task_version": MISSING}),
        ({"version": None}, {}),  # it has a published default
        ({"org_name": "局" * 101}, {"org_name": TOO_LONG}),
        ({"contact_mobile": "139123456789"}, {"contact_mobile": TOO_LONG}),
        ({"applyer_page_type": "51"}, {"applyer_page_type": UNKNOWN_CODE}),  # legacy 身份证 code
        ({"project_type": "即办件"}, {"project_type": TOO_LONG}),  # a word where a code belongs: 3 > 2
        ({"project_type": "3"}, {"project_type": UNKNOWN_CODE}),
        ({"cd_operation": "U"}, {"cd_operation": UNKNOWN_CODE}),
        ({"data_source": "p32"}, {"data_source": UNKNOWN_CODE}),
        ({"task_code": "11370800MB28559184" + "3370117002011"}, {"project_no": MALFORMED}),  # another item's number
        ({"org_code": "market_regulation"}, {"org_code": MALFORMED}),  # a slug, not the department's USCC
    ],
)
def test_bad_accept_rows(changes, expected):
    assert problems_of("up_pro_accept", accept_row(**changes)) == expected


def test_reasons_name_the_column_in_the_provinces_words():
    (problem,) = check_row(audited()["up_pro_accept"], accept_row(org_name="局" * 101))
    assert problem.message == "字段org_name长度101超过规定的100"


# ---------------------------------------------------------------- the audit, in a SQLite file
@pytest.fixture
def front_end(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'front.sqlite'}")
    front_end_metadata("current").create_all(engine)
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
        _insert(front_end, "up_pro_accept", accept_row(create_user_id=None))


def test_the_audit_answers_only_through_dn_audit_abnormal(front_end):
    other_case = TASK + "20220623" + "0069"
    _insert(
        front_end,
        "up_pro_accept",
        accept_row(),
        accept_row(row_guid="a-long", project_no=other_case, org_name="局" * 101),
        accept_row(row_guid="a-code", cd_batch="B3", project_no=TASK + "202206230070", applyer_page_type="513"),
        accept_row(row_guid="a-ghost", cd_operation="u", cd_batch="B5", cd_time=T0 + dt.timedelta(minutes=1)),
    )
    _insert(front_end, "up_pro_process", process_row(), process_row(row_guid="p-orphan", project_no=other_case))
    exchange = NationalExchange(front_end)
    assert exchange.process_once(LATER) == 6
    refused = _abnormal(front_end)
    assert set(refused) == {"a-long", "a-code", "a-ghost", "p-orphan"}
    assert refused["a-long"] == ("up_pro_accept", "B2022062301", TOO_LONG, "字段org_name长度101超过规定的100")
    assert refused["a-code"][2] == UNKNOWN_CODE and "applyer_page_type" in refused["a-code"][3]
    assert refused["a-ghost"] == ("up_pro_accept", "B5", NO_SUCH_ROW, "修改或删除的记录a-ghost不存在")
    assert refused["p-orphan"][:3] == ("up_pro_process", "B2022062302", NOT_ACCEPTED)
    # every column of the feedback row its definition requires is filled (the database would refuse it otherwise)
    (first, *_) = exchange.rejections()
    assert first["table_name"] == "政务服务事项办件信息 办件受理信息" and first["table_cd_source"] == "132"
    assert exchange.process_once(LATER) == 0  # each row once

    # An update of a row it holds is taken; a second insert of it is refused; a result follows.
    _insert(
        front_end,
        "up_pro_accept",
        accept_row(cd_batch="B6", cd_operation="u", project_name="变更摘要", version=2),
        accept_row(cd_batch="B7"),
    )
    result = {
        **housekeeping(), "row_guid": "r-0001", "cd_batch": "B8", "cd_operation": "i", "cd_time": T0,
        "data_source": "132", "project_no": CASE, "result_date": T0, "result_type": "0", "is_delivery_results": "0",
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
    assert dict(outcomes) == {"accepted": 4, "refused": 5}
    # nothing but dn_audit_abnormal and the stand-in's own ledger is written by the province
    assert set(sa.inspect(front_end).get_table_names()) == {*definitions("current"), LEDGER}


def test_a_delete_takes_the_row_back_children_first(front_end):
    _insert(front_end, "up_pro_accept", accept_row())
    _insert(front_end, "up_pro_process", process_row())
    exchange = NationalExchange(front_end)
    assert exchange.process_once(LATER) == 2
    # the withdrawal: the acceptance's delete arrives before its child's in table order; it waits for the child
    _insert(front_end, "up_pro_accept", accept_row(cd_operation="d", cd_batch="B9", version=2))
    _insert(front_end, "up_pro_process", process_row(cd_operation="d", cd_batch="B9", version=2))
    exchange.process_once(LATER)
    exchange.process_once(LATER)
    assert exchange.rejections() == [] and exchange.holdings() == []


def test_the_audit_waits_for_the_acknowledgement_delay(front_end):
    _insert(front_end, "up_pro_accept", accept_row())
    exchange = NationalExchange(front_end)
    assert exchange.process_once(T0 - dt.timedelta(seconds=1)) == 0
    assert exchange.process_once(T0) == 1


def test_the_2020_tables_are_audited_the_same_way(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'front.sqlite'}")
    front_end_metadata("2020").create_all(engine)
    plain = {k: v for k, v in accept_row().items() if k not in housekeeping()}  # no id: AUTO_INCREMENT
    with engine.begin() as conn:
        conn.execute(table("up_pro_accept", "2020").insert().values(**plain))
        conn.execute(table("up_pro_accept", "2020").insert().values(**{**plain, "row_guid": "a-2", "org_code": "x"}))
    exchange = NationalExchange(engine, "2020")
    assert exchange.process_once(LATER) == 2
    (refused,) = exchange.rejections()
    assert (refused["table_row_guid"], refused["err_type"]) == ("a-2", MALFORMED)
    engine.dispose()
