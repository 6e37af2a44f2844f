"""The licence repository on hand-made examples: history transitions, one licence across sources, holders linked
through a mistyped identifier, daily expiry, and the reuse mart."""

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from core.warehouse import Warehouse, insert_frame
from licensing.repository import (
    awaiting_holder,
    case_events,
    event_rows,
    feed_events,
    link_holders,
    number_licences,
    refold,
)
from reporting.reuse import availability, licence_reuse, material_reuse
from schemas.identifiers import is_valid_licence_identifier, make_uscc, ric_check_char
from schemas.licences import required_materials
from schemas.warehouse import holder_codes, holders, licence_events, licences

pytestmark = pytest.mark.unit

COMPANY = make_uscc("91320412", "10000001")
BUSINESS = "11100000MB0143028R001"
FOOD = "000105001000"
RENAMED = "常州恒达集团有限公司"  # each registry row is the licence as it stood after the event
NOW = dt.datetime(2026, 11, 20, 12)
TODAY = NOW.date()


def _mistyped(code: str) -> str:
    return code[:5] + ("0" if code[5] != "0" else "1") + code[6:]


def _feed(*rows: dict) -> pd.DataFrame:
    base = {"ZZMC": "营业执照", "ZZLXDM": BUSINESS, "ZZBH": COMPANY, "CZZT": "常州恒达科技有限公司", "CZZTDM": COMPANY,
            "CZZTDMLX": "001", "FZRQ": "2026-11-16", "YXQQ": "2026-11-16", "YXQZ": "", "ZZZT": "01"}  # fmt: skip
    payloads = [json.dumps({**base, **r}, ensure_ascii=False) for r in rows]
    return pd.DataFrame({"payload": payloads})


def _case(golden: str, item: str, completed: str | None, applicant_id: str = COMPANY, **extra) -> dict:
    done = pd.Timestamp(completed) if completed else pd.NaT
    return {"golden_case_id": golden, "item_code": item, "applicant_name": "常州恒达科技有限公司",
            "applicant_id": applicant_id, "status": "办结" if completed else "受理",
            "submitted_at": pd.Timestamp("2026-11-16 09:00"), "completed_at": done, **extra}  # fmt: skip


def _load(warehouse: Warehouse, events: pd.DataFrame, partition: dt.date, today: dt.date = TODAY) -> pd.DataFrame:
    with warehouse.begin() as conn:
        new = number_licences(link_holders(conn, events, NOW))
        insert_frame(conn, licence_events, event_rows(new, partition, NOW))
        return refold(conn, new["licence_key"].tolist(), today, NOW)


def test_history_transitions_fold_into_the_current_row(warehouse):
    events = feed_events(
        _feed(
            {"JLBH": "R1", "CZLX": "01", "CZSJ": "2026-11-16 10:00:00"},
            {"JLBH": "R2", "CZLX": "09", "CZSJ": "2026-11-17 10:00:00", "CZZT": RENAMED},
            {"JLBH": "R3", "CZLX": "03", "CZSJ": "2026-11-18 10:00:00", "ZZZT": "02", "CZZT": RENAMED},
        ),
        "market_regulation",
    )
    changed = _load(warehouse, events, dt.date(2026, 11, 18))
    row = changed.iloc[0]
    assert (row["holder_name"], row["status"], row["version"]) == ("常州恒达集团有限公司", "暂扣", 1)
    assert row["issue_date"] == dt.date(2026, 11, 16) and is_valid_licence_identifier(row["licence_id"])

    reinstated = feed_events(
        _feed({"JLBH": "R4", "CZLX": "06", "CZSJ": "2026-11-19 10:00:00", "CZZT": RENAMED}), "market_regulation"
    )
    assert _load(warehouse, reinstated, dt.date(2026, 11, 19)).iloc[0]["status"] == "有效"
    revoked = feed_events(
        _feed({"JLBH": "R5", "CZLX": "07", "CZSJ": "2026-11-20 10:00:00", "CZZT": RENAMED}), "market_regulation"
    )
    final = _load(warehouse, revoked, dt.date(2026, 11, 20)).iloc[0]
    assert final["status"] == "吊销" and final["version"] == 3  # one version per change of content
    history = warehouse.read("SELECT event FROM licence_events ORDER BY effective_date")["event"].tolist()
    assert history == ["issued", "changed", "suspended", "reinstated", "revoked"]
    assert warehouse.scalar("SELECT COUNT(*) FROM licences") == 1


