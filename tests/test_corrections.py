"""Corrections back to the departments, on hand-made records: each quarantined record and each receiver's refusal
is one entry on the right department's list; a record quarantined again is the same entry; a record arriving
clean, or a later version acknowledged, closes it; identity numbers and phones are masked in the list, the mart
and the XLSX; the table is the same whether days are loaded one by one or at once, and re-built.

The records are written as the department systems write them (tests/test_staging.py's market-regulation and
platform records, a health export row), staged by the bridge's staging and resolved by its resolution; the
receivers' answers go through the outbox's own recording (delivery.outbox._record), as a receiver's would."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.targets import Delivery
from core.warehouse import Warehouse, insert_frame
from delivery.outbox import _record
from reporting.corrections import Facts, build, correction_entries, daily_counts
from schemas.warehouse import corrections, outbox, raw_records, source_loads
from schemas.workdays import calendar
from tests.test_staging import GOOD_MARKET, MR, PLATFORM

D1, D2, D3, D4 = (dt.date(2026, 11, 16) + dt.timedelta(days=n) for n in range(4))
RIC = "320412199001011234"  # a 身份证号 that must never show whole
HEALTH = {
    "办件编号": "WJWS-20261116-0001",
    "事项编码": "WJ-GGWS",
    "事项名称": "公共场所卫生许可",
    "申请人类型": "个人",
    "申请人": "张三",
    "证件号码": "32041219900",  # eleven digits: malformed, quarantined
    "联系电话": "13912345678",
    "申请日期": "2026/11/16 09:00",
    "办理状态": "受理",
    "更新时间": "2026-11-16 09:30:00",
}
# another applicant's 食品经营许可 (SCJG-SPJY), its name left out
NAMELESS = dict(
    GOOD_MARKET, SBLSH=MR[2], SXBM="SCJG-SPJY", SXMC="食品经营许可", SQRMC="", SQRZJHM="913204127123456729",
    LXDH="13812345678", GXSJ="2026-11-16 11:00:00",
)  # fmt: skip
# the department's record lacks the phone; the window clerk's re-entry has one: the golden case takes it from there
MARKET = dict(GOOD_MARKET, LXDH="")
TYPED = dict(PLATFORM, mobile="13900001111")


def land(warehouse: Warehouse, day: dt.date, *records: tuple[str, str, dict]) -> None:
    """Raw records of a day as the pull lands them (source, record key, payload), replacing the day."""
    frame = pd.DataFrame(
        [
            {
                "source_system": source,
                "partition_date": day,
                "record_key": key,
                "changed_at": None,
                "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True),
                "batch_id": f"{source}-{day}",
                "fetched_at": dt.datetime.combine(day, dt.time(23)),
            }
            for source, key, payload in records
        ]
    )
    with warehouse.begin() as conn:
        conn.execute(raw_records.delete().where(raw_records.c.partition_date == day))
        insert_frame(conn, raw_records, frame)


def load(warehouse: Warehouse, day: dt.date) -> None:
    """A day through staging and resolution, as the daily job runs them."""
    from pipelines.resolve.assets import resolve_partition
    from pipelines.stage.assets import stage_day

    stage_day(warehouse, day)
    with warehouse.begin() as conn:
        resolve_partition(conn, day)


def answer(warehouse: Warehouse, target: str, version: int, outcome: str, code=None, reason=None) -> None:
    """The receiver's answer to the case's version, recorded as the outbox records it."""
    rows = warehouse.read(sa.select(outbox).where((outbox.c.target == target) & (outbox.c.version == version)))
    assert len(rows) == 1, rows
    deliveries = [Delivery(rows["idempotency_key"].iloc[0], outcome, f"R-{target}-{version}", code, reason)]
    with warehouse.begin() as conn:
        _record(conn, target, rows, deliveries)


def rebuild(warehouse: Warehouse) -> pd.DataFrame:
    """The corrections asset's work: build from the facts, write the table."""
    from core.warehouse import replace_table

    with warehouse.begin() as conn:
        entries = build(conn)
        replace_table(conn, corrections, entries)
    return warehouse.read(sa.select(corrections)).set_index("entry_key").sort_index()


