"""12345 hotline orders: a hand-made GBK export staged (codes mapped, bad rows quarantined, callers masked), orders
linked to cases by 办件编号 or by applicant and item within the window (namesakes to review, never guessed), the
state table and the monthly figures from hand-made orders, and declarations or definitions with bad codes refused.

The test data is written here, by hand, independent of the sandbox's generator and of the staging code."""

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from connectors.sources import build_source
from core.departments import DeclarationError, read_model
from core.feeds import SHIPPED_DIR, Feed, feed
from core.warehouse import Warehouse, insert_frame
from reporting.definitions import DefinitionError, HotlineDefinitions, _read
from reporting.hotline import last_month_figures, monthly_hotline, order_states, timeliness
from resolution.hotline import link_orders
from schemas.warehouse import mart_hotline_monthly, metadata
from staging.hotline import mask_caller_name, mask_caller_phone, stage_hotline

pytestmark = pytest.mark.unit

DAY = dt.date(2026, 11, 16)
HEADER = (
    "工单编号,工单来源,受理渠道,一级分类,二级分类,三级分类,承办单位,派单时间,办理时限,办结时间,办理结果,"
    "回访满意度,是否超期,办件编号,事项名称,申请人,来电人,来电号码,诉求内容,更新时间"
)
ROWS = [
    # a consultation from the city, solved on time, very satisfied; the caller's phone in the content too
    "GD20261116001,市级派单,电话,咨询,企业开办,营业执照,区行政审批局,2026/11/16 09:10,2026-11-20 17:00:00,"
    "2026-11-17 10:00:00,0,3,0,,,,张三丰,13912345678,来电人张三丰问营业执照办理，回电13912345678,2026-11-16 18:00:00",
    # from the province, about a case by its 办件编号, a landline caller
    "GD20261116002,省级转办,网站,投诉,审批时限,食品经营许可,区行政审批局,2026-11-16 10:00,2026-11-23 17:00,"
    "2026-11-24 09:00,2,1,1,CASE-0001,,,李四,0519-86123456,催办办件,2026-11-16 18:00:00",
    # a 办理结果 code the declaration does not map
    "GD20261116003,区级受理,微信,咨询,其他,,区行政审批局,2026-11-16 11:00,2026-11-19 17:00,,9,,0,,,,王五,"
    "13800001111,问事,2026-11-16 18:00:00",
    # a dispatch time nobody can read
    "GD20261116004,市级派单,电话,咨询,其他,,区行政审批局,2026-13-45 11:00,2026-11-19 17:00,,0,2,0,,,,赵六,"
    "13800002222,问事,2026-11-16 18:00:00",
    # an origin nobody mapped
    "GD20261116005,国家转办,电话,咨询,其他,,区行政审批局,2026-11-16 11:00,2026-11-19 17:00,,0,2,0,,,,钱七,"
    "13800003333,问事,2026-11-16 18:00:00",
]


def hotline() -> Feed:
    return feed("hotline")


def export_bytes(rows: list[str]) -> bytes:
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode("gbk")


def raw_frame(folder: Path, since: dt.date = DAY) -> pd.DataFrame:
    declared = hotline()
    source = build_source(declared.connector.kind, declared.connector.settings, endpoint=str(folder))
    start = dt.datetime.combine(since, dt.time())
    batch = source.fetch_changes(start, start + dt.timedelta(days=1))
    return pd.DataFrame(
        {
            "record_key": [r.record_key for r in batch.records],
            "payload": [json.dumps(r.payload, ensure_ascii=False) for r in batch.records],
        }
    )


