"""The operator's commands on warehouses made by hand: which warehouse each reads and the refusal of one never
loaded, what waits for a person (``review list``, the UI's check), ``cases find`` and ``explain``.

Widths are measured here with the Unicode East Asian Width property (a wide or full-width character is two
columns), not with the library the commands lay their text out with."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import unicodedata

import pandas as pd
import pytest

from cli.main import main
from core.warehouse import Warehouse, insert_frame
from core.warehouse_state import LOADED, MISSING, NO_LOADS, NO_TABLES, UNREADABLE, shown_url, state_of
from schemas.warehouse import (
    case_links,
    case_numbers,
    golden_cases,
    hotline_orders,
    link_evidence,
    metadata,
    project_link_review,
    resolution_splits,
    review_decisions,
    review_queue,
    source_loads,
    staged_cases,
)
from tests.conftest import TODAY
from tests.test_checks import run_check, text, verdict

pytestmark = pytest.mark.unit

RIC = "320412199001011234"  # a 身份证号: never shown whole
PHONE = "13912345678"
USCC = "9132041258558635XF"
COMPANY = "常州恒达(ABC)科技有限公司"  # as staging stores it: NFKC, no spaces
PERSON = "张三"
# 办件编号 in the national form: 实施编码 (31) + yyyyMMdd + serial
DEPT_NO = "11320412MB0143028G4000102001000202611160007"
ALLOCATED_NO = "11320412MB0143028G4000102001000202611169001"
PERSON_NO = "11320412MB028854224000140001000202611180003"
MR_ID = DEPT_NO  # market_regulation numbers its records by 办件编号
DAY = dt.date(2026, 11, 16)
AT = dt.datetime(2026, 11, 16, 9)


def columns(line: str) -> int:
    """Terminal columns of ``line``: two for a wide or full-width character, none for a combining one."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in line
    )


def _record(system, record_id, name, ident, kind, item="000102001000", item_name="企业设立登记", day=DAY):
    return {
        "source_system": system,
        "partition_date": day,
        "record_key": record_id,
        "source_record_id": record_id,
        "case_no": record_id,
        "item_code": item,
        "item_name": item_name,
        "applicant_type": "legal_person" if kind == "uscc" else "natural_person",
        "applicant_name": name,
        "applicant_id": ident,
        "applicant_id_kind": kind,
        "contact_phone": PHONE,
        "submitted_at": dt.datetime.combine(day, dt.time(9)),
        "status": "受理",
        "handling_dept": "market_regulation",
    }


def _link(record: dict, golden_id: str, role: str) -> dict:
    return {
        "source_system": record["source_system"],
        "partition_date": record["partition_date"],
        "record_key": record["record_key"],
        "golden_case_id": golden_id,
        "role": role,
        "match_rule": "model" if role == "duplicate" else "new",
        "match_probability": 0.99,
        "linked_at": AT,
    }


def _golden(record: dict, golden_id: str, records: int) -> dict:
    fields = {k: v for k, v in record.items() if k not in ("partition_date", "record_key")}
    return {
        **fields,
        "golden_case_id": golden_id,
        "record_count": records,
        "version": 2,
        "content_hash": "h",
        "first_partition": DAY,
        "updated_partition": record["partition_date"],
        "updated_at": AT,
    }


def _number(number, system, record_id, origin, superseded_by=None):
    return {
        "project_no": number,
        "source_system": system,
        "source_record_id": record_id,
        "origin": origin,
        "superseded_by": superseded_by,
        "assigned_partition": DAY,
        "assigned_at": AT,
    }


def _pair(left: dict, right: dict, **more) -> dict:
    return {
        "source_system_l": left["source_system"],
        "source_record_id_l": left["source_record_id"],
        "source_system_r": right["source_system"],
        "source_record_id_r": right["source_record_id"],
        **more,
    }


EVIDENCE = {
    "applicant_id": {"level": "same valid identifier", "weight": 13.2},
    "applicant_name": {
        "level": "same sound (homophone typo); 恒达科技有限公司 typed as 恒大科技有限公司",
        "weight": 12.5,
    },
    "item": {"level": "Exact match on item_key", "weight": 2.6},
    "source_pair": {"level": "two systems (re-entry)", "weight": -0.9},
}


