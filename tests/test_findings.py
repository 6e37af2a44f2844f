"""审管互动 findings on hand-made records: staged (codes mapped, bad records quarantined, 身份证号 masked past
staging), linked to holders (an unknown holder kept as unknown_holder) and licences (by number, else the holder's
licences of the type), suspensions and revocations folded into the licence's status (a suspension ends the day after
its end date), the state table accounted for, and mart_supervision_followup from hand-made approvals.

The records are written here by hand, independent of the sandbox's generator."""

import datetime as dt
import json

import pandas as pd
import pytest

from core.feeds import feed
from core.warehouse import Warehouse, insert_frame
from licensing.repository import (
    event_rows,
    feed_events,
    finding_events,
    link_findings,
    link_holders,
    number_licences,
    refold,
)
from reporting.definitions import SupervisionDefinitions
from reporting.supervision import finding_states, followup, newest_findings
from schemas.identifiers import make_uscc, ric_check_char
from schemas.warehouse import licence_events
from staging.findings import stage_findings

pytestmark = pytest.mark.unit

COMPANY = make_uscc("91320412", "10000001")
STRANGER = make_uscc("91320412", "20000002")
PERSON = "32041219800101123" + ric_check_char("32041219800101123")
BUSINESS = "11100000MB0143028R001"
SHOP = "11100000MB0143028R002"
DAY = dt.date(2026, 11, 16)
NOW = dt.datetime(2026, 11, 16, 23)


def _raw(*rows: dict) -> pd.DataFrame:
    base = {"JCJG": "", "XDRMC": "常州恒达科技有限公司", "ZZBH": "", "ZZLXDM": "", "JGBM": "武进区市场监督管理局",
            "JDRQ": "2026-11-16", "SXRQ": "", "JZRQ": "", "ZT": "0", "JARQ": "", "SY": "",
            "GXSJ": "2026-11-16 18:00:00"}  # fmt: skip
    records = [{**base, **r} for r in rows]
    return pd.DataFrame(
        {
            "record_key": [r.get("JGJGBH") or f"row{i}" for i, r in enumerate(records)],
            "payload": [json.dumps(r, ensure_ascii=False) for r in records],
        }
    )


def _licences(warehouse: Warehouse, today: dt.date = DAY) -> None:
    """A company's business licence (number = its USCC) and a shop keeper's, both issued by the registry."""
    rows = [
        {"JLBH": "R1", "ZZMC": "营业执照", "ZZLXDM": BUSINESS, "ZZBH": COMPANY, "CZZT": "常州恒达科技有限公司",
         "CZZTDM": COMPANY, "CZZTDMLX": "001"},
        {"JLBH": "R2", "ZZMC": "营业执照", "ZZLXDM": SHOP, "ZZBH": make_uscc("92320412", "30000003"),
         "CZZT": "武进区某某理发店", "CZZTDM": PERSON, "CZZTDMLX": "111"},
    ]  # fmt: skip
    base = {"FZRQ": "2026-11-02", "YXQQ": "2026-11-02", "YXQZ": "", "ZZZT": "01", "CZLX": "01",
            "CZSJ": "2026-11-02 10:00:00"}  # fmt: skip
    events = feed_events(
        pd.DataFrame({"payload": [json.dumps({**base, **r}, ensure_ascii=False) for r in rows]}), "market_regulation"
    )
    with warehouse.begin() as conn:
        new = number_licences(link_holders(conn, events, NOW))
        insert_frame(conn, licence_events, event_rows(new, dt.date(2026, 11, 2), NOW))
        refold(conn, new["licence_key"].tolist(), today, NOW)


def _fold_findings(warehouse: Warehouse, raw: pd.DataFrame, partition: dt.date, today: dt.date) -> pd.DataFrame:
    staged, _ = stage_findings(raw, feed("supervision_findings"), partition)
    with warehouse.begin() as conn:
        events = finding_events(link_findings(conn, staged), partition)
        insert_frame(conn, licence_events, event_rows(events, partition, NOW))
        refold(conn, events["licence_key"].tolist(), today, NOW)
    return warehouse.read("SELECT licence_no, holder_code, status, version FROM licences ORDER BY licence_type_code")


