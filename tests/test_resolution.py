"""The resolution engine on small, hand-made Chinese examples, and the review round trip."""

import datetime as dt

import duckdb
import pandas as pd
import pytest

from core.warehouse import Warehouse
from resolution.engine import Engine, resolve
from resolution.golden import assign_golden_ids, build_golden_cases, roles
from resolution.review import decide, explain
from schemas.case import DEDUP_COLUMNS
from schemas.warehouse import case_links, staged_cases

pytestmark = pytest.mark.unit

COLUMNS = [c for c in DEDUP_COLUMNS if c not in ("case_no", "status")]
CO, CO_ID = "常州恒达科技有限公司", "9132041258558635XF"
ZHANG_WEI_ID = "11010519491231002X"
ADDR = "江苏省常州市武进区湖塘镇人民中路1号"


def cases(*rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS).astype(object)
    return frame.assign(case_no=frame["source_record_id"], status="受理")


def dept(
    record, item, name, ident, when, *, kind="legal_person", phone="13812345678", address=ADDR, item_name=None
) -> tuple:
    return ("market_regulation", record, item, item_name or "", kind, name, ident, phone, address, when)


def clerk(
    record, item, name, ident, when, *, kind="legal_person", phone="", address="武进区湖塘镇人民中路1号", item_name=""
) -> tuple:
    return ("approval_platform", record, item, item_name, kind, name, ident, phone, address, when)


def staged(frame: pd.DataFrame, checksum_ok=pd.NA) -> pd.DataFrame:
    """The hand-made cases as staged records: the columns survivorship reads, blank unless given."""
    extra = (
        "accepted_at",
        "decided_at",
        "completed_at",
        "promised_days",
        "statutory_days",
        "handling_dept",
        "applicant_id_kind",
    )
    return frame.assign(
        **dict.fromkeys(extra, pd.NA),
        applicant_id_checksum_ok=checksum_ok,
        golden_case_id=pd.NA,
        submitted_at=pd.to_datetime(frame["submitted_at"], format="mixed"),
    )


def groups(frame: pd.DataFrame, **kwargs) -> set[frozenset[str]]:
    result = resolve(frame, **kwargs)
    labels = pd.Series(result.cluster)
    return {frozenset(frame.loc[labels == c, "source_record_id"]) for c in labels.unique()}


def test_duckdb_distances_count_characters_not_bytes():
    # DuckDB 1.x compared UTF-8 bytes (levenshtein('张伟','张玮') = 3); the engine relies on 2.0's characters.
    assert duckdb.sql("SELECT levenshtein('张伟', '张玮'), jaro_winkler_similarity('张伟', '李强')").fetchall()[0] == (
        1,
        0,
    )


def test_homophone_name_typo_without_identifier_is_one_case():
    frame = cases(
        dept(
            "MR-1",
            "SCJG-ZSBA",
            "张伟",
            ZHANG_WEI_ID,
            "2026-11-16 09:00",
            kind="natural_person",
            item_name="诊所执业备案",
        ),
        clerk("AP-1", "000140002000", "张玮", "", "2026/11/16", kind="natural_person", phone="13812345678"),
    )
    assert groups(frame) == {frozenset({"MR-1", "AP-1"})}


@pytest.mark.parametrize(
    "typed_id",
    ["９１３２０４１２５８５５８６３５ＸＦ", "9132041258558653XF", "9132041258558636XF", "91320412 58558635xf"],
    ids=["full-width", "transposed digits", "one digit mistyped", "space and lower case"],
)
def test_identifier_typos_are_one_case(typed_id):
    frame = cases(
        dept("MR-1", "SCJG-QYSL", CO, CO_ID, "2026-11-16 09:00"),
        clerk("AP-1", "000102001000", "恒达科技有限公司", typed_id, "20261117"),
    )
    assert groups(frame) == {frozenset({"MR-1", "AP-1"})}