def fill(warehouse: Warehouse) -> None:
    """Two golden cases: a company's (a department record and the hall's re-entry, the hall's allocated number
    withdrawn for the department's) and a person's; a record a constraint kept apart; one pair to review, one
    decided; a 12345 order in review and one linked; a project link to confirm; one load recorded."""
    mr = _record("market_regulation", MR_ID, COMPANY, USCC, "uscc")
    ap = _record("approval_platform", "WJSP2026111600009", "常州恒大(ABC)科技有限公司", USCC, "uscc")
    person = _record("health", "WJWS-20261118-0003", PERSON, RIC, "ric", "000140001000", "公共场所卫生许可")
    other = _record("approval_platform", "WJSP2026111600010", COMPANY, USCC, "uscc", day=dt.date(2026, 11, 17))
    rows = {
        source_loads: [
            {"source_system": "market_regulation", "partition_date": DAY, "batch_id": "b", "rows_pulled": 1,
             "window_start": AT, "window_end": AT, "rows_collapsed": 0, "fetched_at": AT}
        ],
        staged_cases: [mr, ap, person, other],
        case_links: [
            _link(mr, "GC00000000000001", "golden"),
            _link(ap, "GC00000000000001", "duplicate"),
            _link(person, "GC00000000000002", "golden"),
            _link(other, "GC00000000000003", "golden"),
        ],
        golden_cases: [
            _golden(mr, "GC00000000000001", 2),
            _golden(person, "GC00000000000002", 1),
            _golden(other, "GC00000000000003", 1),
        ],
        case_numbers: [
            _number(DEPT_NO, "market_regulation", MR_ID, "department"),
            _number(ALLOCATED_NO, "approval_platform", "WJSP2026111600009", "allocated", superseded_by=DEPT_NO),
            _number(PERSON_NO, "health", "WJWS-20261118-0003", "allocated"),
        ],
        link_evidence: [
            _pair(ap, mr, partition_date=DAY, match_probability=0.999, match_weight=27.4, evidence=json.dumps(EVIDENCE))
        ],
        resolution_splits: [
            _pair(ap, other, partition_date=DAY, match_probability=0.97, constraint_name="outside_window",
                  evidence="{}", split_at=AT)
        ],
        review_queue: [
            _pair(mr, other, partition_date=DAY, match_probability=0.62, evidence="{}",
                  summary=f"market_regulation {MR_ID}｜{COMPANY}｜{USCC}｜139****5678\n"
                          f"approval_platform WJSP2026111600010｜{COMPANY}｜{USCC}｜139****5678",
                  queued_at=dt.datetime.combine(TODAY - dt.timedelta(days=10), dt.time(2))),
            _pair(ap, person, partition_date=DAY, match_probability=0.41, evidence="{}", summary="decided already",
                  queued_at=AT),
        ],
        review_decisions: [
            _pair(ap, person, decision="different", decided_by="王科长", decided_at=AT)
        ],
        hotline_orders: [
            {"source_system": "hotline", "order_id": "CZ123452026112800001", "status": "review", "candidates": 2,
             "category_1": "咨询", "category_2": "审批服务", "dispatched_at": dt.datetime(2026, 11, 28, 8, 38),
             "item_code": "000102001000", "handling_unit": "武进区行政审批局", "first_partition": dt.date(2026, 11, 28),
             "partition_date": dt.date(2026, 11, 28), "records": 1,
             "note": "2 cases of this applicant and item within 60 days: left for review"},
            {"source_system": "hotline", "order_id": "CZ123452026112800002", "status": "linked",
             "golden_case_id": "GC00000000000001", "first_partition": dt.date(2026, 11, 28),
             "partition_date": dt.date(2026, 11, 28), "records": 1},
        ],
        project_link_review: [
            {"golden_case_id": "GC00000000000002", "project_code": "2026-320412-36-03-303354",
             "case_no": PERSON_NO, "item_code": "000140001000", "item_name": "公共场所卫生许可", "stage": "施工许可",
             "accepted_at": dt.datetime(2026, 11, 27, 10), "same_applicant": True, "same_site": True,
             "stage_expected": True, "reason": f"申请人为项目单位（联系电话 {PHONE}），请核对。"}
        ],
    }  # fmt: skip
    with warehouse.begin() as conn:
        for table, frame in rows.items():
            insert_frame(conn, table, pd.DataFrame(frame))