def test_records_are_staged_with_codes_mapped_and_bad_ones_quarantined():
    raw = _raw(
        {"JGJGBH": "F1", "JGLX": "01", "JCJG": "1", "XDRDM": COMPANY},
        {"JGJGBH": "F2", "JGLX": "99", "XDRDM": COMPANY},  # a kind the list lacks
        {"JGJGBH": "F3", "JGLX": "02", "XDRDM": ""},  # no holder code
        {"JGJGBH": "F4", "JGLX": "01", "XDRDM": COMPANY},  # an inspection without its result
        {"JGJGBH": "F5", "JGLX": "03", "XDRDM": PERSON, "SXRQ": "2026-11-10", "JZRQ": "2026-11-01"},  # ends first
        {"JGJGBH": "F6", "JGLX": "05", "XDRDM": PERSON[:6] + PERSON[8:17], "SY": "电话13912345678"},  # 15 digits
        {"JGJGBH": "F7", "JGLX": "04", "XDRDM": COMPANY, "JDRQ": "2026-11-20"},  # decided after it was pulled
    )
    staged, quarantined = stage_findings(raw, feed("supervision_findings"), DAY)
    assert list(staged["finding_id"]) == ["F1", "F6"]
    assert staged.loc[0, "kind"] == "inspection" and staged.loc[0, "result"] == "pass"
    assert staged.loc[1, "holder_code"] == PERSON  # a 15-digit 身份证号 upgraded
    assert "13912345678" not in staged.loc[1, "content"]
    reasons = dict(zip(quarantined["item_id"], quarantined["reason_code"], strict=True))
    assert reasons == {"F2": "unknown_kind", "F3": "missing_holder_code", "F4": "missing_result",
                       "F5": "ends_before_effective", "F7": "decided_after_pulled"}  # fmt: skip


def test_a_revocation_and_a_suspension_change_the_licence_status_and_the_suspension_ends(warehouse):
    _licences(warehouse)
    raw = _raw(
        # revoked by number
        {"JGJGBH": "F1", "JGLX": "04", "XDRDM": COMPANY, "ZZBH": COMPANY, "ZZLXDM": BUSINESS},
        # suspended by type (no number), 16th to 20th
        {"JGJGBH": "F2", "JGLX": "03", "XDRDM": PERSON, "ZZLXDM": SHOP, "SXRQ": "2026-11-16", "JZRQ": "2026-11-20"},
    )
    after = _fold_findings(warehouse, raw, DAY, DAY)
    assert list(after["status"]) == ["吊销", "暂扣"] and list(after["version"]) == [2, 2]
    with warehouse.begin() as conn:  # the day after the end date: the daily run refolds it, in force again
        keys = warehouse.read("SELECT licence_key FROM licences", conn)["licence_key"].tolist()
        refold(conn, keys, dt.date(2026, 11, 21), NOW)
    final = warehouse.read("SELECT status FROM licences ORDER BY licence_type_code")["status"].tolist()
    assert final == ["吊销", "有效"]
    history = warehouse.read("SELECT event, source FROM licence_events WHERE source = 'supervision'")
    assert sorted(history["event"]) == ["reinstated", "revoked", "suspended"]


def test_a_revocation_effective_later_waits_for_its_day(warehouse):
    _licences(warehouse)
    raw = _raw({"JGJGBH": "F1", "JGLX": "04", "XDRDM": COMPANY, "ZZBH": COMPANY, "SXRQ": "2026-11-25"})
    assert _fold_findings(warehouse, raw, DAY, DAY)["status"].tolist() == ["有效", "有效"]
    with warehouse.begin() as conn:
        keys = warehouse.read("SELECT licence_key FROM licences", conn)["licence_key"].tolist()
        refold(conn, keys, dt.date(2026, 11, 25), NOW)
    assert warehouse.read("SELECT status FROM licences ORDER BY licence_type_code")["status"].tolist()[0] == "吊销"