DAYS = {
    D1: [
        ("market_regulation", MR[1], MARKET),
        ("approval_platform", "AP-1", TYPED),
        ("market_regulation", MR[2], NAMELESS),
        ("health", HEALTH["办件编号"], HEALTH),
    ],
    # the nameless record changes again (accepted) and is still nameless: quarantined again, the same entry
    D2: [("market_regulation", MR[2], dict(NAMELESS, SLSJ="2026-11-17 09:00:00", GXSJ="2026-11-17 09:00:00"))],
    # the case of MR[1] is completed: a new version goes out
    D3: [("market_regulation", MR[1], dict(MARKET, BLZT="05", BJSJ="2026-11-18 16:00:00", GXSJ="2026-11-18 16:00:00"))],
    # the department put the name in: the record arrives again and stages cleanly
    D4: [("market_regulation", MR[2], dict(NAMELESS, SQRMC="常州明德商贸有限公司", GXSJ="2026-11-19 10:00:00"))],
}


def run_days(warehouse: Warehouse, *, rebuild_each_day: bool) -> pd.DataFrame:
    """The four days loaded in order, the receivers answering as they go; the table built after each day, or once
    at the end."""
    for day, records in DAYS.items():
        land(warehouse, day, *records)
        load(warehouse, day)
        if day == D1:
            # the province refuses version 1 (its remark names its own column; the number in it must be masked),
            # the city refuses it too (its code says the identifier)
            answer(warehouse, "one_network", 1, "rejected", "02", "字段contact_mobile：13900001111不是有效的手机号码")
            answer(warehouse, "municipal", 1, "rejected", "E2003", f"申请人证件号码{RIC}校验不通过")
        if day == D3:  # version 2: the city takes it; the province refuses it again
            answer(warehouse, "municipal", 2, "acknowledged")
            answer(warehouse, "one_network", 2, "rejected", "02", "字段contact_mobile：13900001111不是有效的手机号码")
        if rebuild_each_day:
            rebuild(warehouse)
    return rebuild(warehouse)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> tuple[Warehouse, pd.DataFrame]:
    warehouse = Warehouse(url=f"sqlite:///{tmp_path_factory.mktemp('corrections') / 'w.sqlite'}")
    table = run_days(warehouse, rebuild_each_day=True)
    yield warehouse, table
    warehouse.dispose()


@pytest.mark.integration
def test_a_record_quarantined_twice_is_one_entry_closed_when_it_arrives_clean(loaded):
    _, table = loaded
    entry = table.loc[f"quarantine|market_regulation|{MR[2]}"]
    assert entry["department"] == "market_regulation" and entry["record_id"] == MR[2] and entry["case_no"] == MR[2]
    assert entry["occurrences"] == 2 and entry["first_seen"] == D1 and entry["last_seen"] == D2
    assert entry["field"] == "applicant_name" and entry["field_label"] == "申请人名称（SQRMC）"
    assert entry["status"] == "fixed" and entry["fixed_on"] == D4 and entry["fixed_how"] == "record_staged"
    assert entry["reason"].startswith("申请人名称为空，请在")  # the clerk's words, full-width punctuation kept


@pytest.mark.integration
def test_a_quarantined_identity_number_is_masked_on_the_list(loaded):
    _, table = loaded
    entry = table.loc[f"quarantine|health|{HEALTH['办件编号']}"]
    assert entry["department"] == "health" and entry["status"] == "open" and entry["field"] == "applicant_id"
    assert entry["applicant"] == "张三（32*******00）"  # the malformed number is not shown whole either
    assert "13912345678" not in table.to_string()  # no phone anywhere in the table


