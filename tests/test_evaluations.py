"""好差评 evaluations: the declaration, staging with quarantine, linking by 办件编号 (late, never, ambiguous), the
evaluation that stands for a case, 差评 deadlines counted by hand on the 2026 calendar, and the monthly mart.

The records here are written from the research note's field list (../shared/research/exchange-formats.md §5),
not from the declaration, so a wrong mapping shows."""

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from core.departments import DeclarationError, read_model
from core.feeds import Feed, feed
from core.warehouse import Warehouse, insert_frame
from reporting.definitions import EvaluationDefinitions
from reporting.evaluations import evaluation_states, follow_up, monthly_evaluations
from resolution.evaluations import link, newest_states, standing
from schemas.feeds import EVALUATION_CHANNEL_LABELS, LEVEL_LABELS
from schemas.warehouse import staged_cases, staged_evaluations
from schemas.workdays import calendar
from staging.evaluations import stage_evaluations
from staging.normalise import stage_partition
from tests.test_codelists import read_contract
from tests.test_staging import GOOD_MARKET, MR, _raw

FEED = "evaluations"


def record(evaluation_id: str, number: str, **given) -> dict:
    """One evaluation as the 好差评 interface writes it (satisfaction 5 = 非常满意, pf 4 = 大厅平板)."""
    return {
        "evaluateId": evaluation_id,
        "projectNo": number,
        "satisfaction": "5",
        "pf": "4",
        "assessTime": "2026-11-17 10:00:00",
        "assessNumber": "1",
        "updateTime": "2026-11-17 10:00:00",
        **given,
    }


def raw(*records: dict) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_key": [r.get("evaluateId") or f"page1#{i}" for i, r in enumerate(records)],
            "payload": [json.dumps(r, ensure_ascii=False) for r in records],
        }
    )


@pytest.mark.unit
def test_a_declaration_with_a_code_outside_the_vocabulary_is_refused_naming_the_file(tmp_path):
    document = (feed(FEED).model_dump_json()).replace('"very_satisfied"', '"delighted"')
    path = tmp_path / "evaluations.yaml"
    path.write_text(document, encoding="utf-8")  # JSON is YAML
    with pytest.raises(DeclarationError, match=r"evaluations.yaml: .*codes.level map onto \[.delighted.\]"):
        read_model(path, Feed)
    without_level = json.loads(feed(FEED).model_dump_json())
    del without_level["fields"]["level"]
    path.write_text(json.dumps(without_level), encoding="utf-8")
    with pytest.raises(DeclarationError, match=r"fields must map \['level'\]"):
        read_model(path, Feed)


@pytest.mark.unit
def test_staging_maps_the_feeds_codes_and_quarantines_what_cannot_be_used():
    staged, quarantined = stage_evaluations(
        raw(
            record("E1", MR[1], writingEvaluation="请回电 138 1234 5678，身份证320412198001011234"),
            record("E2", MR[2], satisfaction="1", pf="7"),
            record("E3", MR[3], satisfaction="9"),  # a level the list lacks
            record("E4", ""),  # no 办件编号
            record("E5", MR[5], assessTime="2026-13-45 10:00:00"),
            record("E6", MR[6], assessTime="2026-11-20 10:00:00"),  # after the day it was pulled
            record("", MR[7]),  # no id
        ),
        feed(FEED),
        dt.date(2026, 11, 17),
    )
    assert list(staged["evaluation_id"]) == ["E1", "E2"]
    assert list(staged["level"]) == ["very_satisfied", "very_dissatisfied"]
    assert list(staged["channel"]) == ["window_device", "sms"]  # pf 7 短信 (GB/T 39046 table 9's seventh)
    assert "1234 5678" not in staged.loc[0, "text"] and "198001011234" not in staged.loc[0, "text"]
    assert staged.loc[0, "text"].startswith("请回电 138****5678")
    reasons = dict(zip(quarantined["item_id"].fillna("(none)"), quarantined["reason_code"], strict=True))
    assert reasons == {
        "E3": "unknown_level",
        "E4": "missing_case_no",
        "E5": "invalid_evaluated_at",
        "E6": "evaluated_after_pulled",
        "(none)": "missing_evaluation_id",
    }
    assert quarantined["reason"].str.len().min() > 10 and quarantined["source_system"].eq(FEED).all()


