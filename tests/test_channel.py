"""Issue 15, channel and place: 申报渠道, 结果送达方式, 受理地点 and 审批方式 from the sources' own codes to the golden
case, the receivers' columns, and the not-in-person mart, on hand-made records and cases."""

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from connectors.province import case_rows, profile
from core.departments import FieldMapping
from reporting.channel import channel_monthly_select, not_in_person_share
from reporting.definitions import ChannelDefinition, DefinitionError, channel_definition
from resolution.golden import build_golden_cases, payload_json
from schemas.warehouse import golden_cases, mart_channel_monthly
from staging.normalise import stage_partition

pytestmark = pytest.mark.unit

TASK = "11320412MB0143028G4000102001000"  # 实施编码 of 企业设立登记 at the market regulator
STARTUP, FILING = "000102001000", "000105002000"  # 企业设立登记 (审批; 容缺受理 allowed), 小餐饮备案 (备案 only)


def _raw(*records: tuple[str, dict]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"source_system": s, "record_key": f"k{i}", "payload": json.dumps(p, ensure_ascii=False)}
            for i, (s, p) in enumerate(records)
        ]
    )


def _market(serial: int, **fields) -> dict:
    return {
        "SBLSH": f"{TASK}20261116{serial:04d}",
        "SXBM": "SCJG-QYSL",
        "SXMC": "企业设立登记",
        "SQRLX": "1",
        "SQRMC": f"常州恒达{serial}科技有限公司",
        "SQRZJHM": "913204125855863580",
        "LXDH": "13812345678",
        "DZ": "江苏省常州市武进区湖塘镇人民中路1号",
        "SBSJ": "2026-11-16 09:00:00",
        "SLSJ": "2026-11-16 10:00:00",
        "BLZT": "02",
        "GXSJ": "2026-11-16 10:00:00",
        **fields,
    }


def _health(serial: int, **fields) -> dict:
    return {
        "办件编号": f"WJWS-20261116-{serial:04d}",
        "事项编码": "WJ-GGWS",
        "事项名称": "公共场所卫生许可证核发",
        "申请人类型": "单位",
        "申请人": f"常州武进悦来{serial}宾馆有限公司",
        "证件号码": "913204125855863580",
        "联系电话": "13812345678",
        "地址": "武进区湖塘镇",
        "申请日期": "2026/11/16 09:00",
        "受理日期": "2026/11/16 10:00",
        "办理状态": "受理",
        "更新时间": "2026-11-16 10:00:00",
        **fields,
    }


# ---------------------------------------------------------------- staging
def test_each_systems_codes_map_onto_the_canonical_values():
    staged, quarantined = stage_partition(
        _raw(
            ("market_regulation", _market(1, SBQD="03", SDFS="2", SLDD="SJ-GXQ", SPFS="3")),
            (
                "health",
                _health(
                    2, 申报方式="窗口申报", 送达方式="电子证照", 受理地点="湟里镇便民服务中心", 审批方式="告知承诺"
                ),
            ),
        )
    )
    assert quarantined.empty
    rows = staged.set_index("source_system")
    market, health = rows.loc["market_regulation"], rows.loc["health"]
    assert (market.submission_channel, market.delivery_method, market.accepting_place, market.approval_mode) == (
        "mobile",
        "express",
        "wjhtz",
        "容缺受理",
    )
    assert (health.submission_channel, health.delivery_method, health.accepting_place, health.approval_mode) == (
        "window",
        "electronic",
        "town_320412120",
        "告知承诺",
    )
    assert pd.isna(market.quality_flags) or "unmapped" not in market.quality_flags