@pytest.mark.integration
def test_a_refusal_goes_to_the_department_whose_record_supplied_the_field(loaded):
    _, table = loaded
    province = table.loc[table["target"] == "one_network"].iloc[0]
    # the phone came from the window clerk's re-entry (the department's record had none): the bureau's list
    assert province["department"] == "approval_bureau" and province["source_system"] == "approval_platform"
    assert province["record_id"] == "AP-1" and province["field"] == "contact_mobile"
    assert province["case_no"] == MR[1] and province["applicant"] == "常州恒达科技有限公司（9132041258558635XF）"
    # refused again on version 2: the same entry, updated
    assert province["occurrences"] == 2 and province["version"] == 2 and province["status"] == "open"
    assert province["first_seen"] == D1 and province["last_seen"] == D3
    assert "13900001111" not in province["reason"] and "139****1111" in province["reason"]
    city = table.loc[table["target"] == "municipal"].iloc[0]
    # the identifier both records carry: the department's own record before the re-entry
    assert city["department"] == "market_regulation" and city["record_id"] == MR[1] and city["field"] == "applicant_id"
    assert RIC not in city["reason"] and "320412********1234" in city["reason"]
    assert city["reason"].startswith("申请人证件号码缺失或校验位错误")  # what the clerk fixes, receiver_errors.csv
    # version 2 taken by the city: the refusal of version 1 is dealt with
    assert city["status"] == "fixed" and city["fixed_how"] == "version_acknowledged" and city["fixed_on"] == D3


@pytest.mark.integration
def test_every_quarantined_record_and_dead_letter_is_in_one_entry(loaded):
    from cli.reconciliation import _correction_lines, correction_figures
    from pipelines.corrections.checks import every_quarantine_and_refusal_in_one_entry

    def render_lines(figures: dict) -> str:
        return "\n".join(_correction_lines(figures))

    warehouse, table = loaded
    quarantined = warehouse.scalar("SELECT COUNT(*) FROM quarantined_records")
    records = warehouse.scalar("SELECT COUNT(DISTINCT source_system || source_record_id) FROM quarantined_records")
    letters = warehouse.scalar("SELECT COUNT(DISTINCT target || golden_case_id) FROM dead_letters")
    assert (quarantined, records, letters) == (3, 2, 2)
    assert len(table) == records + letters
    assert every_quarantine_and_refusal_in_one_entry(warehouse=warehouse).passed
    figures = correction_figures(warehouse)  # the demo's reconciliation line
    assert figures["balanced"] and (figures["quarantine_entries"], figures["refusal_entries"]) == (2, 2)
    assert (figures["quarantined_records"], figures["dead_letters"]) == (3, 3)
    assert (figures["open"], figures["fixed"]) == (2, 2)
    assert figures["by_department"] == {
        "市场监管": {"open": 0, "fixed": 2},
        "卫健": {"open": 1, "fixed": 0},
        "行政审批局": {"open": 1, "fixed": 0},
    }
    line = render_lines(figures)
    assert "corrections        4  (2 for 3 quarantined records, 2 for 3 refused or held-back versions" in line
    with warehouse.begin() as conn:  # an entry lost: the check and the reconciliation say so
        conn.execute(corrections.delete().where(corrections.c.kind == "refusal"))
    result = every_quarantine_and_refusal_in_one_entry(warehouse=warehouse)
    assert not result.passed and result.metadata["facts_without_entry"].value == 3  # three refused versions
    assert not correction_figures(warehouse)["balanced"]
    rebuild(warehouse)
    assert every_quarantine_and_refusal_in_one_entry(warehouse=warehouse).passed


@pytest.mark.integration
def test_the_table_is_the_same_built_once_or_each_day_and_again(loaded, tmp_path):
    _, each_day = loaded
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'once.sqlite'}")
    once = run_days(warehouse, rebuild_each_day=False)
    again = rebuild(warehouse)
    warehouse.dispose()
    pd.testing.assert_frame_equal(once, each_day)
    pd.testing.assert_frame_equal(again, once)


@pytest.mark.integration
def test_the_table_is_the_same_on_postgresql(loaded, postgres_url):
    """The same days through the same code on the production warehouse's database give the same entries."""
    _, on_sqlite = loaded
    warehouse = Warehouse(url=postgres_url)
    on_postgres = run_days(warehouse, rebuild_each_day=True)
    warehouse.dispose()
    pd.testing.assert_frame_equal(on_postgres, on_sqlite, check_dtype=False)


@pytest.mark.integration
def test_a_day_loaded_again_without_the_quarantine_keeps_the_entry_closed(tmp_path):
    """The department put the record right in place and the day was pulled again: its quarantine is gone from the
    facts, the entry stays on the list, fixed by the clean record of that day."""
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    land(warehouse, D1, ("market_regulation", MR[2], NAMELESS))
    load(warehouse, D1)
    assert rebuild(warehouse).loc[f"quarantine|market_regulation|{MR[2]}", "status"] == "open"
    land(warehouse, D1, ("market_regulation", MR[2], dict(NAMELESS, SQRMC="常州明德商贸有限公司")))
    load(warehouse, D1)
    entry = rebuild(warehouse).loc[f"quarantine|market_regulation|{MR[2]}"]
    assert (entry["status"], entry["fixed_how"], entry["fixed_on"]) == ("fixed", "record_staged", D1)
    warehouse.dispose()