#: How the two implementations spell three of GB/T 39046 table 9's channel names (contracts/haochaping): the same
#: channel, in the same place of the list.
SPELLINGS = {"pc端": "PC端", "移动端": "移动服务端", "政务大厅自助终端": "政务大厅其他终端"}


@pytest.mark.unit
def test_the_feeds_channel_codes_are_table_9s_channels_in_its_order_as_both_implementations_number_them():
    """pf 6 must mean 电话 and 7 短信: the declaration's codes against the standard's list and two implementations."""
    table9 = read_contract("gbt39046/table9_evaluation_channel.csv", key="position", value="name")
    implementations = [read_contract("haochaping/pf_21999586137.csv"), read_contract("haochaping/pf_44730132202.csv")]
    channels = feed(FEED).code_map("channel")
    assert sorted(channels) == sorted(table9)  # every channel of the standard has its code, and nothing else (no 8)
    for code, canonical in channels.items():
        assert EVALUATION_CHANNEL_LABELS[canonical] == table9[code], f"pf {code} is {table9[code]} in table 9"
        for published in implementations:
            assert SPELLINGS.get(published[code], published[code]) == table9[code]
    assert channels["6"] == "phone" and channels["7"] == "sms"


@pytest.mark.unit
def test_a_provinces_own_channel_codes_are_a_named_override_held_against_its_source(tmp_path):
    declared = feed(FEED)
    assert declared.apply_override is None  # the national list is in force
    zhejiang = declared.code_overrides["zhejiang"]
    published = read_contract("haochaping/pf_zhejiang_3417401498.csv")
    assert "3417401498" in zhejiang.source and zhejiang.province == "浙江省"
    for code, canonical in zhejiang.codes["channel"].items():
        assert EVALUATION_CHANNEL_LABELS[canonical] == published[code]
    # in force, the override replaces only the codes it gives
    document = json.loads(declared.model_dump_json())
    path = tmp_path / "evaluations.yaml"
    path.write_text(json.dumps({**document, "apply_override": "zhejiang"}), encoding="utf-8")
    applied = read_model(path, Feed).code_map("channel")
    assert (applied["6"], applied["7"], applied["4"]) == ("sms", "default", "window_device")
    path.write_text(json.dumps({**document, "apply_override": "jiangsu"}), encoding="utf-8")
    with pytest.raises(DeclarationError, match=r"apply_override: 'jiangsu' is not one of code_overrides \(zhejiang\)"):
        read_model(path, Feed)


@pytest.mark.unit
def test_both_level_numberings_are_held_against_their_published_lists():
    """The feed's 1 非常不满意 … 5 非常满意 (好差评 interfaces) and the receivers' GB/T 39046 A.8 1 非常满意 … 5."""
    from schemas.codelists import code_table

    levels = feed(FEED).code_map("level")
    for published in ("haochaping/satisfaction_zhejiang_3417401498.csv", "haochaping/apprate_12111867854.csv"):
        meanings = read_contract(published)
        assert {code: LEVEL_LABELS[level] for code, level in levels.items()} == meanings
    a8 = read_contract("gbt39046/a8_satisfaction.csv")
    national = code_table("satisfaction")
    for profile in ("national", "municipal"):
        assert {row[profile]: LEVEL_LABELS[level] for level, row in national.iterrows()} == a8
    assert levels["1"] == "very_dissatisfied" and national.loc["very_dissatisfied", "national"] == "5"


def _records(*rows: tuple) -> pd.DataFrame:
    """(id, case_no, level, round, evaluated_at, partition_date, changed_at) → staged_evaluations rows."""
    return pd.DataFrame(
        [
            {
                "source_system": FEED,
                "evaluation_id": e,
                "record_key": f"{e}@{c}",
                "case_no": n,
                "level": lv,
                "channel": "app",
                "round": r,
                "evaluated_at": pd.Timestamp(at),
                "partition_date": dt.date.fromisoformat(p),
                "changed_at": c,
            }
            for e, n, lv, r, at, p, c in rows
        ]
    )