def test_blank_item_code_with_an_item_name_variant_is_one_case():
    frame = cases(
        dept("MR-1", "SCJG-SPJY", CO, CO_ID, "2026-11-16 09:00"),
        clerk("AP-1", "", "常州恒达科技有限责任公司", CO_ID, "2026年11月17日", item_name="食品经营许可证核发"),
    )
    assert groups(frame) == {frozenset({"MR-1", "AP-1"})}


def test_package_applications_on_one_day_stay_apart():
    shop, operator = "武进区湖塘镇张伟小吃店", ZHANG_WEI_ID
    frame = cases(
        dept("MR-1", "SCJG-GTSL", shop, operator, "2026-11-16 09:00", kind="natural_person"),
        dept("MR-2", "SCJG-SPJY", shop, operator, "2026-11-16 09:05", kind="natural_person"),
        dept("MR-3", "SCJG-XCYB", shop, operator, "2026-11-16 09:10", kind="natural_person"),
        clerk("AP-1", "000102002000", shop, operator, "2026-11-16", kind="natural_person"),
        clerk("AP-2", "", shop, operator, "2026-11-16", kind="natural_person", item_name="食品经营许可"),
        clerk("AP-3", "", shop, operator, "2026-11-17", kind="natural_person", item_name="小餐饮备案"),
    )
    assert groups(frame) == {frozenset({"MR-1", "AP-1"}), frozenset({"MR-2", "AP-2"}), frozenset({"MR-3", "AP-3"})}


def test_the_same_item_again_months_later_is_a_new_case():
    frame = cases(
        dept("MR-1", "SCJG-SPJY", CO, CO_ID, "2026-05-16 09:00"),
        dept("MR-2", "SCJG-SPJY", CO, CO_ID, "2026-11-16 09:00"),
        clerk("AP-2", "000105001000", CO, CO_ID, "2026-11-16"),
    )
    assert groups(frame) == {frozenset({"MR-1"}), frozenset({"MR-2", "AP-2"})}


def test_namesakes_stay_apart():
    frame = cases(
        dept(
            "H-1",
            "SCJG-ZSBA",
            "张伟",
            ZHANG_WEI_ID,
            "2026-11-16 09:00",
            kind="natural_person",
            item_name="诊所执业备案",
        ),
        dept(
            "H-2",
            "SCJG-ZSBA",
            "张伟",
            "440524188001010014",
            "2026-11-16 10:00",
            kind="natural_person",
            phone="13900000000",
            item_name="诊所执业备案",
        ),
    )
    assert len(groups(frame)) == 2


def test_sister_companies_at_one_address_stay_apart():
    sister_id = "91320412MA1MGBN10R"
    frame = cases(
        dept("MR-1", "SCJG-QYSL", "常州恒达环保科技有限公司", CO_ID, "2026-11-16 09:00"),
        dept("MR-2", "SCJG-QYSL", "常州恒达环保物流有限公司", sister_id, "2026-11-16 09:30"),
        # the clerk's copy of the second, identifier not typed: one sister's name, not the other's
        clerk("AP-2", "000102001000", "恒达环保物流有限公司", "", "2026-11-16", phone="13812345678"),
    )
    assert groups(frame) == {frozenset({"MR-1"}), frozenset({"MR-2", "AP-2"})}


def test_golden_ids_do_not_depend_on_row_order():
    rows = [
        clerk("AP-1", "000102001000", "恒达科技有限公司", CO_ID, "2026-11-17"),
        dept("MR-1", "SCJG-QYSL", CO, CO_ID, "2026-11-16 09:00"),
        dept("MR-9", "SCJG-QYSL", "常州华联贸易有限公司", "91320412MA1MGBN10R", "2026-11-16 10:00"),
    ]
    ids = []
    for ordered in (rows, rows[::-1]):
        frame = staged(cases(*ordered))
        frame["golden_case_id"] = assign_golden_ids(frame, resolve(frame).cluster)
        ids.append(dict(zip(frame["source_record_id"], frame["golden_case_id"], strict=True)))
    assert ids[0] == ids[1]
    assert ids[0]["AP-1"] == ids[0]["MR-1"] != ids[0]["MR-9"]