def test_renewal_moves_validity_and_expiry_applies_past_the_end_date(warehouse):
    issued = case_events(pd.DataFrame([_case("GC1", FOOD, "2021-03-01 10:00")]))
    with warehouse.begin() as conn:
        new = number_licences(link_holders(conn, issued, NOW))
        insert_frame(conn, licence_events, event_rows(new, dt.date(2021, 3, 1), NOW))
        current = refold(conn, new["licence_key"].tolist(), dt.date(2026, 3, 1), NOW).iloc[0]
    assert current["valid_to"] == dt.date(2026, 2, 28) and current["status"] == "过期失效"  # 5 years, then expired
    assert current["licence_no"].startswith("JY2320412")
    renewed = new.assign(event="renewed", source="market_regulation", source_ref="R9",
                         effective_date=dt.date(2026, 2, 20), valid_from=dt.date(2026, 3, 1),
                         valid_to=dt.date(2031, 2, 28))  # fmt: skip
    with warehouse.begin() as conn:
        insert_frame(conn, licence_events, event_rows(renewed, dt.date(2026, 2, 20), NOW))
        current = refold(conn, new["licence_key"].tolist(), dt.date(2026, 3, 1), NOW).iloc[0]
    assert current["status"] == "有效" and current["valid_to"] == dt.date(2031, 2, 28)
    assert current["issue_date"] == dt.date(2021, 3, 1)  # the first issuance stands


def test_one_licence_across_sources_with_a_mistyped_holder_code(warehouse):
    from_case = case_events(pd.DataFrame([_case("GC1", "000102001000", "2026-11-16 15:00")]))
    # The registry typed the holder's code with one wrong character; the number (the USCC itself) is right.
    from_feed = feed_events(
        _feed({"JLBH": "R1", "CZLX": "01", "CZSJ": "2026-11-16 16:00:00", "CZZTDM": _mistyped(COMPANY)}),
        "market_regulation",
    )
    _load(warehouse, from_case, dt.date(2026, 11, 16))
    _load(warehouse, from_feed, dt.date(2026, 11, 16))
    rows = warehouse.read(sa.select(licences))
    assert len(rows) == 1
    assert rows["sources"].iloc[0] == "case,market_regulation" and rows["golden_case_id"].iloc[0] == "GC1"
    assert rows["licence_no"].iloc[0] == COMPANY and rows["holder_code"].iloc[0] == COMPANY
    spellings = warehouse.read(sa.select(holder_codes)).set_index("code")["how"].to_dict()
    assert spellings == {COMPANY: "identifier", _mistyped(COMPANY): "resolved"}
    assert warehouse.scalar("SELECT COUNT(*) FROM holders") == 1
    assert warehouse.read(sa.select(holders))["holder_code"].tolist() == [COMPANY]


def test_a_mistyped_code_finds_a_holder_written_before_names_were_keyed(warehouse):
    # A warehouse of an earlier release: its holders have no name_key (the column came with a later release, and
    # a mistyped code is looked up by it, not among every holder). The first lookup keys them, then matches.
    _load(warehouse, case_events(pd.DataFrame([_case("GC1", "000102001000", "2026-11-16 15:00")])), TODAY)
    other = make_uscc("91320412", "10000002")  # another company, another name: never the mistyped one's holder
    _load(warehouse, case_events(pd.DataFrame([_case("GC2", "000102001000", "2026-11-16 15:00", other,
                                                     applicant_name="常州远航物流有限公司")])), TODAY)  # fmt: skip
    with warehouse.begin() as conn:
        conn.execute(holders.update().values(name_key=None))
    typed = {"JLBH": "R1", "CZLX": "01", "CZSJ": "2026-11-16 16:00:00", "CZZTDM": _mistyped(COMPANY)}
    _load(warehouse, feed_events(_feed(typed), "market_regulation"), TODAY)
    spellings = warehouse.read(sa.select(holder_codes)).set_index("code")["how"].to_dict()
    assert spellings[_mistyped(COMPANY)] == "resolved"
    keys = warehouse.read(sa.select(holders.c.holder_code, holders.c.name_key)).set_index("holder_code")["name_key"]
    assert keys.notna().all() and keys[COMPANY] != keys[other]
    assert warehouse.scalar("SELECT COUNT(*) FROM licences") == 2