@pytest.mark.unit
def test_the_mart_counts_open_entries_by_working_day_age():
    """Counted by hand on the 2026 calendar (schemas/calendar/2026.csv): 1-7 October is the National Day holiday,
    10 October (a Saturday) a make-up working day; the day first seen is day 0."""
    entries = pd.DataFrame(
        {
            "entry_key": ["a", "b", "c"],
            "kind": ["quarantine", "refusal", "quarantine"],
            "department": ["housing", "housing", "health"],
            "first_seen": [dt.date(2026, 9, 28), dt.date(2026, 9, 30), dt.date(2026, 10, 9)],
            "fixed_on": [None, dt.date(2026, 10, 10), dt.date(2026, 10, 9)],
        }
    )
    mart = daily_counts(entries, calendar(), dt.date(2026, 10, 12)).set_index(["day", "department"])
    # housing on Mon 12 Oct: a, open since Mon 28 Sep: 29, 30 Sep, 8, 9, 10 (make-up), 12 Oct = 6 working days
    row = mart.loc[(dt.date(2026, 10, 12), "housing")]
    assert (row["open"], row["open_6_10"], row["oldest_open_working_days"]) == (1, 1, 6)
    assert row["opened"] == 0 and row["fixed"] == 0
    # on Fri 9 Oct: a is 4 working days old (29, 30 Sep, 8, 9 Oct), b 2 (8, 9 Oct)
    row = mart.loc[(dt.date(2026, 10, 9), "housing")]
    assert (row["open"], row["open_refused"], row["open_0_2"], row["open_3_5"]) == (2, 1, 1, 1)
    assert row["oldest_open_working_days"] == 4
    row = mart.loc[(dt.date(2026, 10, 10), "housing")]  # b fixed on the make-up Saturday
    assert (row["open"], row["fixed"]) == (1, 1)
    row = mart.loc[(dt.date(2026, 10, 9), "health")]  # c opened and fixed the same day: never open at a day's end
    assert (row["open"], row["opened"], row["fixed"]) == (0, 1, 1) and pd.isna(row["oldest_open_working_days"])
    assert mart.index.get_level_values("day").min() == dt.date(2026, 9, 28)
    assert len(mart.xs("health", level="department")) == 4  # from its first entry to the mart's day