def test_reviewer_decisions_override_the_model():
    frame = cases(
        dept("MR-1", "SCJG-QYSL", CO, CO_ID, "2026-11-16 09:00"),
        clerk("AP-1", "000102001000", "恒达科技有限公司", CO_ID, "2026-11-17"),
        dept("MR-2", "SCJG-QYSL", "常州华联贸易有限公司", "91320412MA1MGBN10R", "2026-11-16 10:00"),
    )
    keys = ["source_system_l", "source_record_id_l", "source_system_r", "source_record_id_r", "decision"]
    decisions = pd.DataFrame(
        [
            ("approval_platform", "AP-1", "market_regulation", "MR-1", "different"),
            ("market_regulation", "MR-2", "market_regulation", "MR-1", "same"),
        ],
        columns=keys,
    )
    assert groups(frame, decisions=decisions) == {frozenset({"AP-1"}), frozenset({"MR-1", "MR-2"})}


def test_uncertain_pairs_go_to_review_with_per_field_evidence():
    frame = cases(
        dept("MR-1", "SCJG-QYSL", CO, CO_ID, "2026-11-16 09:00"),
        clerk("AP-1", "000102001000", "恒达科技有限公司", CO_ID, "2026-11-17"),
    )
    engine = Engine()
    try:
        engine.load(frame)
        result = engine.resolve(match_threshold=1.01)  # nothing is certain enough: everything goes to review
    finally:
        engine.close()
    assert len(result.review) == 1 and result.links.empty
    assert {"gamma_applicant_id", "mw_applicant_id", "mw_submitted_date"} <= set(result.review.columns)


def stage_into(warehouse: Warehouse, frame: pd.DataFrame) -> None:
    """Hand-made cases as staged rows of the day they were submitted (companies with valid codes)."""
    from core.warehouse import insert_frame

    frame = frame.assign(
        partition_date=pd.to_datetime(frame["submitted_at"]).dt.date,
        record_key=frame["source_record_id"],
        applicant_id_kind="uscc",
        applicant_id_checksum_ok=True,
        submitted_at=pd.to_datetime(frame["submitted_at"]),
    )
    with warehouse.begin() as conn:
        insert_frame(conn, staged_cases, frame)


def test_review_round_trip_through_the_warehouse(tmp_path):
    """A decision recorded by a clerk is read back and respected when the day is resolved again."""
    from pipelines.resolve.assets import resolve_partition

    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    day = dt.date(2026, 11, 16)
    stage_into(
        warehouse,
        cases(
            dept("MR-1", "000102001000", CO, CO_ID, "2026-11-16 09:00"),
            clerk("AP-1", "000102001000", "恒达科技有限公司", CO_ID, "2026-11-16 00:00"),
        ),
    )
    with warehouse.begin() as conn:
        resolve_partition(conn, day)
    assert warehouse.read(sa_select_golden()).nunique().iloc[0] == 1
    golden = warehouse.scalar("SELECT golden_case_id FROM case_links LIMIT 1")
    why = explain(warehouse, golden)
    assert set(why["field"]) >= {"applicant_id", "applicant_name", "item", "submitted_date"}

    decide(warehouse, "market_regulation:MR-1", "approval_platform:AP-1", "different", "clerk-wang", "two filings")
    with warehouse.begin() as conn:
        resolve_partition(conn, day)
    assert warehouse.read(sa_select_golden()).nunique().iloc[0] == 2
    assert warehouse.scalar("SELECT COUNT(*) FROM golden_cases") == 2
    warehouse.dispose()


def sa_select_golden():
    import sqlalchemy as sa

    return sa.select(case_links.c.golden_case_id)