def test_a_change_loaded_before_the_issuance_leaves_a_licence_in_force(warehouse):
    # A backfill's weeks may load out of order: the rename arrives before the issuance it changes.
    change = {"JLBH": "R2", "CZLX": "09", "CZSJ": "2026-11-17 10:00:00", "CZZT": RENAMED}
    first = _load(warehouse, feed_events(_feed(change), "market_regulation"), dt.date(2026, 11, 17))
    assert first["status"].tolist() == ["有效"] and first["holder_name"].tolist() == [RENAMED]
    issuance = {"JLBH": "R1", "CZLX": "01", "CZSJ": "2026-11-16 10:00:00"}
    _load(warehouse, feed_events(_feed(issuance), "market_regulation"), dt.date(2026, 11, 16))
    current = warehouse.read(sa.select(licences))
    assert current["status"].tolist() == ["有效"] and current["holder_name"].tolist() == [RENAMED]  # later wins
    assert warehouse.scalar("SELECT COUNT(*) FROM licence_events") == 2


def test_a_completed_case_without_the_holders_identifier_waits_for_it():
    # A clerk re-typed a completed case without the applicant's identifier, before the department's record came.
    cases = pd.DataFrame([_case("GC1", "000102001000", "2026-11-16 15:00", applicant_id=None)])
    assert case_events(cases).empty and awaiting_holder(cases) == 1
    # The department's record links: the golden case has the identifier, and the licence is issued.
    cases["applicant_id"] = COMPANY
    assert len(case_events(cases)) == 1 and awaiting_holder(cases) == 0


def test_individual_business_licence_carries_its_own_uscc(warehouse):
    person = "32041219850312001" + ric_check_char("32041219850312001")
    events = case_events(pd.DataFrame([_case("GC7", "000102002000", "2026-11-16 15:00", applicant_id=person)]))
    row = _load(warehouse, events, dt.date(2026, 11, 16)).iloc[0]
    assert row["holder_code"] == person and row["holder_code_type"] == "111"
    assert row["licence_no"].startswith("92320412") and len(row["licence_no"]) == 18


def test_reuse_mart_on_hand_made_applications():
    spans = availability(
        pd.DataFrame(
            {
                "licence_key": ["LC1", "LC2"],
                "holder_id": ["H1", "H2"],
                "licence_type_code": [BUSINESS, BUSINESS],
                "issue_date": [dt.date(2020, 1, 1), dt.date(2020, 1, 1)],
                "valid_to": [None, None],
            }
        ),
        pd.DataFrame({"licence_key": ["LC2"], "event": ["revoked"], "effective_date": [dt.date(2026, 3, 1)]}),
    )
    cases = pd.DataFrame(
        {
            "golden_case_id": ["A", "B", "C", "D"],
            "item_code": [FOOD, FOOD, FOOD, "000190001000"],
            "applicant_id": ["CODE1", "CODE2", "CODE3", "CODE1"],
            "submitted_at": pd.to_datetime(["2026-04-02", "2026-04-03", "2026-04-05", "2026-04-06"]),
        }
    )
    codes = pd.DataFrame({"code": ["CODE1", "CODE2"], "holder_id": ["H1", "H2"]})
    detail = material_reuse(cases, codes, spans, required_materials())
    food = detail[(detail["item_code"] == FOOD) & detail["is_licence"]].set_index("golden_case_id")
    assert food["available"].to_dict() == {"A": True, "B": False, "C": False}  # B's licence was revoked; C has none
    assert food.loc["A", "licence_key"] == "LC1"
    # From 2026 the investment filing no longer lists the business licence (the register's row closed in 2025).
    assert not detail[detail["golden_case_id"] == "D"]["is_licence"].any()
    monthly = licence_reuse(detail, pd.Series({FOOD: "食品经营许可", "000190001000": "企业投资项目备案"}))
    row = monthly.set_index("item_code").loc[FOOD]
    assert (row["applications"], row["materials_required"], row["licence_materials"]) == (3, 12, 3)
    assert (row["materials_not_needed"], row["applications_saved_a_material"]) == (1, 1)
    assert row["share_not_needed"] == pytest.approx(1 / 12, abs=1e-4)