def test_findings_link_to_holders_and_an_unknown_holder_is_kept_and_masked(warehouse):
    _licences(warehouse)
    raw = _raw(
        {"JGJGBH": "F1", "JGLX": "01", "JCJG": "2", "XDRDM": COMPANY},
        {"JGJGBH": "F2", "JGLX": "02", "XDRDM": STRANGER},
        {"JGJGBH": "F3", "JGLX": "05", "XDRDM": PERSON},
        {"JGJGBH": "F3", "JGLX": "05", "XDRDM": PERSON, "GXSJ": "2026-11-16 19:00:00"},  # sent twice
        {"JGJGBH": "F4", "JGLX": "77", "XDRDM": PERSON},
    )
    staged, quarantined = stage_findings(raw, feed("supervision_findings"), DAY)
    staged = staged.assign(partition_date=DAY)
    with warehouse.begin() as conn:
        linked = link_findings(conn, newest_findings(staged))
    states = finding_states(linked, quarantined.assign(partition_date=DAY), DAY).set_index("finding_id")
    assert states["status"].to_dict() == {"F1": "linked", "F2": "unknown_holder", "F3": "linked", "F4": "quarantined"}
    assert states.loc["F3", "holder_code"] == PERSON[:6] + "********" + PERSON[-4:]  # masked past staging
    assert states.loc["F1", "holder_code"] == COMPANY  # a USCC is public
    assert states.loc["F3", "records"] == 2
    assert bool(states.loc["F3", "in_force"]) and not bool(states.loc["F1", "in_force"])  # an inspection is an event
    assert states.loc["F2", "note"] == "no holder is known by this code"


def test_the_followup_mart_counts_inspections_and_untrue_commitments():
    approvals = pd.DataFrame(
        [
            ("GC1", "market_regulation", "告知承诺", "2026-10-05 10:00", "H1", "L1", SHOP),
            ("GC2", "market_regulation", "告知承诺", "2026-10-08 10:00", "H2", "L2", SHOP),
            ("GC3", "market_regulation", "审批", "2026-10-09 10:00", "H3", None, None),
            ("GC4", "health", "容缺受理", "2026-10-20 10:00", "H4", "L4", BUSINESS),
        ],
        columns=["golden_case_id", "handling_dept", "approval_mode", "completed_at", "holder_id", "licence_key",
                 "licence_type_code"],
    )  # fmt: skip
    found = pd.DataFrame(
        [
            ("H1", "inspection", "fail", None, SHOP, dt.date(2026, 10, 20)),  # of its type: inspected, untrue
            ("H2", "inspection", "pass", "L2", SHOP, dt.date(2026, 11, 1)),  # on its licence: inspected
            ("H3", "inspection", "pass", None, None, dt.date(2026, 9, 1)),  # before the approval: not counted
            ("H4", "commitment_untrue", None, None, None, dt.date(2026, 10, 25)),  # not a 告知承诺 approval
        ],
        columns=["holder_id", "kind", "result", "licence_key", "licence_type_code", "decided_date"],
    )
    mart = followup(approvals, found, SupervisionDefinitions(inspection_window_days=60), DAY)
    rows = mart.set_index(["handling_dept", "approval_mode"])
    promised = rows.loc[("market_regulation", "告知承诺")]
    assert (promised["approvals"], promised["inspected"], promised["inspections_failed"]) == (2, 2, 1)
    assert promised["found_untrue"] == 1 and promised["inspected_share"] == 1.0
    assert rows.loc[("market_regulation", "审批"), "inspected"] == 0
    assert rows.loc[("health", "容缺受理"), "found_untrue"] == 0
    narrow = followup(approvals, found, SupervisionDefinitions(inspection_window_days=10), DAY)
    assert narrow.set_index(["handling_dept", "approval_mode"]).loc[("market_regulation", "告知承诺"), "inspected"] == 0