# ---------------------------------------------------------------- from hand-made facts to the clerk's XLSX
def hand_made_facts() -> Facts:
    """Facts as the warehouse would hold them: a health record quarantined with a 身份证号 in its payload and its
    reason (it arrives clean four days later), a 好差评 record whose case is a health case, an applicant name
    crafted as a formula, and a province refusal whose remark carries a 身份证号."""
    quarantined = pd.DataFrame(
        {
            "source_system": ["health", "evaluations", "market_regulation", "spgl_projects"],
            "partition_date": [
                dt.date(2026, 11, 23),
                dt.date(2026, 11, 24),
                dt.date(2026, 11, 25),
                dt.date(2026, 11, 25),
            ],
            "record_key": ["WJWS-1", "E-9", MR[3], "2026-32412-34-03-000001"],
            "record_id": ["WJWS-1", "E-9", MR[3], "2026-32412-34-03-000001"],
            "reason_code": ["invalid_submitted_at", "unknown_level", "unknown_item", "invalid_project_code"],
            "reason": [
                f"申报时间无法识别（证件号码{RIC}）",
                "satisfaction“9”不在代码对照中",
                "事项编码“XX”不在事项目录中",
                "投资项目代码格式不符",
            ],
            "payload": [
                json.dumps({"办件编号": "WJWS-1", "申请人": "张三", "证件号码": RIC, "联系电话": "13912345678"}),
                json.dumps({"evaluateId": "E-9", "projectNo": "WJWS-7", "satisfaction": "9"}),
                json.dumps({"SBLSH": MR[3], "SQRMC": '=HYPERLINK("http://x","y")', "SQRZJHM": "9132041258558635XF"}),
                # the 建设单位 under both names SPGL readers use: the DBA's view (XMDW*) and the base tables (JSDW*)
                json.dumps(
                    {
                        "XMDM": "2026-32412-34-03-000001",
                        "XMMC": "恒达厂房",
                        "XMDWMC": "常州恒达科技有限公司",
                        "XMDWDM": "9132041258558635XF",
                        "JSDWMC": "常州恒达科技有限公司",
                        "JSDWDM": "9132041258558635XF",
                    }
                ),
            ],
        }
    )
    golden_id = "GC00000000000001"
    letters = pd.DataFrame(
        {
            "target": ["one_network"],
            "idempotency_key": [f"one_network:{golden_id}:v1"],
            "golden_case_id": [golden_id],
            "version": [1],
            "reason_code": ["03"],
            "target_reason": [f"字段applyer_page_code：{RIC}校验位错误"],
            "clerk_message": [None],
            "created_at": [dt.datetime(2026, 11, 27, 10)],
            "partition_date": [dt.date(2026, 11, 26)],
            "payload": [json.dumps({"project_no": "N1", "applicant_name": "李四", "applicant_id": RIC})],
        }
    )
    members = pd.DataFrame(
        {
            "golden_case_id": [golden_id, golden_id],
            "source_system": ["approval_platform", "health"],
            "source_record_id": ["AP-7", "WJWS-2"],
            "partition_date": [dt.date(2026, 11, 26), dt.date(2026, 11, 25)],
            "record_key": ["AP-7", "WJWS-2"],
            "applicant_id": [RIC, RIC],
        }
    )
    return Facts(
        quarantined=quarantined,
        # the health record arrives again, clean, on 27 November
        staged=pd.DataFrame(
            {"source_system": ["health"], "record_id": ["WJWS-1"], "partition_date": [dt.date(2026, 11, 27)]}
        ),
        letters=letters,
        versions=pd.DataFrame(columns=["target", "golden_case_id", "version", "status", "partition_date"]),
        members=members,
        licences=pd.DataFrame(columns=["licence_key", "golden_case_id", "licence_no", "sources"]),
        case_departments=pd.DataFrame({"case_no": ["WJWS-7"], "handling_dept": ["health"]}),
        previous=pd.DataFrame(columns=[c.name for c in corrections.columns]),
    )


@pytest.fixture
def warehouse_with_entries(tmp_path, monkeypatch) -> Warehouse:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    monkeypatch.setenv("BRIDGE_WAREHOUSE_URL", url)
    warehouse = Warehouse(url=url)
    load = {"source_system": "health", "partition_date": dt.date(2026, 11, 23), "batch_id": "b1", "rows_pulled": 1,
            "window_start": dt.datetime(2026, 11, 23), "window_end": dt.datetime(2026, 11, 24), "rows_collapsed": 0,
            "fetched_at": dt.datetime(2026, 11, 24, 1, 30)}  # fmt: skip
    with warehouse.begin() as conn:
        conn.execute(source_loads.insert(), load)  # a loaded warehouse: the commands refuse one never loaded
        insert_frame(conn, corrections, correction_entries(hand_made_facts()))
    yield warehouse
    warehouse.dispose()


@pytest.mark.unit
def test_entries_from_hand_made_facts_are_routed_and_masked():
    entries = correction_entries(hand_made_facts()).set_index("entry_key")
    health = entries.loc["quarantine|health|WJWS-1"]
    assert health["applicant"] == "张三（320412********1234）" and RIC not in health["reason"]
    assert health["field"] == "submitted_at" and health["field_label"] == "申报时间（申请日期）"
    # 好差评: on the list of the department of the case it names
    assert entries.loc["quarantine|evaluations|E-9", "department"] == "health"
    assert entries.loc["quarantine|evaluations|E-9", "case_no"] == "WJWS-7"
    # 工程建设项目审批管理系统: 住建's list; the project unit stands as the applicant
    project = entries.loc["quarantine|spgl_projects|2026-32412-34-03-000001"]
    assert project["department"] == "housing" and project["field_label"] == "投资项目代码（XMDM）"
    assert project["applicant"] == "常州恒达科技有限公司（9132041258558635XF）"
    # the province names its column: applyer_page_code is the applicant's identifier (connectors/profiles)
    refusal = entries.loc["refusal|one_network|GC00000000000001"]
    assert refusal["field"] == "applicant_id" and refusal["field_label"] == "申请人证件号码（证件号码）"
    # both records carry the refused identifier: the department's own (health) before the bureau's re-entry
    assert (refusal["department"], refusal["record_id"]) == ("health", "WJWS-2")
    assert RIC not in refusal["reason"] and refusal["applicant"] == "李四（320412********1234）"
    assert RIC not in entries.to_string() and "13912345678" not in entries.to_string()