def test_survivorship_prefers_the_department_record():
    frame = cases(
        clerk("AP-1", "000102001000", "恒达科技有限公司", CO_ID, "2026-11-17"),
        dept("MR-1", "SCJG-QYSL", CO, CO_ID, "2026-11-16 09:00"),
    )
    frame = staged(frame, checksum_ok=True).assign(golden_case_id="GC1")
    golden = build_golden_cases(frame)
    assert golden.loc[0, "applicant_name"] == CO and golden.loc[0, "contact_phone"] == "13812345678"
    assert dict(zip(frame["source_record_id"], roles(frame), strict=True)) == {"AP-1": "duplicate", "MR-1": "golden"}


def test_item_spellings_unknown_to_the_catalogue_are_learned_from_the_data():
    """A department's own code and the clerk's abbreviation, seen together on other cases, mean one item."""
    companies = [
        ("常州信聚环保科技有限公司", "91320412MA1MGBN10R"),
        ("江苏康奥精密机械有限公司", "9132041258558635XF"),
        ("常州博远装饰工程有限公司", "91320412MACUC3CG71"),
    ]
    rows = []
    for i, (name, ident) in enumerate(companies):
        day = f"2026-11-{16 + i} 09:00"
        rows.append(
            (
                "wj_sthj",
                f"HB-{i}",
                "HB-HP-01",
                "建设项目环境影响评价文件审批",
                "企业",
                name,
                ident,
                "13812345678",
                ADDR,
                day,
            )
        )
        rows.append(("wj_platform", f"ZW-{i}", "", "环评审批", "法人", name, "" if i == 2 else ident, "", "", day[:10]))
    frame = cases(*rows)
    assert groups(frame) == {frozenset({f"HB-{i}", f"ZW-{i}"}) for i in range(3)}  # the last one without an id


def test_learned_item_spellings_do_not_merge_a_package():
    shop, operator = "武进区湖塘镇张伟小吃店", ZHANG_WEI_ID
    rows = [
        (
            "wj_scjg",
            "SC-1",
            "SC-DJ-002",
            "个体工商户登记",
            "个体工商户",
            shop,
            operator,
            "13812345678",
            ADDR,
            "2026-11-16 09:00",
        ),
        (
            "wj_scjg",
            "SC-2",
            "SC-SP-015",
            "小餐饮备案",
            "个体工商户",
            shop,
            operator,
            "13812345678",
            ADDR,
            "2026-11-16 09:10",
        ),
        ("wj_platform", "ZW-1", "", "个体户开业", "个体工商户", shop, operator, "", "", "2026-11-16"),
        ("wj_platform", "ZW-2", "", "小餐饮店备案", "个体工商户", shop, operator, "", "", "2026-11-16"),
    ]
    found = groups(cases(*rows))
    assert frozenset({"SC-1", "SC-2"}) not in found and not any({"SC-1", "SC-2"} <= g for g in found)
    assert frozenset({"SC-2", "ZW-2"}) in found


def test_connected_components_number_components_as_scipy_does():
    """The engine's own connected components (no SciPy import on the dedup path) give SciPy's labels: each
    component numbered by its smallest node, on random graphs, a long chain walked backwards, and no edges."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as scipy_components

    from resolution.clusters import connected_components

    rng = np.random.default_rng(23)
    chain = np.arange(4999)[::-1]
    graphs = [(7, np.empty(0, int), np.empty(0, int)), (5000, chain, chain + 1)]
    graphs += [(m, rng.integers(0, m, e), rng.integers(0, m, e)) for m, e in [(10, 3), (2000, 900), (20000, 30000)]]
    for m, a, b in graphs:
        expected = scipy_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(m, m)), directed=False)[1]
        assert np.array_equal(connected_components(m, a, b), expected)
    assert connected_components(4, np.array([3, 1]), np.array([1, 3])).tolist() == [0, 1, 2, 1]


def _hard_cases(tmp_path, records: int = 4000) -> pd.DataFrame:
    """The hard set (packages, changes after establishment, clerks' item names), written by a generator made
    without sight of the engine (``benchmarks/hard_cases.py``)."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "hard_cases.py"
    spec = importlib.util.spec_from_file_location("hard_cases", script)
    hard_cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hard_cases)
    output, truth = tmp_path / "cases.csv", tmp_path / "truth.csv"
    hard_cases.main(["--records", str(records), "--seed", "5", "--output", str(output), "--truth", str(truth)])
    return pd.read_csv(output, dtype=str, keep_default_na=False)