@pytest.fixture
def loaded(tmp_path, monkeypatch) -> Warehouse:
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    monkeypatch.setenv("BRIDGE_WAREHOUSE_URL", url)
    warehouse = Warehouse(url=url)
    fill(warehouse)
    yield warehouse
    warehouse.dispose()


def run(capsys, *arguments: str) -> tuple[int, str, str]:
    code = main(list(arguments))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- which warehouse, and one never loaded
def test_the_state_of_a_warehouse_is_read_without_creating_anything(tmp_path):
    missing = tmp_path / "nowhere" / "warehouse.sqlite"
    assert state_of(f"sqlite:///{missing}").state == MISSING
    assert not missing.exists() and not missing.parent.exists()
    bare = tmp_path / "bare.sqlite"
    sqlite3.connect(bare).execute("CREATE TABLE other (x INTEGER)").connection.close()
    assert state_of(f"sqlite:///{bare}").state == NO_TABLES
    empty = Warehouse(url=f"sqlite:///{tmp_path / 'empty.sqlite'}")
    metadata.create_all(empty.engine)
    empty.dispose()
    assert state_of(f"sqlite:///{tmp_path / 'empty.sqlite'}").state == NO_LOADS
    (tmp_path / "notes.sqlite").write_text("not a database, a note\n" * 100)
    unreadable = state_of(f"sqlite:///{tmp_path / 'notes.sqlite'}")
    assert unreadable.state == UNREADABLE and "not a database" in unreadable.problem


def test_a_loaded_warehouse_says_what_it_holds(loaded):
    found = state_of(loaded.url)
    assert found.state == LOADED and (found.loads, found.sources) == (1, 1)
    assert found.why() == "1 loads of 1 sources, days 2026-11-16, last load 2026-11-16 09:00"


def test_a_url_is_shown_without_its_passwords():
    url = "postgresql+psycopg2://bridge:s3cret@db:5432/bridge?sslmode=require&password=t0p&sslpassword=k3y"
    shown = shown_url(url)
    assert "s3cret" not in shown and "t0p" not in shown and "k3y" not in shown
    assert shown.startswith("postgresql+psycopg2://bridge:***@db:5432/bridge") and "sslmode=require" in shown