def test_missing_stays_unknown_and_an_unlisted_code_is_flagged_not_dropped():
    staged, quarantined = stage_partition(
        _raw(
            ("market_regulation", _market(1)),  # an older record: none of the four fields
            ("market_regulation", _market(2, SBQD="06", SDFS="", SLDD="SJ-ZWZX")),  # 06: not in the declaration
        )
    )
    assert quarantined.empty and len(staged) == 2  # neither is quarantined for it
    rows = staged.set_index("record_key")
    older, odd = rows.loc["k0"], rows.loc["k1"]
    # unknown is unknown: not defaulted to the window, and the mode is the golden case's business
    assert older[["submission_channel", "delivery_method", "accepting_place", "approval_mode"]].isna().all()
    assert pd.isna(older.quality_flags) or "unmapped" not in older.quality_flags
    assert pd.isna(odd.submission_channel) and "submission_channel_unmapped" in odd.quality_flags
    assert pd.isna(odd.delivery_method) and "delivery_method_unmapped" not in odd.quality_flags  # blank: unknown
    assert odd.accepting_place == "district_hall"


def test_a_mode_the_catalogue_does_not_offer_is_kept_and_flagged():
    staged, _ = stage_partition(_raw(("market_regulation", _market(1, SPFS="4"))))  # 备案 for 企业设立登记
    assert staged.loc[0, "approval_mode"] == "备案"
    assert "approval_mode_not_in_catalogue" in staged.loc[0, "quality_flags"]
    staged, _ = stage_partition(_raw(("market_regulation", _market(2, SPFS="3"))))  # 容缺受理: offered
    assert pd.isna(staged.loc[0, "quality_flags"]) or "approval_mode" not in staged.loc[0, "quality_flags"]


def test_a_code_map_must_map_onto_the_vocabulary():
    base = {"fields": {"source_record_id": "a", "applicant_name": "b", "submitted_at": "c", "status": "d"},
            "statuses": {"1": "受理"}}  # fmt: skip
    with pytest.raises(ValidationError, match="fax"):
        FieldMapping.model_validate({**base, "channels": {"F": "fax"}})
    with pytest.raises(ValidationError, match="places"):
        FieldMapping.model_validate({**base, "places": {"X": "town_999999999"}})
    with pytest.raises(ValidationError, match="without its code map"):
        FieldMapping.model_validate({**base, "fields": {**base["fields"], "submission_channel": "QD"}})
    assert FieldMapping.model_validate({**base, "approval_modes": {"2": "告知承诺"}}).approval_modes == {
        "2": "告知承诺"
    }


# ---------------------------------------------------------------- survivorship
def _linked(*records: dict) -> pd.DataFrame:
    base = {
        "golden_case_id": "GC1",
        "case_no": "X",
        "item_code": STARTUP,
        "applicant_name": "恒达",
        "applicant_id_checksum_ok": True,
        "submitted_at": pd.Timestamp("2026-11-16 09:00"),
        "status": "受理",
    }
    return pd.DataFrame([{**base, **r} for r in records])


def test_the_department_wins_and_the_re_entry_fills_its_gaps():
    golden = build_golden_cases(
        _linked(
            {
                "source_system": "market_regulation",
                "source_record_id": "M1",
                "submission_channel": "window",
                "delivery_method": None,
                "accepting_place": None,
                "approval_mode": None,
            },
            {
                "source_system": "approval_platform",
                "source_record_id": "P1",
                "submission_channel": "web",
                "delivery_method": "express",
                "accepting_place": "xthp",
                "approval_mode": "容缺受理",
            },
        )
    ).iloc[0]
    assert golden.submission_channel == "window"  # the department's word
    assert (golden.delivery_method, golden.accepting_place) == ("express", "xthp")  # the re-entry's, where it had none
    assert golden.approval_mode == "容缺受理"  # a source's mode wins over the item's default


def test_the_items_default_mode_when_no_source_says_one():
    one = {"source_system": "market_regulation", "source_record_id": "M1"}
    assert build_golden_cases(_linked(one)).iloc[0].approval_mode == "审批"
    assert build_golden_cases(_linked({**one, "item_code": FILING})).iloc[0].approval_mode == "备案"