def test_duckdb_scores_are_splinks_predictions_to_the_bit(tmp_path):
    """The DuckDB backend scores with one query written from the model file; Splink's linker, given the same
    model and features, predicts the same pairs with the same levels, weights and probabilities."""
    from resolution.backends.duckdb import DuckDBBackend
    from resolution.features import prepare
    from resolution.model import REVIEW_THRESHOLD, load_model

    # Every item level occurs in the hard set.
    backend = DuckDBBackend()
    try:
        backend.load(prepare(_hard_cases(tmp_path)))
        model = load_model()
        ours, splinks = (
            scored.sort_values(["uid_l", "uid_r"]).reset_index(drop=True)
            for scored in (backend.score(model, REVIEW_THRESHOLD), backend.splink_score(model, REVIEW_THRESHOLD))
        )
    finally:
        backend.close()
    pd.testing.assert_frame_equal(ours, splinks, check_exact=True)
    assert len(ours) > 1000
    # Every comparison reaches several levels on this data, the item's by code, by name and on package days.
    assert all(ours[f"gamma_{c['output_column_name']}"].nunique() >= 2 for c in model["comparisons"])
    assert ours["gamma_item"].nunique() >= 4


def test_name_rules_add_no_pair_to_pinyin_rules(tmp_path):
    """The blocking rules on a name's pinyin find every pair the same rules on the name itself would: the rules
    on the name were dropped as adding nothing but rows for the union to drop again."""
    from resolution.backends.duckdb import DuckDBBackend
    from resolution.backends.scoring import blocked_pairs_sql
    from resolution.features import prepare
    from resolution.model import BLOCKING_RULES, _candidates

    by_name = [_candidates("name_norm", "item_class"), _candidates("name_norm", "submitted_date")]
    by_pinyin = [_candidates("name_py", "item_class"), _candidates("name_py", "submitted_date")]
    assert set(by_pinyin) <= set(BLOCKING_RULES) and not set(by_name) & set(BLOCKING_RULES)
    # Namesakes, homophones and names typed two ways: names with one pinyin that differ, and the same name.
    extra = cases(
        clerk("H1", "", "张伟", "", "2024-03-01 09:00"),
        clerk("H2", "", "章伟", "", "2024-03-02 09:00"),
        clerk("H3", "", "张 伟", "", "2024-03-02 10:00"),
        clerk("H4", "", "ZHANG WEI", "", "2024-03-02 10:00", kind="natural_person"),
    )
    backend = DuckDBBackend()
    try:
        backend.load(prepare(pd.concat([_hard_cases(tmp_path, 3000), extra], ignore_index=True)))

        def pairs(rules: list[str]) -> set[tuple[int, int]]:
            return set(backend.con.execute(blocked_pairs_sql(backend.table, rules)).fetchall())

        every, kept = pairs([*BLOCKING_RULES, *by_name]), pairs(BLOCKING_RULES)
        names = backend.con.execute(
            f"SELECT count(DISTINCT name_py), count(DISTINCT name_norm) FROM {backend.table}"
        ).fetchone()
    finally:
        backend.close()
    assert every == kept and len(kept) > 1000
    assert names[0] < names[1]  # some pinyin stands for several names: the pinyin rules are the wider ones