COMMANDS = [
    ["reconcile"],
    ["review", "list"],
    ["review", "decide", "--left", "a:1", "--right", "b:2", "--decision", "same", "--by", "me"],
    ["explain", "GC00000000000001"],
    ["cases", "find", "恒达"],
    ["report", "projects", "--month", "2026-10"],
    ["report", "corrections", "--day", "2026-11-27"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_dagster_home_never_loaded_is_refused_in_one_line_naming_the_warehouse(
    command, tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("BRIDGE_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *command)
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert f"sqlite:///{tmp_path / 'warehouse.sqlite'}" in err and "never loaded" in err and "--allow-empty" in err
    assert list(tmp_path.iterdir()) == []  # no warehouse file created, no report written


def test_allow_empty_goes_on_naming_the_warehouse_and_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("BRIDGE_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    code, out, _ = run(capsys, "reconcile", "--allow-empty")
    assert code == 0
    named = " ".join(out.splitlines()[:2])
    assert named.startswith(f"warehouse sqlite:///{tmp_path / 'warehouse.sqlite'}")
    assert "(never loaded: the file does not exist, read as empty)" in named
    assert "pulled             0" in out
    code, out, _ = run(capsys, "review", "list", "--allow-empty")
    assert code == 0 and "record pairs 0, 12345 orders 0, project links 0" in out
    assert not (tmp_path / "warehouse.sqlite").exists()


def test_tables_without_a_load_are_refused_too(tmp_path, monkeypatch, capsys):
    empty = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    metadata.create_all(empty.engine)
    empty.dispose()
    monkeypatch.setenv("BRIDGE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.sqlite'}")
    code, _, err = run(capsys, "reconcile")
    assert code == 2 and "no pull has finished in it (source_loads is empty)" in err and len(err.splitlines()) == 1


def test_an_unreadable_warehouse_and_a_missing_url_are_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "notes.sqlite").write_text("not a database\n" * 100)
    monkeypatch.setenv("BRIDGE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'notes.sqlite'}")
    code, _, err = run(capsys, "review", "list", "--allow-empty")
    assert code == 1 and "cannot be read: file is not a database" in err and len(err.splitlines()) == 1
    monkeypatch.setenv("BRIDGE_WAREHOUSE_URL", "not a url at all")
    code, _, err = run(capsys, "reconcile")
    assert code == 2 and "not a SQLAlchemy URL" in err and "not a url at all" not in err
    monkeypatch.delenv("BRIDGE_WAREHOUSE_URL")
    monkeypatch.setenv("BRIDGE_PROFILE", "production")
    code, _, err = run(capsys, "reconcile")
    assert code == 2 and err.startswith("approval-bridge reconcile: BRIDGE_WAREHOUSE_URL is not set")
    assert len(err.splitlines()) == 1


def test_a_loaded_warehouse_is_named_in_the_first_line(loaded, capsys):
    code, out, _ = run(capsys, "reconcile")
    named = " ".join(out.splitlines()[:2])  # what it holds on the next line when the path is long
    assert named.startswith(f"warehouse {loaded.url}") and code in (0, 1)
    assert "(1 loads of 1 sources, days 2026-11-16, last load 2026-11-16 09:00)" in named


# ---------------------------------------------------------------- what waits for a person
def test_review_list_shows_every_kind_waiting_masked_with_a_count_line(loaded, capsys):
    code, out, err = run(capsys, "review", "list")
    assert code == 0 and err == ""
    assert out.splitlines()[-1] == ("waiting for a person: record pairs 1, 12345 orders 1, project links 1 (3 in all)")
    assert f"2026-11-20  p=0.620\n              market_regulation:{MR_ID}\n" in out  # queued ten days ago
    assert "              approval_platform:WJSP2026111600010\n" in out
    assert "decided already" not in out  # a pair with a decision waits for nobody
    assert "CZ123452026112800001" in out and "CZ123452026112800002" not in out  # the linked order waits for nobody
    assert "GC00000000000002 -> project 2026-320412-36-03-303354" in out
    assert "applicant 张三（320412********1234）" in out
    assert RIC not in out and PHONE not in out
    assert all(columns(line) <= 120 for line in out.splitlines())


def test_review_list_of_one_kind(loaded, capsys):
    code, out, _ = run(capsys, "review", "list", "--kind", "orders")
    assert code == 0 and out.splitlines()[-1] == "waiting for a person: 12345 orders 1"
    assert "2026-11-28  CZ123452026112800001  dispatched 2026-11-28 08:38  咨询/审批服务" in out
    assert "review_queue" not in out and "project_link_review" not in out


def test_review_decide_still_records_a_verdict(loaded, capsys):
    code, out, _ = run(
        capsys, "review", "decide", "--left", f"market_regulation:{MR_ID}",
        "--right", "approval_platform:WJSP2026111600010", "--decision", "same", "--by", "王科长",
    )  # fmt: skip
    assert code == 0 and "recorded:" in out
    code, out, _ = run(capsys, "review", "list", "--kind", "pairs")
    assert out.splitlines()[-1] == "waiting for a person: record pairs 0"


def test_the_ui_check_counts_each_kind_and_warns_past_the_age(loaded, monkeypatch):
    from pipelines.review.checks import nothing_waits_too_long

    evaluation = run_check(nothing_waits_too_long, loaded, partition=None)
    assert verdict(evaluation) == "warning"  # the pair has waited ten days, more than seven
    found = {k: evaluation.metadata[k].value for k in ("pairs_waiting", "orders_waiting", "projects_waiting")}
    assert found == {"pairs_waiting": 1, "orders_waiting": 1, "projects_waiting": 1}
    assert evaluation.metadata["waiting_longer"].value == 1
    assert "CZ123452026112800001" in text(evaluation, "oldest_items")
    monkeypatch.setenv("BRIDGE_REVIEW_MAX_AGE_DAYS", "30")
    assert verdict(run_check(nothing_waits_too_long, loaded, partition=None)) == "passed"


# ---------------------------------------------------------------- cases find
@pytest.mark.parametrize(
    ("query", "matched"),
    [
        ("恒达（ＡＢＣ）", "applicant name"),  # full-width brackets and letters, as typed on a Chinese keyboard
        ("恒大 (ABC)", "applicant name"),  # the re-entry's misspelling, with a space: still its case
        (USCC.lower(), "identifier"),
        (DEPT_NO, "办件编号"),
        (ALLOCATED_NO, "办件编号"),  # the number withdrawn for the department's
        ("WJSP2026111600009", "办件编号, record"),  # the hall's record numbers its case by its own id
        ("approval_platform:WJSP2026111600009", "record"),
    ],
)
def test_cases_find_gives_the_golden_id(loaded, capsys, query, matched):
    code, out, _ = run(capsys, "cases", "find", query)
    assert code == 0
    assert "GC00000000000001  常州恒达(ABC)科技有限公司（9132041258558635XF）" in out
    assert f"办件编号 {DEPT_NO}" in out and f"matched by {matched}" in out
    assert "approval_platform:WJSP2026111600009" in out  # its sources, with their record ids
    assert all(columns(line) <= 120 for line in out.splitlines())


def test_cases_find_masks_a_person_and_says_no_match_in_one_line(loaded, capsys):
    code, out, _ = run(capsys, "cases", "find", RIC)
    assert code == 0 and "GC00000000000002  张三（320412********1234）" in out and RIC not in out
    assert "1 golden case match '320412********1234'" in out  # the number searched for, masked too
    assert PHONE not in out
    code, out, err = run(capsys, "cases", "find", "无此公司")
    assert code == 1 and len(err.splitlines()) == 1 and "no golden case matches '无此公司'" in err


# ---------------------------------------------------------------- explain
def test_explain_opens_with_the_case_and_fits_120_columns(loaded, capsys):
    code, out, err = run(capsys, "explain", "GC00000000000001")
    assert code == 0 and err == ""
    lines = out.splitlines()
    start = lines.index("Golden case GC00000000000001 (version 2): 2 records")  # after the warehouse's line(s)
    assert start <= 2
    head = "\n".join(lines[start : start + 12])
    assert "常州恒达(ABC)科技有限公司（9132041258558635XF）" in head and "000102001000 企业设立登记" in head
    assert DEPT_NO in head and f"{ALLOCATED_NO} (replaced by {DEPT_NO})" in head
    assert f"market_regulation:{MR_ID}" in head and "approval_platform:WJSP2026111600009" in head
    assert "same valid identifier" in out and "+13.20" in out and "-0.90" in out
    assert "outside_window: submitted further apart than the case window" in " ".join(out.split())  # folded
    assert PHONE not in out
    widest = max(lines, key=columns)
    assert columns(widest) <= 120, widest


def test_explain_takes_a_case_number_and_refuses_an_unknown_id_in_one_line(loaded, capsys):
    _, by_id, _ = run(capsys, "explain", "GC00000000000002")
    code, by_number, _ = run(capsys, "explain", PERSON_NO)
    assert code == 0 and by_number == by_id and "张三（320412********1234）" in by_id and RIC not in by_id
    code, _, err = run(capsys, "explain", "GC99999999999999")
    assert code == 1 and len(err.splitlines()) == 1 and "no golden case has the id or 办件编号" in err


def test_bad_arguments_are_refused_in_one_line(loaded, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["review", "list", "--limit", "-1"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "'-1' is not a number of items" in err and "Traceback" not in err
    code, _, err = run(capsys, "review", "decide", "--left", "a:1")
    assert code == 2 and err == "approval-bridge review: decide needs --left, --right, --decision and --by\n"