def test_a_gbk_export_is_staged_with_codes_mapped_bad_rows_quarantined_and_callers_masked(tmp_path):
    content = export_bytes(ROWS)
    assert "张三丰".encode("gbk") in content and b"\xe5\xbc\xa0" not in content  # GBK bytes, not UTF-8
    (tmp_path / "hotline_orders_20261116.csv").write_bytes(content)
    staged, quarantined = stage_hotline(raw_frame(tmp_path), hotline(), DAY)

    assert list(staged["order_id"]) == ["GD20261116001", "GD20261116002"]
    first, second = staged.iloc[0], staged.iloc[1]
    assert (first["origin"], first["channel"], first["result"], first["satisfaction"]) == (
        "city",
        "phone",
        "solved",
        "very_satisfied",
    )
    assert first["dispatched_at"] == pd.Timestamp("2026-11-16 09:10") and not first["overdue"]
    assert (second["origin"], second["result"], second["satisfaction"], second["case_no"]) == (
        "province",
        "partly_solved",
        "understood",
        "CASE-0001",
    )
    assert bool(second["overdue"]) and second["closed_at"] == pd.Timestamp("2026-11-24 09:00")

    # the caller's data, masked before anything stores it
    assert list(staged["caller_name"]) == ["张*", "李*"]
    assert list(staged["caller_phone"]) == ["139****5678", "051****3456"]
    text = staged.astype(str).to_csv()
    for raw in ("13912345678", "张三丰", "86123456"):
        assert raw not in text
    assert "张*" in first["content"] and "139****5678" in first["content"]

    reasons = dict(zip(quarantined["item_id"], quarantined["reason_code"], strict=True))
    assert reasons == {
        "GD20261116003": "unknown_result",
        "GD20261116004": "invalid_dispatched_at",
        "GD20261116005": "unknown_origin",
    }
    assert "“9”不在代码对照中" in quarantined.set_index("item_id").loc["GD20261116003", "reason"]
    assert not quarantined["reason"].str.contains("1380000").any()
    assert len(staged) + len(quarantined) == len(ROWS)


def test_an_unreadable_export_is_one_quarantined_record(tmp_path):
    (tmp_path / "hotline_orders_20261116.csv").write_bytes(export_bytes(ROWS[:1]).decode("gbk").encode("utf-16"))
    staged, quarantined = stage_hotline(raw_frame(tmp_path), hotline(), DAY)
    assert staged.empty and list(quarantined["reason_code"]) == ["unreadable_file"]


def test_masking_helpers():
    names = pd.Series(["张三", "欧阳娜娜", None, " "], dtype="string")
    assert mask_caller_name(names).tolist()[:2] == ["张*", "欧*"]
    assert mask_caller_name(names).isna().tolist()[2:] == [True, True]
    phones = pd.Series(["139 1234 5678", "0519-86123456", "12345", None], dtype="string")
    assert mask_caller_phone(phones).tolist()[:3] == ["139****5678", "051****3456", "****"]


# ---------------------------------------------------------------------------------------------- linking
NUMBERS = pd.DataFrame(
    {"case_no": ["N-1", "N-2", "N-2"], "golden_case_id": ["GC1", "GC2", "GC3"]},
)
GOLDEN = pd.DataFrame(
    {
        "golden_case_id": ["GC1", "GC4", "GC5", "GC6", "GC7"],
        "applicant_name": ["常州恒达科技有限公司", "武进区恒达科技有限责任公司", "王芳", "王芳", "李明"],
        "item_code": ["000102001000", "000130001000", "000140002000", "000140002000", "000140002000"],
        "submitted_at": pd.to_datetime(
            ["2026-11-01 09:00", "2026-11-02 09:00", "2026-11-03 09:00", "2026-11-03 15:00", "2026-08-01 09:00"]
        ),
    }
)


def orders(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["order_id", "case_no", "applicant_name", "item_code", "dispatched_at"]).assign(
        dispatched_at=lambda f: pd.to_datetime(f["dispatched_at"])
    )