@pytest.mark.unit
def test_linking_takes_each_evaluations_newest_state_and_never_guesses_between_cases():
    records = _records(
        ("E1", "N1", "dissatisfied", "first", "2026-11-02 10:00", "2026-11-02", "2026-11-02 10:00"),
        ("E1", "N1", "dissatisfied", "first", "2026-11-02 10:00", "2026-11-03", "2026-11-03 09:00"),  # handled
        ("E2", "N1", "satisfied", "added", "2026-11-04 10:00", "2026-11-04", "2026-11-04 10:00"),  # 追加评价
        ("E3", "N2", "satisfied", "first", "2026-11-02 10:00", "2026-11-02", "2026-11-02 10:00"),
        ("E4", "N3", "satisfied", "first", "2026-11-02 10:00", "2026-11-02", "2026-11-02 10:00"),
    )
    numbers = pd.DataFrame(
        {"case_no": ["N1", "N1-old", "N2", "N2"], "golden_case_id": ["G1", "G1", "G2", "G9"]}  # N2 names two cases
    )
    newest = newest_states(records)
    assert newest.set_index("evaluation_id").loc["E1", "records"] == 2
    assert str(newest.set_index("evaluation_id").loc["E1", "partition_date"]) == "2026-11-03"
    linked = link(newest, numbers).set_index("evaluation_id")
    assert linked.loc["E1", "golden_case_id"] == "G1" and linked.loc["E2", "golden_case_id"] == "G1"
    assert pd.isna(linked.loc["E3", "golden_case_id"]) and "names 2 cases" in linked.loc["E3", "note"]
    assert pd.isna(linked.loc["E4", "golden_case_id"]) and "has arrived yet" in linked.loc["E4", "note"]
    stands = standing(linked.reset_index())
    assert list(linked.reset_index().loc[stands, "evaluation_id"]) == ["E2"]  # the added evaluation stands


@pytest.mark.unit
def test_a_poor_evaluations_steps_are_due_in_working_days_counted_by_hand():
    # Evaluated Monday 2 November 2026. Working days after it: 3 (1st), 5 (3rd), then 6, 9–13, 16–20 and
    # 23 November is the 15th; 24–27 and 30 November the 20th. No holiday falls in between.
    states = evaluation_states(
        _records(("E1", "N1", "very_dissatisfied", "first", "2026-11-02 16:30", "2026-11-02", "a")).assign(
            received_at=pd.Timestamp("2026-11-03 09:00"),
            verified_at=pd.Timestamp("2026-11-06 09:00"),  # a day late
            rectified_at=pd.NaT,
            revisited_at=pd.NaT,
        ),
        pd.DataFrame(),
        pd.DataFrame({"case_no": ["N1"], "golden_case_id": ["G1"]}),
    )
    settings = EvaluationDefinitions()
    on_the_23rd = follow_up(states, calendar(), settings, dt.date(2026, 11, 23)).iloc[0]
    assert [str(on_the_23rd[f"{s}_due"]) for s in ("received", "verified", "rectified", "revisited")] == [
        "2026-11-03",
        "2026-11-05",
        "2026-11-23",
        "2026-11-30",
    ]
    assert on_the_23rd["follow_up"] == "open"  # rectification is due today, not yet past
    assert follow_up(states, calendar(), settings, dt.date(2026, 11, 24)).iloc[0]["follow_up"] == "overdue"
    done = states.assign(rectified_at=pd.Timestamp("2026-11-20 17:00"), revisited_at=pd.Timestamp("2026-11-25 10:00"))
    assert follow_up(done, calendar(), settings, dt.date(2026, 12, 1)).iloc[0]["follow_up"] == "closed_late"