@pytest.mark.unit
def test_the_lists_read_back_from_xlsx_masked_with_formulas_as_text(warehouse_with_entries, tmp_path, capsys):
    from openpyxl import load_workbook

    from cli.main import main
    from reporting.correction_lists import HEADINGS

    out = tmp_path / "lists"
    assert main(["report", "corrections", "--day", "2026-11-27", "--output", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == [f"corrections-2026-11-27-{d}.xlsx" for d in ("health", "housing", "market_regulation")]
    book = load_workbook(out / "corrections-2026-11-27-health.xlsx")
    sheet = book["纠错清单"]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert [c.value for c in sheet[1]] == list(HEADINGS.values())
    rows = [dict(zip(HEADINGS, [c.value for c in r], strict=True)) for r in sheet.iter_rows(min_row=2)]
    # open first, the oldest first (first seen Tue 24 Nov: 3 working days before Fri 27 Nov), then the record
    # that arrived clean that day
    shown = [(r["record_id"], r["status_label"], r["age_working_days"], r["fixed_how_label"]) for r in rows]
    assert shown == [
        ("E-9", "待改正", 3, None),
        ("WJWS-2", "待改正", 1, None),
        ("WJWS-1", "已改正", 4, "记录重新报送，校验通过"),
    ]
    cells = " ".join(str(c.value) for r in sheet.iter_rows() for c in r if c.value is not None)
    assert RIC not in cells and "320412********1234" in cells and "13912345678" not in cells
    market = load_workbook(out / "corrections-2026-11-27-market_regulation.xlsx")["纠错清单"]
    names = [c.value for c in market["H"]]
    assert names[1] == '\'=HYPERLINK("http://x","y")（9132041258558635XF）'  # text, never a formula
    assert "2 open, 1 fixed" in capsys.readouterr().out  # health's list


@pytest.mark.unit
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--day", "2026-02-30"], "'2026-02-30' is not a day; give it as YYYY-MM-DD"),
        (["--day", "20261127"], "'20261127' is not a day"),
        (["--day", "yesterday"], "'yesterday' is not a day"),
    ],
)
def test_a_malformed_day_is_refused_in_one_line(arguments, message, capsys):
    from cli.main import main

    with pytest.raises(SystemExit) as stop:
        main(["report", "corrections", *arguments])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and "Traceback" not in err


@pytest.mark.unit
def test_bad_outputs_and_empty_days_are_refused_in_one_line_writing_nothing(warehouse_with_entries, tmp_path, capsys):
    from cli.main import main

    def run(*arguments: str) -> tuple[int, str, str]:
        code = main(["report", "corrections", *arguments])
        out, err = capsys.readouterr()
        assert "Traceback" not in err and len(err.strip().splitlines()) <= 1
        return code, out, err

    code, _, err = run("--day", "2026-12-01", "--output", str(tmp_path))  # TODAY is 30 November
    assert code == 2 and "after today" in err
    a_file = tmp_path / "taken.txt"
    a_file.write_text("x")
    code, _, err = run("--day", "2026-11-27", "--output", str(a_file))
    assert code == 2 and "is a file" in err
    code, _, err = run("--day", "2026-11-27", "--output", str(tmp_path / "no" / "such"))
    assert code == 2 and "parent folder" in err and not (tmp_path / "no").exists()
    code, out, _ = run("--day", "2026-11-20", "--output", str(tmp_path / "quiet"))  # before any entry
    assert code == 0 and "nothing written" in out and not (tmp_path / "quiet").exists()
    lists = tmp_path / "lists"
    assert run("--day", "2026-11-27", "--output", str(lists))[0] == 0
    before = {p: p.stat().st_mtime_ns for p in lists.iterdir()}
    code, _, err = run("--day", "2026-11-27", "--output", str(lists))
    assert code == 2 and "exists" in err and "--force" in err
    assert {p: p.stat().st_mtime_ns for p in lists.iterdir()} == before  # nothing replaced
    assert run("--day", "2026-11-27", "--output", str(lists), "--force")[0] == 0