def test_orders_link_by_number_then_by_applicant_and_item_within_the_window():
    linked = link_orders(
        orders(
            ("by-number", "N-1", None, None, "2026-11-10 10:00"),
            ("number-names-two", "N-2", None, None, "2026-11-10 10:00"),
            ("by-applicant", None, "恒达科技有限公司", "000130001000", "2026-11-10 10:00"),
            ("unknown-number-then-applicant", "N-9", "常州恒达科技有限公司", "000102001000", "2026-11-10 10:00"),
            ("namesakes", None, "王芳", "000140002000", "2026-11-10 10:00"),
            ("outside-window", None, "李明", "000140002000", "2026-11-10 10:00"),
            ("before-the-case", None, "恒达科技有限公司", "000130001000", "2026-11-01 10:00"),
            ("no-item", None, "王芳", None, "2026-11-10 10:00"),
            ("nothing", None, None, None, "2026-11-10 10:00"),
        ),
        NUMBERS,
        GOLDEN,
        window_days=60,
    ).set_index("order_id")
    view = linked[["status", "golden_case_id", "link_rule", "candidates"]].astype(object)
    view = view.where(view.notna(), None)
    assert view.to_dict("index") == {
        "by-number": {"status": "linked", "golden_case_id": "GC1", "link_rule": "case_no", "candidates": 1},
        "number-names-two": {"status": "review", "golden_case_id": None, "link_rule": None, "candidates": 2},
        "by-applicant": {
            "status": "linked",
            "golden_case_id": "GC4",
            "link_rule": "applicant_item_window",
            "candidates": 1,
        },
        "unknown-number-then-applicant": {
            "status": "linked",
            "golden_case_id": "GC1",
            "link_rule": "applicant_item_window",
            "candidates": 1,
        },
        "namesakes": {"status": "review", "golden_case_id": None, "link_rule": None, "candidates": 2},
        "outside-window": {"status": "unlinked", "golden_case_id": None, "link_rule": None, "candidates": 0},
        "before-the-case": {"status": "unlinked", "golden_case_id": None, "link_rule": None, "candidates": 0},
        "no-item": {"status": "unlinked", "golden_case_id": None, "link_rule": None, "candidates": 0},
        "nothing": {"status": "unlinked", "golden_case_id": None, "link_rule": None, "candidates": 0},
    }
    assert "2 cases of this applicant and item" in linked.loc["namesakes", "note"]
    # a wider window reaches the old case
    wide = link_orders(orders(("old", None, "李明", "000140002000", "2026-11-10")), NUMBERS, GOLDEN, window_days=120)
    assert wide.loc[0, "golden_case_id"] == "GC7"


def test_the_state_table_links_from_the_warehouse_as_the_rule_does_on_the_cases_of_the_items_named(warehouse):
    """build_order_states reads only the golden cases of an item some order names with an applicant: the same
    links as the rule run on every case above (the namesakes still two candidates, the case before still
    unlinked), and a case of an item no order names is never read."""
    from pipelines.feeds.assets import build_order_states
    from schemas.warehouse import golden_cases, staged_hotline_orders

    day = dt.date(2026, 11, 10)
    cases = GOLDEN.assign(
        record_count=1, version=1, content_hash="h", first_partition=day, updated_partition=day,
        updated_at=dt.datetime(2026, 11, 10, 18),
    )  # fmt: skip
    unnamed = cases.iloc[[1]].assign(golden_case_id="GC_OTHER_ITEM", item_code="000199009000")  # no order names it
    rows = [
        ("by-applicant", "恒达科技有限公司", "000130001000", "2026-11-10 10:00"),
        ("namesakes", "王芳", "000140002000", "2026-11-10 10:00"),
        ("before-the-case", "恒达科技有限公司", "000130001000", "2026-11-01 10:00"),
        ("no-item", "王芳", None, "2026-11-10 10:00"),
    ]
    orders_staged = pd.DataFrame(
        [
            staged(order, day, dispatched=at, deadline="2026-11-20 17:00", closed=None)
            | {"applicant_name": name, "item_code": item}
            for order, name, item, at in rows
        ]
    )
    with warehouse.begin() as conn:
        insert_frame(conn, golden_cases, pd.concat([cases, unnamed], ignore_index=True))
        insert_frame(conn, staged_hotline_orders, orders_staged)
    with warehouse.begin() as conn:
        states = build_order_states(warehouse, conn).set_index("order_id")
    view = states[["status", "golden_case_id", "candidates"]].astype(object)
    assert view.where(view.notna(), None).to_dict("index") == {
        "by-applicant": {"status": "linked", "golden_case_id": "GC4", "candidates": 1},
        "namesakes": {"status": "review", "golden_case_id": None, "candidates": 2},
        "before-the-case": {"status": "unlinked", "golden_case_id": None, "candidates": 0},
        "no-item": {"status": "unlinked", "golden_case_id": None, "candidates": 0},
    }