def test_a_holder_code_in_many_findings_links_every_one(warehouse):
    """Findings are looked up 500 codes at a time: one code in more than one chunk (a supervisor's 600 findings of
    one company among others) must link each finding once, not stop the day on a duplicated lookup."""
    _licences(warehouse)
    strangers = [make_uscc("91320412", f"{40000000 + i:08d}") for i in range(600)]
    raw = _raw(
        *(
            {"JGJGBH": f"F{i}", "JGLX": "01", "JCJG": "1", "XDRDM": COMPANY if i % 2 == 0 else strangers[i // 2]}
            for i in range(1200)
        )
    )
    staged, _ = stage_findings(raw, feed("supervision_findings"), DAY)
    with warehouse.begin() as conn:
        linked = link_findings(conn, newest_findings(staged.assign(partition_date=DAY)))
    assert len(linked) == 1200
    by_code = linked.groupby(linked["holder_id"].isna())["holder_code"].nunique()
    assert by_code.to_dict() == {False: 1, True: 600}  # every company finding linked, the strangers unknown


def _one_finding_at_a_time(found: pd.DataFrame, held: pd.DataFrame) -> tuple[list, list]:
    """The rule as it reads, one finding at a time (how ``link_findings`` did it before the joins)."""
    from licensing.repository import IN_FORCE
    from schemas.identifiers import normalize_code_series

    held = held.assign(number=normalize_code_series(held["licence_no"].astype("string")))
    numbers = normalize_code_series(found["licence_no"].astype("string"))
    keys, how = [], []
    for holder, number, type_code in zip(found["holder_id"], numbers, found["licence_type_code"], strict=True):
        mine = held[held["holder_id"] == holder] if pd.notna(holder) else held.iloc[0:0]
        by_number = mine[mine["number"] == number] if pd.notna(number) else mine.iloc[0:0]
        if len(by_number):
            keys.append(sorted(by_number["licence_key"]))
            how.append("number")
            continue
        of_type = mine[mine["licence_type_code"] == type_code] if pd.notna(type_code) and type_code else mine.iloc[0:0]
        in_force = of_type[of_type["status"].isin(IN_FORCE)]
        chosen = in_force if len(in_force) else of_type
        keys.append(sorted(chosen["licence_key"]))
        how.append("type" if len(chosen) else "none")
    return keys, how


def test_findings_match_licences_by_joins_as_the_rule_reads():
    """By number (even one the holder holds twice), else by type preferring those in force, else none; a finding
    of an unknown holder, without number or type, or of a holder with no licences matches none."""
    from licensing.repository import match_licences

    held = pd.DataFrame(
        [
            ("H1", "L1", "JY13204120000001", "食品经营许可证", "有效"),
            ("H1", "L2", "JY13204120000002", "食品经营许可证", "注销"),
            ("H1", "L3", "JY13204120000002", "食品经营许可证", "有效"),  # one number on two licences
            ("H1", "L4", "X-9", "卫生许可证", "注销"),
            ("H1", "L5", "X-10", "卫生许可证", "过期"),
            ("H2", "L6", "JY13204120000001", "食品经营许可证", "暂扣"),  # another holder's same number
            ("H2", "L7", "Y-1", "营业执照", "有效"),
        ],
        columns=["holder_id", "licence_key", "licence_no", "licence_type_code", "status"],
    )
    found = pd.DataFrame(
        [
            ("H1", "JY13204120000001", "食品经营许可证"),  # number
            ("H1", "jy1320412 0000002", None),  # number, written loosely, two licences
            ("H1", "JY-404", "食品经营许可证"),  # no such number: by type, those in force
            ("H1", None, "卫生许可证"),  # by type, none in force: all of the type
            ("H1", None, "营业执照"),  # the holder has none of the type
            ("H1", None, None),  # neither number nor type
            ("H1", "", ""),
            ("H2", "JY13204120000001", "卫生许可证"),  # the number is this holder's, not H1's
            ("H2", None, "食品经营许可证"),  # suspended counts as in force
            (None, "JY13204120000001", "食品经营许可证"),  # unknown holder
            ("H3", "JY13204120000001", "食品经营许可证"),  # a holder with no licences
        ],
        columns=["holder_id", "licence_no", "licence_type_code"],
    ).astype("string")
    keys, how = match_licences(found, held)
    expected_keys, expected_how = _one_finding_at_a_time(found, held)
    assert [list(k) for k in keys] == expected_keys
    assert list(how) == expected_how
    assert expected_how == [
        "number",
        "number",
        "type",
        "type",
        "none",
        "none",
        "none",
        "number",
        "type",
        "none",
        "none",
    ]
    assert expected_keys[1] == ["L2", "L3"] and expected_keys[2] == ["L1", "L3"] and expected_keys[3] == ["L4", "L5"]
    empty = held.iloc[0:0]
    assert [list(k) for k in match_licences(found, empty)[0]] == [[]] * len(found)