def test_a_case_without_the_new_fields_keeps_its_payload():
    golden = build_golden_cases(_linked({"source_system": "market_regulation", "source_record_id": "M1"}))
    payload = json.loads(payload_json(golden)[0])
    assert "submission_channel" not in payload and "accepting_place" not in payload
    assert payload["approval_mode"] == "审批"


# ---------------------------------------------------------------- receivers
def _case(number: int, **fields) -> dict:
    day = dt.datetime(2026, 11, 16, 9)
    return {
        "golden_case_id": f"GC{number}",
        "version": 1,
        "project_no": f"{TASK}20261116{number:04d}",
        "case_no": f"{TASK}20261116{number:04d}",
        "item_code": STARTUP,
        "item_name": "企业设立登记",
        "applicant_type": "legal_person",
        "applicant_name": f"常州武进恒达{number}号科技有限公司",
        "applicant_id": "913204125855863580",
        "applicant_id_kind": "uscc",
        "contact_phone": "13812345678",
        "address": "江苏省常州市武进区湖塘镇人民中路1号",
        "submitted_at": day.isoformat(),
        "accepted_at": (day + dt.timedelta(hours=1)).isoformat(),
        "decided_at": (day + dt.timedelta(days=1)).isoformat(),
        "completed_at": (day + dt.timedelta(days=1, hours=2)).isoformat(),
        "status": "办结",
        "promised_days": 2,
        "statutory_days": 15,
        "handling_dept": "market_regulation",
        **fields,
    }


def test_national_is_delivery_results_is_one_only_for_express():
    cases = pd.DataFrame(
        [
            _case(1, delivery_method="express"),
            _case(2, delivery_method="electronic"),
            _case(3, delivery_method="window"),
            _case(4),  # unknown: 0, as before the bridge knew the method
        ]
    )
    tables, held = case_rows(cases, profile("national"))
    assert held.empty
    flags = tables["up_pro_result"].set_index("golden_case_id")["is_delivery_results"]
    assert flags.to_dict() == {"GC1": "1", "GC2": "0", "GC3": "0", "GC4": "0"}


def test_the_municipal_document_carries_channel_delivery_and_place():
    from connectors.municipal import document_map, documents
    from connectors.targets import OutboxMessage

    cases = [_case(1, submission_channel="mobile", delivery_method="electronic", accepting_place="xthp"), _case(2)]
    messages = [OutboxMessage(f"municipal:{c['golden_case_id']}:v1", c["golden_case_id"], 1, c, "h") for c in cases]
    docs, held = documents(messages, document_map("municipal"))
    assert held == {}
    one, two = docs["municipal:GC1:v1"], docs["municipal:GC2:v1"]
    assert (one["submissionChannel"], one["deliveryMethod"]) == ("3", "3")
    assert (one["acceptingPlace"], one["acceptingPlaceAreaCode"]) == ("xthp", "320412")
    assert two["submissionChannel"] is None and two["acceptingPlace"] is None  # optional: sent without them


# ---------------------------------------------------------------- not in person, and the mart
# By hand, from the definition (online = web or mobile; remote = express or electronic): (channel, delivery,
# determinable, not in person).
DEFINITION_TABLE = [
    ("web", "express", True, True),
    ("mobile", "electronic", True, True),
    ("web", "window", True, False),  # applied online, came in for the licence
    ("window", "express", True, False),
    ("self_service", "electronic", True, False),  # a terminal in the hall: the applicant came in
    ("express", "express", True, False),  # posted in: not "online" by default
    ("other", "electronic", True, False),
    ("web", None, False, False),  # delivery unknown: out of the share
    (None, "express", False, False),
    (None, None, False, False),
]