@pytest.mark.unit
def test_the_monthly_mart_counts_levels_rates_and_coverage_by_its_definitions():
    records = _records(
        ("E1", "N1", "very_satisfied", "first", "2026-11-02 10:00", "2026-11-02", "a"),
        ("E2", "N2", "basic", "first", "2026-11-03 10:00", "2026-11-03", "a"),
        ("E3", "N3", "dissatisfied", "first", "2026-11-03 11:00", "2026-11-03", "a"),
        ("E4", "N9", "satisfied", "first", "2026-11-04 10:00", "2026-11-04", "a"),  # waits: counted, not covered
    ).assign(received_at=pd.NaT, verified_at=pd.NaT, rectified_at=pd.NaT, revisited_at=pd.NaT)
    numbers = pd.DataFrame({"case_no": ["N1", "N2", "N3"], "golden_case_id": ["G1", "G2", "G3"]})
    golden = pd.DataFrame(
        {
            "golden_case_id": ["G1", "G2", "G3", "G4"],
            "handling_dept": "market_regulation",
            "item_code": "000102001000",
            "status": "办结",
            "completed_at": pd.to_datetime(["2026-11-02", "2026-11-02", "2026-11-03", "2026-11-03"]),
        }
    )
    states = follow_up(
        evaluation_states(records, pd.DataFrame(), numbers), calendar(), EvaluationDefinitions(), dt.date(2026, 11, 30)
    )
    mart = monthly_evaluations(states, golden, EvaluationDefinitions())
    total = mart[(mart["channel"] == "all") & (mart["handling_dept"] == "market_regulation")].iloc[0]
    assert (total["evaluations"], total["satisfied_count"], total["rated"]) == (3, 2, 3)
    assert total["satisfaction_rate"] == pytest.approx(2 / 3)
    assert (total["completed_cases"], total["evaluated_cases"], total["coverage"]) == (4, 3, 0.75)
    assert (total["poor"], total["poor_open"], total["poor_past_deadline"]) == (1, 1, 1)  # received was due 11-04
    waiting = mart[(mart["channel"] == "all") & (mart["handling_dept"] == "")].iloc[0]
    assert waiting["evaluations"] == 1 and waiting["satisfied_count"] == 1
    strict = EvaluationDefinitions(satisfied_levels=("very_satisfied", "satisfied"))
    assert monthly_evaluations(states, golden, strict).query("channel == 'all'")["satisfied_count"].sum() == 2


def _stage_case(warehouse: Warehouse, day: dt.date, **given) -> None:
    staged, quarantined = stage_partition(_raw(("market_regulation", dict(GOOD_MARKET, **given))))
    assert quarantined.empty
    with warehouse.begin() as conn:
        insert_frame(conn, staged_cases, staged.assign(partition_date=day))


def _stage_evaluations(warehouse: Warehouse, day: dt.date, *records: dict) -> None:
    staged, quarantined = stage_evaluations(raw(*records), feed(FEED), day)
    assert quarantined.empty
    with warehouse.begin() as conn:
        insert_frame(conn, staged_evaluations, staged.assign(partition_date=day))


@pytest.mark.integration
def test_a_late_evaluation_links_on_the_day_its_case_arrives_and_one_whose_case_never_comes_is_reported(tmp_path):
    """The issue's case: an evaluation pulled two days before its case links on that day's run, and goes to the
    receivers with the case; one for a case that never arrives waits, is counted, and is reported after a week."""
    from pipelines.feeds.checks import evaluations_waiting
    from pipelines.resolve.assets import resolve_partition
    from resolution.evaluations import number_index
    from schemas.warehouse import evaluations, outbox

    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    day = dt.date(2026, 11, 17)
    _stage_evaluations(
        warehouse,
        day,
        record("E-LATE", MR[1], satisfaction="4", assessTime="2026-11-17 09:00:00"),
        record("E-NEVER", MR[8], assessTime="2026-11-17 09:30:00"),
    )
    with warehouse.begin() as conn:
        resolve_partition(conn, day)
    _stage_case(
        warehouse, day + dt.timedelta(days=2), BLZT="05", BJSJ="2026-11-16 16:00:00", GXSJ="2026-11-19 10:00:00"
    )
    with warehouse.begin() as conn:
        resolve_partition(conn, day + dt.timedelta(days=1))
        resolve_partition(conn, day + dt.timedelta(days=2))
        states = evaluation_states(
            warehouse.read(sa.select(staged_evaluations), conn), pd.DataFrame(), number_index(conn)
        )
    states = follow_up(states, calendar(), EvaluationDefinitions(), day)
    by_id = states.set_index("evaluation_id")
    assert by_id.loc["E-LATE", "status"] == "linked" and by_id.loc["E-NEVER", "status"] == "waiting"
    assert (
        warehouse.scalar("SELECT partition_date FROM evaluation_links WHERE evaluation_id = 'E-LATE'") == "2026-11-19"
    )
    payloads = [
        json.loads(p)
        for p in warehouse.read(sa.select(outbox.c.payload).where(outbox.c.target == "one_network"))["payload"]
    ]
    assert [p.get("evaluation", {}).get("level") for p in payloads] == ["satisfied"]
    with warehouse.begin() as conn:
        insert_frame(conn, evaluations, states)
    from core import clock

    with clock.frozen(day + dt.timedelta(days=3)):
        assert evaluations_waiting(warehouse=warehouse).passed  # not yet a week
    with clock.frozen(day + dt.timedelta(days=9)):
        late = evaluations_waiting(warehouse=warehouse)
    assert not late.passed and late.metadata["evaluations"].value == 1
    warehouse.dispose()