# ---------------------------------------------------------------------------------------------- states and mart
def staged(order_id, day, *, origin="city", category="咨询", result="solved", satisfaction="satisfied",
           dispatched="2026-10-05 09:00", deadline="2026-10-10 17:00", closed="2026-10-08 10:00", overdue=None,
           changed="1", case_no=None):  # fmt: skip
    return {
        "source_system": "hotline",
        "partition_date": day,
        "record_key": order_id,
        "order_id": order_id,
        "origin": origin,
        "channel": "phone",
        "category_1": category,
        "category_2": None,
        "category_3": None,
        "handling_unit": "区行政审批局",
        "dispatched_at": pd.Timestamp(dispatched),
        "deadline_at": pd.Timestamp(deadline),
        "closed_at": pd.Timestamp(closed) if closed else pd.NaT,
        "result": result,
        "satisfaction": satisfaction,
        "overdue": overdue,
        "case_no": case_no,
        "item_name": None,
        "item_code": None,
        "applicant_name": None,
        "caller_name": "张*",
        "caller_phone": "139****5678",
        "content": None,
        "changed_at": changed,
    }


OCT = dt.date(2026, 10, 8)
RECORDS = pd.DataFrame(
    [
        staged("A", OCT, satisfaction="very_satisfied", case_no="N-1"),
        staged("B", OCT, closed="2026-10-11 09:00", satisfaction="dissatisfied"),  # late by its times
        staged("C", OCT, closed=None, overdue=False, satisfaction="understood"),  # on time by the flag
        staged("D", OCT, closed=None, overdue=None, satisfaction=None),  # no way to tell: not timed
        staged("E", OCT, origin="province", category="投诉", result="returned", satisfaction=None),  # not counted
        staged("F", OCT, origin="province", category="投诉", satisfaction=None, closed="2026-10-09 09:00"),
        # the same order exported again two days later, revisited: its newest state counts, once
        staged(
            "F",
            OCT + dt.timedelta(days=2),
            origin="province",
            category="投诉",
            satisfaction="satisfied",
            closed="2026-10-09 09:00",
            changed="2",
        ),
        staged(
            "G",
            dt.date(2026, 11, 2),
            dispatched="2026-11-01 09:00",
            deadline="2026-11-05 17:00",
            closed="2026-11-02 09:00",
        ),
    ]
)
QUARANTINED = pd.DataFrame(
    {
        "source_system": ["hotline", "hotline", "hotline"],
        "partition_date": [OCT, OCT, OCT + dt.timedelta(days=3)],
        "record_key": ["H", "file.csv#3", "F"],
        "item_id": ["H", None, "F"],
        "reason_code": ["unknown_result", "unreadable_file", "invalid_closed_at"],
    }
)