@pytest.mark.unit
def test_the_sandbox_departments_send_some_wrong_records_again_corrected():
    """The demo's departments put right every other record they got wrong: the same 办件编号 comes again, later,
    and the bridge's staging takes the second where it quarantined the first."""
    from sandbox.generator import GeneratorConfig, generate
    from staging.normalise import stage_partition

    data = generate(GeneratorConfig(start=dt.date(2026, 10, 1), days=35, cases_per_day=20))
    frame = pd.DataFrame(data.market_regulation)
    raw = pd.DataFrame(
        {
            "source_system": "market_regulation",
            "record_key": frame["SBLSH"] + "@" + frame["GXSJ"],
            "payload": [json.dumps(r, ensure_ascii=False) for r in data.market_regulation],
        }
    )
    staged, quarantined = stage_partition(raw)
    wrong = quarantined.assign(at=quarantined["record_key"].str.split("@").str[1])
    clean = staged.assign(at=staged["record_key"].str.split("@").str[1])
    later = wrong.merge(clean, on="source_record_id", suffixes=("_wrong", "_clean"))
    corrected = later[later["at_clean"] > later["at_wrong"]]["source_record_id"].unique()
    never = set(wrong["source_record_id"]) - set(corrected)
    assert len(corrected) >= 1 and len(never) >= 1, (corrected, never)


@pytest.mark.unit
def test_entries_a_reloaded_day_took_away_stay_closed_and_first_seen_never_moves_later():
    from reporting.corrections import COLUMNS, remembered

    def entry(key: str, **given) -> dict:
        base = dict.fromkeys(COLUMNS)
        base.update(entry_key=key, kind="quarantine", department="health", source_system="health", status="open")
        base.update(reason_code="unknown_item", first_seen=dt.date(2026, 11, 2), last_seen=dt.date(2026, 11, 3))
        return {**base, **given}

    previous = pd.DataFrame(
        [
            entry("quarantine|health|2026-11-02/export.csv", record_id="export.csv", reason_code="unreadable_file"),
            entry("quarantine|health|WJWS-5", record_id="WJWS-5"),  # no longer sent at all
            entry("quarantine|health|WJWS-6", record_id="WJWS-6"),  # staged on the day it was loaded again
            entry("quarantine|health|WJWS-7", record_id="WJWS-7"),  # still quarantined, now seen from 4 Nov
            entry("quarantine|health|WJWS-8", record_id="WJWS-8", status="fixed", fixed_on=dt.date(2026, 11, 5)),
        ]
    )
    made = pd.DataFrame([entry("quarantine|health|WJWS-7", record_id="WJWS-7", first_seen=dt.date(2026, 11, 4))])
    staged = pd.DataFrame(
        {"source_system": ["health"], "record_id": ["WJWS-6"], "partition_date": [dt.date(2026, 11, 3)]}
    )
    kept = remembered(made, previous, staged).set_index("entry_key")
    assert len(kept) == 5
    how = kept[["status", "fixed_how", "fixed_on"]].to_dict("index")
    assert how["quarantine|health|2026-11-02/export.csv"] == {
        "status": "fixed",
        "fixed_how": "file_read",
        "fixed_on": dt.date(2026, 11, 3),
    }
    assert how["quarantine|health|WJWS-5"]["fixed_how"] == "withdrawn"
    assert how["quarantine|health|WJWS-6"] == {
        "status": "fixed",
        "fixed_how": "record_staged",
        "fixed_on": dt.date(2026, 11, 3),
    }
    assert kept.loc["quarantine|health|WJWS-7", "first_seen"] == dt.date(2026, 11, 2)  # as first remembered
    assert kept.loc["quarantine|health|WJWS-7", "status"] == "open"
    assert kept.loc["quarantine|health|WJWS-8", "fixed_on"] == dt.date(2026, 11, 5)  # closed before: as it was