@pytest.mark.unit
def test_the_evaluation_that_stands_goes_to_the_province_in_the_national_codes():
    """好差评 5 非常满意 … 1 非常不满意 arrive reversed from GB/T 39046 A.8 (1 非常满意 … 5 非常不满意)."""
    from connectors.province import case_rows, profile
    from tests.test_channel import _case

    evaluation = {"level": "very_dissatisfied", "channel": "app", "evaluated_at": "2026-11-18T10:00:00"}
    cases = pd.DataFrame([_case(1, evaluation=evaluation), _case(2, evaluation=None)])
    national, held = case_rows(cases, profile("national"))
    assert held.empty
    result = national["up_pro_result"].set_index("golden_case_id")["satisfaction"]
    assert result["GC1"] == "5" and pd.isna(result["GC2"])


@pytest.mark.unit
def test_the_completed_cases_are_summed_in_the_warehouse_as_in_memory(warehouse):
    """The asset sums completed and evaluated cases in SQL (``completed_cases``) instead of reading every
    completed case: the same mart as the sums made in memory from every case, on cases with the edges: completed
    without a completion time, an unknown department, a case evaluated twice, one linked only by a waiting state."""
    from reporting.evaluations import completed_cases
    from schemas.warehouse import evaluations, golden_cases

    golden = pd.DataFrame(
        {
            "golden_case_id": ["G1", "G2", "G3", "G4", "G5", "G6", "G7"],
            "handling_dept": [
                "market_regulation",
                "market_regulation",
                "housing",
                None,
                "housing",
                "housing",
                "housing",
            ],
            "item_code": "000102001000",
            "status": ["办结", "送达", "办结", "办结", "审查", "办结", "退件"],  # G7: returned, not completed
            "completed_at": pd.to_datetime(
                [
                    "2026-10-31 17:00",
                    "2026-11-02 09:00",
                    "2026-11-03 10:00",
                    "2026-11-03 11:00",
                    None,
                    None,
                    "2026-11-04 15:00",
                ]
            ),
        }
    )
    states = pd.DataFrame(
        {
            "source_system": "haochaping",
            "evaluation_id": ["E1", "E2", "E3", "E4"],
            "status": ["linked", "linked", "linked", "waiting"],
            "golden_case_id": ["G1", "G1", "G3", None],
            "level": "satisfied",
            "channel": "pc",
            "evaluated_at": pd.to_datetime(["2026-11-01", "2026-11-02", "2026-11-04", "2026-11-05"]),
            "first_partition": dt.date(2026, 11, 1),
            "partition_date": dt.date(2026, 11, 5),
            "records": 1,
            "stands": [False, True, True, True],
            "poor": False,
            "follow_up": None,
        }
    )
    rows = golden.assign(record_count=1, version=1, content_hash="h", first_partition=dt.date(2026, 10, 1))
    rows = rows.assign(updated_partition=dt.date(2026, 11, 5), updated_at=dt.datetime(2026, 11, 5))
    with warehouse.begin() as conn:
        insert_frame(conn, golden_cases, rows)
        insert_frame(conn, evaluations, states)
        summed = completed_cases(conn)
    in_memory = monthly_evaluations(states, golden, EvaluationDefinitions())
    evaluated = golden[golden["golden_case_id"].isin(states["golden_case_id"])]
    in_sql = monthly_evaluations(states, evaluated, EvaluationDefinitions(), summed)
    pd.testing.assert_frame_equal(in_sql, in_memory, check_dtype=False)
    assert summed.set_index(["month", "handling_dept"])["completed_cases"].to_dict() == {
        ("2026-10", "market_regulation"): 1,
        ("2026-11", "market_regulation"): 1,
        ("2026-11", "housing"): 1,
    }