def test_every_order_ends_in_one_state_and_the_mart_counts_by_the_definitions():
    settings = HotlineDefinitions()
    golden = GOLDEN.iloc[0:0]
    states = order_states(RECORDS, QUARANTINED, NUMBERS, golden, settings).set_index("order_id")
    assert sorted(states.index) == ["2026-10-08/file.csv#3", "A", "B", "C", "D", "E", "F", "G", "H"]
    assert states["status"].to_dict() == {
        "A": "linked",
        **dict.fromkeys(["B", "C", "D", "E", "F", "G"], "unlinked"),
        "H": "quarantined",
        "2026-10-08/file.csv#3": "quarantined",
    }
    assert states.loc["F", "satisfaction"] == "satisfied" and states.loc["F", "records"] == 3
    assert states.loc[list("ABCDEFG"), "timeliness"].tolist() == [
        "on_time",
        "late",
        "on_time",
        "unknown",
        "on_time",
        "on_time",
        "on_time",
    ]

    mart = monthly_hotline(states.reset_index(), settings).set_index(["month", "origin", "category_1"])
    october = mart.loc[("2026-10", "all", "all")]
    assert october["orders"] == 6 and october["about_cases"] == 1 and october["returned"] == 1
    # timed: A, B, C, F (D cannot tell, E returned) → 3 of 4
    assert (october["on_time"], october["timed"], october["on_time_rate"]) == (3, 4, 0.75)
    # rated: A very satisfied, B dissatisfied, C understood, F satisfied → 2 of 4
    assert (october["satisfied_count"], october["rated"], october["satisfaction_rate"]) == (2, 4, 0.5)
    province = mart.loc[("2026-10", "province", "all")]
    assert province["orders"] == 2 and mart.loc[("2026-10", "province", "投诉"), "orders"] == 2
    assert mart.loc[("2026-11", "all", "all"), "orders"] == 1

    # the definitions change the figures, not the code
    lenient = HotlineDefinitions(
        satisfied_values=("understood", "satisfied", "very_satisfied"), on_time_basis="overdue_flag"
    )
    again = monthly_hotline(order_states(RECORDS, QUARANTINED, NUMBERS, golden, lenient), lenient)
    again = again.set_index(["month", "origin", "category_1"]).loc[("2026-10", "all", "all")]
    assert again["satisfaction_rate"] == 0.75
    assert (again["on_time"], again["timed"]) == (3, 4)
    assert "13912345678" not in mart.to_csv() and "张" not in mart.to_csv()


def test_timeliness_by_basis():
    frame = pd.DataFrame(
        {
            "closed_at": pd.to_datetime(["2026-10-11", "2026-10-08", None]),
            "deadline_at": pd.to_datetime(["2026-10-10", "2026-10-10", "2026-10-10"]),
            "overdue": pd.array([False, True, True], dtype="boolean"),
        }
    )
    assert timeliness(frame, HotlineDefinitions()).tolist() == ["late", "on_time", "late"]
    assert timeliness(frame, HotlineDefinitions(on_time_basis="overdue_flag")).tolist() == ["on_time", "late", "late"]


def test_last_months_figures_come_from_one_query_on_the_mart(tmp_path):
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    states = order_states(RECORDS, QUARANTINED, NUMBERS, GOLDEN.iloc[0:0], HotlineDefinitions())
    with warehouse.begin() as conn:
        insert_frame(conn, mart_hotline_monthly, monthly_hotline(states, HotlineDefinitions()))
    statements = []
    sa.event.listen(warehouse.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with warehouse.begin() as conn:
        figures = last_month_figures(conn, dt.date(2026, 11, 20))
    assert len(statements) == 1
    assert figures == {
        "month": "2026-10",
        "orders": 6,
        "province_orders": 2,
        "about_cases": 1,
        "on_time": 3,
        "timed": 4,
        "on_time_rate": 0.75,
        "satisfied_count": 2,
        "rated": 4,
        "satisfaction_rate": 0.5,
    }
    with warehouse.begin() as conn:
        empty = last_month_figures(conn, dt.date(2026, 8, 3))
    assert empty["orders"] == 0 and empty["on_time_rate"] is None
    assert "mart_hotline_monthly" in metadata.tables or "marts.mart_hotline_monthly" in metadata.tables
    warehouse.dispose()


# ---------------------------------------------------------------------------------------------- refused
def _declaration(tmp_path: Path, change) -> Path:
    document = yaml.safe_load((SHIPPED_DIR / "hotline.yaml").read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["codes"]["result"].update({"4": "fixed"}), "result"),
        (lambda d: d["codes"]["satisfaction"].update({"4": "happy"}), "satisfaction"),
        (lambda d: d["codes"].pop("origin"), "codes must map the system's origin codes"),
        (lambda d: d["fields"].pop("deadline_at"), "deadline_at"),
        (lambda d: d["fields"].update({"caller_id": "身份证号"}), "caller_id"),
    ],
)
def test_the_declaration_is_refused_on_bad_codes_and_fields(tmp_path, change, message):
    assert read_model(SHIPPED_DIR / "hotline.yaml", Feed).name == "hotline"
    with pytest.raises(DeclarationError, match=message):
        read_model(_declaration(tmp_path, change), Feed)