def _golden_rows(rows: list[dict]) -> list[dict]:
    stamp = dt.datetime(2026, 12, 1, 3)
    base = {
        "source_system": "market_regulation",
        "item_code": STARTUP,
        "status": "受理",
        "handling_dept": "market_regulation",
        "record_count": 1,
        "version": 1,
        "content_hash": "h",
        "first_partition": dt.date(2026, 11, 16),
        "updated_partition": dt.date(2026, 11, 16),
        "updated_at": stamp,
    }
    return [{**base, "golden_case_id": f"GC{i}", **row} for i, row in enumerate(rows)]


def _load(warehouse, rows: list[dict]) -> None:
    with warehouse.begin() as conn:
        conn.execute(golden_cases.insert(), _golden_rows(rows))


def _rebuild(warehouse, definition: ChannelDefinition | None = None) -> pd.DataFrame:
    with warehouse.begin() as conn:
        conn.execute(mart_channel_monthly.delete())
        select = channel_monthly_select(definition)
        conn.execute(mart_channel_monthly.insert().from_select([c.name for c in select.selected_columns], select))
    return warehouse.read(sa.select(mart_channel_monthly))


def test_the_not_in_person_definition_case_by_case(warehouse):
    rows = [
        {
            "submission_channel": c,
            "delivery_method": d,
            "submitted_at": dt.datetime(2026, 11, 16, 9),
            "approval_mode": "审批",
        }
        for c, d, _, _ in DEFINITION_TABLE
    ]
    _load(warehouse, rows)
    mart = _rebuild(warehouse)
    assert len(mart) == 1
    row = mart.iloc[0]
    assert row.cases == len(DEFINITION_TABLE)
    assert row.determinable == sum(d for _, _, d, _ in DEFINITION_TABLE) == 7
    assert row.not_in_person == sum(n for _, _, _, n in DEFINITION_TABLE) == 2
    assert row.channel_known == 8 and row.online == 4 and row.delivery_known == 8
    assert row.not_in_person_share == pytest.approx(2 / 7)
    # the same cases with self-service terminals counted as online: one more not in person
    wider = ChannelDefinition(online_channels=("web", "mobile", "self_service"))
    assert _rebuild(warehouse, wider).iloc[0].not_in_person == 3


def test_mart_channel_monthly_per_month_department_and_place(warehouse):
    nov, dec = dt.datetime(2026, 11, 20, 9), dt.datetime(2026, 12, 1, 9)
    keys = ("submitted_at", "submission_channel", "delivery_method", "accepting_place", "approval_mode")
    rows = [
        (nov, "web", "express", "district_hall", "审批"),
        (nov, "window", "window", "district_hall", "告知承诺"),
        (nov, "mobile", "electronic", "town_320412100", "容缺受理"),
        (nov, None, None, None, "备案"),
        (dec, "window", "window", "wjhtz", None),
    ]
    cases = [dict(zip(keys, row, strict=True)) for row in rows]
    cases[3]["handling_dept"] = "health"
    _load(warehouse, cases)
    mart = _rebuild(warehouse).set_index(["month", "handling_dept", "accepting_place"]).sort_index()
    assert list(mart.index) == [
        ("2026-11", "health", "unknown"),
        ("2026-11", "market_regulation", "district_hall"),
        ("2026-11", "market_regulation", "town_320412100"),
        ("2026-12", "market_regulation", "wjhtz"),
    ]
    hall = mart.loc[("2026-11", "market_regulation", "district_hall")]
    assert (hall.cases, hall.not_in_person, hall.not_in_person_share) == (2, 1, 0.5)
    assert (hall.place_name, hall.place_region_code) == ("武进区政务服务中心", "320412")
    assert (hall.mode_licensing, hall.mode_commitment) == (1, 1)
    town = mart.loc[("2026-11", "market_regulation", "town_320412100")]
    assert (town.place_region_code, town.mode_missing_papers, town.not_in_person_share) == ("320412100", 1, 1.0)
    unknown = mart.loc[("2026-11", "health", "unknown")]
    assert unknown.channel_known == 0 and pd.isna(unknown.not_in_person_share) and unknown.mode_filing == 1
    assert pd.isna(unknown.place_region_code)
    park = mart.loc[("2026-12", "market_regulation", "wjhtz")]
    assert park.mode_unknown == 1 and park.place_region_code == "320412"
    # the month's share in one query: (1 + 1) not in person of the 3 determinable November cases
    assert not_in_person_share(warehouse, "2026-11") == pytest.approx(2 / 3)
    assert not_in_person_share(warehouse, "2026-11", "health") is None
    assert not_in_person_share(warehouse, "2026-12") == 0.0
    assert not_in_person_share(warehouse, "2027-01") is None