def test_definitions_refused_on_unknown_values(tmp_path):
    bad = tmp_path / "definitions.yaml"
    bad.write_text("mart_hotline_monthly:\n  satisfied_values: [satisfied, happy]\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"mart_hotline_monthly\.satisfied_values"):
        _read(bad, 1)
    bad.write_text(
        "mart_hotline_monthly:\n  rated_values: [satisfied]\n  satisfied_values: [very_satisfied]\n", encoding="utf-8"
    )
    with pytest.raises(DefinitionError, match="must also be rated_values"):
        _read(bad, 2)


def test_no_raw_caller_data_in_any_table_past_staging(tmp_path):
    """A hand-made export through pull, staging, the state table and the mart on a warehouse of its own: the
    caller's phone and name are in raw_feed_records only."""
    from pipelines.feeds.assets import build_order_states, stage_feed_day
    from pipelines.pull.assets import land
    from schemas.warehouse import hotline_orders, raw_feed_records, staged_hotline_orders
    from staging.hotline import stage_hotline

    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "hotline_orders_20261116.csv").write_bytes(export_bytes(ROWS))
    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    declared = hotline()
    source = build_source(declared.connector.kind, declared.connector.settings, endpoint=str(drop))
    start = dt.datetime.combine(DAY, dt.time())
    window = (start, start + dt.timedelta(days=1))
    land(warehouse, "hotline", DAY, window, source.fetch_changes(*window), raw_feed_records)
    staged_rows, quarantined = stage_feed_day(warehouse, declared, DAY, stage_hotline, staged_hotline_orders)
    assert len(staged_rows) + len(quarantined) == len(ROWS)
    with warehouse.begin() as conn:
        states = build_order_states(warehouse, conn)
        insert_frame(conn, hotline_orders, states)
        insert_frame(conn, mart_hotline_monthly, monthly_hotline(states, HotlineDefinitions()))
    assert len(states) == len(ROWS) and states["order_id"].is_unique
    inspector = sa.inspect(warehouse.engine)
    with warehouse.engine.connect() as conn:
        for name in inspector.get_table_names():
            text = pd.read_sql(sa.text(f'SELECT * FROM "{name}"'), conn).astype(str).to_csv()
            if name == "raw_feed_records":
                assert "13912345678" in text  # the test would see it
                continue
            for raw in ("13912345678", "86123456", "张三丰", "13800001111"):
                assert raw not in text, (name, raw)
    from pipelines.feeds.checks import every_order_once  # the standalone check, on the same warehouse

    found = every_order_once(warehouse=warehouse)
    assert found.passed and found.metadata["pulled"].value == len(ROWS)
    with warehouse.begin() as conn:  # an order lost on the way is named
        conn.execute(hotline_orders.delete().where(hotline_orders.c.order_id == states["order_id"].iloc[0]))
    assert not every_order_once(warehouse=warehouse).passed
    warehouse.dispose()