def test_definitions_file_is_checked(tmp_path):
    assert channel_definition().online_channels == ("web", "mobile")
    bad = tmp_path / "definitions.yaml"
    bad.write_text("mart_channel_monthly:\n  online_channels: [web, fax]\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="fax"):
        channel_definition(bad)
    other = tmp_path / "other.yaml"  # another mart's entry is checked too: its unknown key is named
    other.write_text("mart_evaluations_monthly: {satisfied: [1, 2]}\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"mart_evaluations_monthly\.satisfied"):
        channel_definition(other)
    only_evaluations = tmp_path / "evaluations_only.yaml"  # a mart the file leaves out counts by its defaults
    only_evaluations.write_text("mart_evaluations_monthly: {count_default_ratings: false}\n", encoding="utf-8")
    assert channel_definition(only_evaluations).remote_deliveries == ("express", "electronic")


# ---------------------------------------------------------------- the sandbox
def test_sandbox_records_carry_the_fields_in_their_own_codes():
    from core.departments import departments
    from sandbox.generator import SOURCES, GeneratorConfig, generate

    data = generate(GeneratorConfig(start=dt.date(2026, 11, 2), days=10, cases_per_day=40))
    for system, declared in departments().items():
        if system not in SOURCES:  # the 企业开办 platform's export gives the channel alone, always
            continue
        field = declared.mapping.fields["submission_channel"]
        given = [r.get(field) for r in data.records(system)]
        known = [g for g in given if g]
        assert 0.6 < len(known) / len(given) < 1.0, system  # most say it, some leave it out
        listed = sum(g in declared.mapping.channels for g in known)
        assert listed / len(known) > 0.95, system  # a few codes the declaration does not list
        for column in ("delivery_method", "accepting_place", "approval_mode"):
            codes = getattr(declared.mapping, {"delivery_method": "deliveries", "accepting_place": "places",
                                               "approval_mode": "approval_modes"}[column])  # fmt: skip
            values = {r.get(declared.mapping.fields[column]) for r in data.records(system)} - {None, ""}
            assert values <= set(codes), (system, column)
    market = data.records("market_regulation")
    remote = sum(r.get("SBQD") in ("02", "03") and r.get("SDFS") in ("2", "3") for r in market)
    determinable = sum(bool(r.get("SBQD")) and bool(r.get("SDFS")) for r in market)
    assert 0.6 <= remote / determinable <= 0.8  # market regulation: mostly not in person


def test_a_warehouse_of_an_earlier_release_gains_the_new_columns(tmp_path):
    """golden_cases and staged_cases built before issue 15: opening the warehouse adds the four columns (NULL:
    not known), and the rows already there stay."""
    from core.warehouse import create_tables

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE golden_cases (golden_case_id VARCHAR(32) PRIMARY KEY, status VARCHAR(16))"))
        conn.execute(sa.text("INSERT INTO golden_cases VALUES ('GC1', '受理')"))
    create_tables(engine)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("golden_cases")}
    assert {"submission_channel", "delivery_method", "accepting_place", "approval_mode"} <= columns
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT status, submission_channel FROM golden_cases")).one()
    assert tuple(row) == ("受理", None)
    engine.dispose()
