"""No chained merges: records that cannot be one case never end in one golden case (hand-made hard cases)."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from core.warehouse import Warehouse
from pipelines.resolve.checks import golden_cases_with_two_items
from resolution.clusters import cluster
from resolution.engine import resolve
from resolution.golden import assign_golden_ids, golden_id_for
from resolution.review import splits
from schemas.items import identify_items
from schemas.warehouse import case_links, golden_cases, outbox, review_decisions
from tests.test_resolution import ADDR, CO, CO_ID, ZHANG_WEI_ID, cases, clerk, dept, groups, stage_into

pytestmark = pytest.mark.unit

SHOP = "武进区湖塘镇张伟小吃店"


@pytest.mark.parametrize(
    ("typed", "code", "action"),
    [
        ("企业设立", "000102001000", "new"),
        ("公司变更登记", "000102003000", "change"),
        ("营业执照变更", "000102003000", "change"),
        ("食品经营许可（变更）", "000105003000", "change"),  # the qualifier is the action, not noise
        ("食品经营许可（新办）", "000105001000", "new"),
        ("食品经营许可证延续申请", "000105004000", "renew"),
        ("个体工商户开业登记", "000102002000", "new"),
        ("小型餐饮服务提供者备案", "000105002000", "new"),
        ("营业执照", None, None),  # the object alone: which of its items is not said
        ("变更登记", None, "change"),  # an action without an object
        ("建筑工程施工许可证申请表", "000130001000", "new"),
        ("公共场所卫生许可证（首次）", "000140001000", "new"),
    ],
)
def test_item_and_action_from_a_typed_name(typed, code, action):
    found = identify_items(
        pd.Series([None], dtype="string"), pd.Series([typed], dtype="string"), pd.Series(["approval_platform"])
    ).iloc[0]
    assert (None if pd.isna(found["item_code"]) else found["item_code"]) == code
    assert (None if pd.isna(found["action"]) else found["action"]) == action


def test_establishment_and_change_stay_apart_whatever_the_reentry_links():
    """The issue's first shape: two original records with different item codes, and a clerk's re-entry with a
    blank code that the model could link to both."""
    frame = cases(
        dept("MR-1", "SC-DJ-001", CO, CO_ID, "2026-11-02 09:00", item_name="企业设立登记"),
        dept("MR-2", "SC-DJ-003", CO, CO_ID, "2026-11-11 10:00", item_name="企业变更登记"),
        clerk("AP-1", "", CO, CO_ID, "2026-11-03", item_name="企业设立", phone="13812345678"),
        clerk("AP-2", "", CO, CO_ID, "2026-11-11", item_name="营业执照变更", phone="13812345678"),
    )
    assert groups(frame) == {frozenset({"MR-1", "AP-1"}), frozenset({"MR-2", "AP-2"})}


def test_a_reentry_typed_as_establishment_never_joins_the_change():
    frame = cases(
        dept("MR-1", "000102003000", CO, CO_ID, "2026-11-06 09:00"),  # 企业变更登记, ten days before
        dept("MR-2", "000102001000", CO, CO_ID, "2026-11-16 09:00"),  # 企业设立登记
        clerk("AP-1", "", CO, CO_ID, "2026-11-16", item_name="企业设立"),
    )
    assert groups(frame) == {frozenset({"MR-1"}), frozenset({"MR-2", "AP-1"})}


def test_a_package_of_filing_and_registration_is_two_cases():
    """The issue's second shape: 小型餐饮服务提供者备案 and 个体工商户设立登记 filed together (套餐)."""
    person = {"kind": "natural_person"}
    frame = cases(
        dept("MR-1", "", SHOP, ZHANG_WEI_ID, "2026-11-16 09:00", item_name="个体工商户设立登记", **person),
        dept("MR-2", "", SHOP, ZHANG_WEI_ID, "2026-11-16 09:04", item_name="小型餐饮服务提供者备案", **person),
        clerk("AP-1", "", SHOP, ZHANG_WEI_ID, "2026-11-16", item_name="个体户营业执照", **person),
        clerk("AP-2", "", SHOP, ZHANG_WEI_ID, "2026-11-16", item_name="小餐饮备案", **person),
    )
    assert groups(frame) == {frozenset({"MR-1", "AP-1"}), frozenset({"MR-2", "AP-2"})}


def test_one_system_never_files_one_case_under_two_codes():
    """Codes the catalogue does not know still tell two cases of one system apart."""
    frame = cases(
        dept("MR-1", "SC-X-01", CO, CO_ID, "2026-11-16 09:00", item_name="某某许可"),
        dept("MR-2", "SC-X-02", CO, CO_ID, "2026-11-16 09:30", item_name="某某许可"),
    )
    assert groups(frame) == {frozenset({"MR-1"}), frozenset({"MR-2"})}


def _nodes(rows: list[dict]) -> pd.DataFrame:
    base = {
        "item_known_key": None,
        "item_code_id": None,
        "item_class": None,
        "item_action": None,
        "id_norm": CO_ID,
        "id_valid": True,
        "id_kind": "uscc",
        "submitted_date": pd.Timestamp("2026-11-16"),
        "state_rank": 0,
    }
    return pd.DataFrame([{**base, **row} for row in rows])


def _links(*pairs) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["uid_l", "uid_r", "match_probability"])


def test_clustering_takes_the_strongest_link_and_rejects_the_chain():
    nodes = _nodes(
        [
            {"source_system": "mr", "source_record_id": "A", "item_known_key": "000102001000", "item_action": "new"},
            {"source_system": "mr", "source_record_id": "B", "item_known_key": "000102003000", "item_action": "change"},
            {"source_system": "ap", "source_record_id": "R"},  # blank code, a bare name: compatible with both
        ]
    )
    found = cluster(3, _links((0, 2, 0.999), (1, 2, 0.97)), nodes, window_days=10)
    assert found.cluster[0] == found.cluster[2] != found.cluster[1]
    assert found.rejected[["uid_l", "uid_r", "constraint"]].values.tolist() == [[1, 2, "different_items"]]
    # The other way round when the other link is stronger: the order of rows plays no part.
    found = cluster(3, _links((0, 2, 0.96), (1, 2, 0.999)), nodes, window_days=10)
    assert found.cluster[1] == found.cluster[2] != found.cluster[0]


@pytest.mark.parametrize(
    ("a", "b", "constraint"),
    [
        (
            {"item_code_id": "SC-1", "item_class": "x"},
            {"item_code_id": "SC-2", "item_class": "y"},
            "different_item_codes",
        ),
        ({"item_action": "new"}, {"item_action": "cancel"}, "different_actions"),
        ({"id_norm": "91320412MA1MGBN10R"}, {"id_norm": "9132041258558635XF"}, "different_identifiers"),
        ({}, {"submitted_date": pd.Timestamp("2026-12-16")}, "outside_window"),
    ],
)
def test_each_constraint_splits_a_chain(a, b, constraint):
    nodes = _nodes(
        [
            {"source_system": "mr", "source_record_id": "A", **a},
            {"source_system": "mr", "source_record_id": "B", **b},
            {"source_system": "ap", "source_record_id": "R", "id_valid": False, "id_norm": None},
        ]
    )
    found = cluster(3, _links((0, 2, 0.99), (1, 2, 0.98)), nodes, window_days=10)
    assert len(set(found.cluster)) == 2 and found.rejected["constraint"].tolist() == [constraint]


def test_a_reviewers_different_holds_through_a_chain_and_same_cannot_join_two_items():
    nodes = _nodes(
        [
            {"source_system": "mr", "source_record_id": "A"},
            {"source_system": "mr", "source_record_id": "B"},
            {"source_system": "ap", "source_record_id": "R"},
        ]
    )
    apart = pd.DataFrame({"uid_l": [0], "uid_r": [1]})
    found = cluster(3, _links((0, 2, 0.99), (1, 2, 0.98)), nodes, cannot=apart, window_days=10)
    assert found.cluster[0] != found.cluster[1] and found.rejected["constraint"].tolist() == ["reviewer_different"]

    two_items = _nodes(
        [
            {"source_system": "mr", "source_record_id": "A", "item_known_key": "000105001000"},
            {"source_system": "mr", "source_record_id": "B", "item_known_key": "000105003000"},
        ]
    )
    forced = _links((0, 1, 1.0)).assign(forced=True)
    assert len(set(cluster(2, forced, two_items, window_days=10).cluster)) == 2
    # A reviewer's same does outrank the identifier constraint: a person looked at both records.
    two_ids = _nodes(
        [
            {"source_system": "mr", "source_record_id": "A", "id_norm": "91320412MA1MGBN10R"},
            {"source_system": "ap", "source_record_id": "B", "id_norm": "9132041258558635XF"},
        ]
    )
    assert len(set(cluster(2, forced, two_ids, window_days=10).cluster)) == 1


def test_states_of_one_source_record_are_one_node_described_by_the_newest():
    """A department corrected a record's item code between two pulls: its two states are still one record."""
    nodes = _nodes(
        [
            {"source_system": "mr", "source_record_id": "A", "item_known_key": "000105001000", "state_rank": 1},
            {"source_system": "mr", "source_record_id": "A", "item_known_key": "000105003000", "state_rank": 2},
            {"source_system": "ap", "source_record_id": "R", "item_known_key": "000105003000"},
        ]
    )
    found = cluster(3, _links((0, 2, 0.97), (1, 2, 0.99)), nodes, window_days=10)
    assert len(set(found.cluster)) == 1 and found.rejected.empty


def test_a_split_golden_case_keeps_its_id_with_its_founding_record():
    pool = pd.DataFrame(
        {
            "source_system": ["market_regulation", "approval_platform", "market_regulation"],
            "source_record_id": ["MR-1", "AP-1", "MR-2"],
        }
    )
    founder = golden_id_for(pool["source_system"], pool["source_record_id"]).iloc[0]
    pool = pool.assign(
        golden_case_id=founder,
        submitted_at=pd.Timestamp("2026-11-16"),
        applicant_id_checksum_ok=True,
        **{c: "x" for c in ("item_code", "applicant_name")},
    )
    from resolution.golden import GOLDEN_FIELDS

    for column in GOLDEN_FIELDS:
        if column not in pool:
            pool[column] = pd.NA
    ids = assign_golden_ids(pool, [0, 0, 1]).tolist()
    assert ids[0] == ids[1] == founder
    assert ids[2] == golden_id_for(pool["source_system"], pool["source_record_id"]).iloc[2] != founder


def test_a_rerun_splits_a_chained_golden_case_and_sends_both_corrections(tmp_path, monkeypatch):
    """A warehouse left by a resolution without constraints: a re-entry chained an establishment and a change
    into one golden case. Re-running the days splits it; only the split part gets a new id, and both golden cases
    go to the receivers as new versions."""
    from pipelines.resolve.assets import resolve_partition
    from resolution import engine as engine_module

    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    stage_into(
        warehouse,
        cases(
            # 企业设立登记, without an address: the chained golden case took the change record's
            dept("MR-1", "000102001000", CO, CO_ID, "2026-11-02 09:00", address=None),
            clerk("AP-1", "", CO, CO_ID, "2026-11-03 00:00", item_name="营业执照", phone="13812345678"),
            dept("MR-2", "000102003000", CO, CO_ID, "2026-11-10 10:00", phone=None),  # 企业变更登记
        ),
    )
    days = [dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 10)]

    # Yesterday's engine: connected components, no constraints, and a reviewer's 'same' on the chain's weak link.
    def components(n, links, nodes, **_):
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        graph = coo_matrix(([1.0] * len(links), (links["uid_l"], links["uid_r"])), shape=(n, n))
        return type(
            "C",
            (),
            {
                "cluster": connected_components(graph, directed=False)[1],
                "rejected": pd.DataFrame(columns=["uid_l", "uid_r", "match_probability", "constraint"]),
            },
        )()

    monkeypatch.setattr(engine_module, "cluster", components)
    with warehouse.begin() as conn:
        conn.execute(
            review_decisions.insert(),
            {
                "source_system_l": "approval_platform",
                "source_record_id_l": "AP-1",
                "source_system_r": "market_regulation",
                "source_record_id_r": "MR-2",
                "decision": "same",
                "decided_by": "old-run",
                "decided_at": dt.datetime(2026, 11, 10),
            },
        )
    for day in days:
        with warehouse.begin() as conn:
            resolve_partition(conn, day)
    chained = warehouse.read(sa.select(case_links.c.golden_case_id).distinct())
    assert len(chained) == 1
    merged_id = chained.iloc[0, 0]
    assert [gc for gc, _ in golden_cases_with_two_items(warehouse, days[0], days[-1])] == [merged_id]
    queued_before = set(warehouse.read(sa.select(outbox.c.idempotency_key))["idempotency_key"])

    monkeypatch.undo()
    with warehouse.begin() as conn:
        conn.execute(review_decisions.delete())
    for day in days:  # the same days again, oldest first, as a backfill runs them
        with warehouse.begin() as conn:
            resolve_partition(conn, day)

    links = warehouse.read(
        "SELECT s.source_record_id, l.golden_case_id FROM case_links l JOIN staged_cases s "
        "ON s.source_system = l.source_system AND s.partition_date = l.partition_date AND s.record_key = l.record_key"
    )
    home = dict(zip(links["source_record_id"], links["golden_case_id"], strict=True))
    assert merged_id == golden_id_for(pd.Series(["market_regulation"]), pd.Series(["MR-1"])).iloc[0]
    assert home["MR-1"] == home["AP-1"] == merged_id  # the founding record keeps the id
    assert home["MR-2"] != merged_id
    assert golden_cases_with_two_items(warehouse, days[0], days[-1]) == []
    assert warehouse.scalar("SELECT COUNT(*) FROM golden_cases") == 2
    queued = warehouse.read(sa.select(outbox.c.idempotency_key, outbox.c.golden_case_id, outbox.c.target))
    new_rows = queued[~queued["idempotency_key"].isin(queued_before)]
    assert sorted(map(tuple, new_rows[["golden_case_id", "target"]].values.tolist())) == sorted(
        (gc, target) for gc in (merged_id, home["MR-2"]) for target in ("municipal", "one_network")
    )
    versions = warehouse.read(sa.select(golden_cases.c.golden_case_id, golden_cases.c.version))
    assert dict(zip(versions["golden_case_id"], versions["version"], strict=True))[home["MR-2"]] == 1
    # The re-entry named only the object (营业执照): the model linked it to both; a constraint decided.
    # The re-entry named only the object (营业执照) a week before the change: a person decides, once.
    queue = warehouse.read("SELECT source_record_id_l, source_record_id_r FROM review_queue")
    assert queue.values.tolist() == [["AP-1", "MR-2"]]
    warehouse.dispose()


def test_a_split_is_recorded_explained_and_queued_for_a_person(tmp_path):
    """A package on one day (a food licence and a hygiene licence) and a clerk's re-entry whose typed name (许可)
    fits both: it joins one, and the link to the other is a split a person confirms."""
    from pipelines.resolve.assets import resolve_partition

    warehouse = Warehouse(url=f"sqlite:///{tmp_path / 'w.sqlite'}")
    stage_into(
        warehouse,
        cases(
            dept("MR-1", "000105001000", CO, CO_ID, "2026-11-02 09:00"),
            dept("MR-2", "000140001000", CO, CO_ID, "2026-11-02 09:10"),
            clerk("AP-1", "", CO, CO_ID, "2026-11-02 00:00", item_name="许可", phone="13812345678"),
        ),
    )
    with warehouse.begin() as conn:
        figures = resolve_partition(conn, dt.date(2026, 11, 2))
    assert figures["links_split"] == 1 and warehouse.scalar("SELECT COUNT(*) FROM golden_cases") == 2
    links = warehouse.read("SELECT record_key, golden_case_id FROM case_links")
    home = dict(zip(links["record_key"], links["golden_case_id"], strict=True))
    assert home["MR-1"] != home["MR-2"] and home["AP-1"] in (home["MR-1"], home["MR-2"])
    other = "MR-2" if home["AP-1"] == home["MR-1"] else "MR-1"
    apart = splits(warehouse, home["AP-1"])
    assert apart[["record", "not_merged_with", "its_golden_case", "constraint"]].values.tolist() == [
        ["approval_platform:AP-1", f"market_regulation:{other}", home[other], "different_items"]
    ]
    queue = warehouse.read("SELECT summary, evidence FROM review_queue")
    assert len(queue) == 1 and "不合并（two different catalogue items）" in queue["summary"].iloc[0]
    assert '"constraint": "different_items"' in queue["evidence"].iloc[0]
    assert golden_cases_with_two_items(warehouse, dt.date(2026, 11, 2), dt.date(2026, 11, 2)) == []
    warehouse.dispose()


def test_namesakes_and_siblings_stay_apart_with_a_blank_coded_reentry():
    sibling_id = "91320412MA1MGBN10R"
    frame = cases(
        dept("MR-1", "000102001000", "常州恒达环保科技有限公司", CO_ID, "2026-11-16 09:00", address=ADDR),
        dept("MR-2", "000102001000", "常州恒达环保工程有限公司", sibling_id, "2026-11-16 09:20", address=ADDR),
        clerk("AP-1", "", "恒达环保科技有限公司", "", "2026-11-16", item_name="企业设立", phone="13812345678"),
    )
    found = groups(frame)
    assert frozenset({"MR-1", "MR-2"}) not in found and not any({"MR-1", "MR-2"} <= g for g in found)


@pytest.mark.parametrize(("typed_on", "linked"), [("2026-11-02", True), ("2026-11-06", False)])
def test_weak_item_evidence_links_only_within_a_day(typed_on, linked):
    """A re-entry that names only the object (营业执照) is surely this applicant's, but which of its cases only
    the day can tell: days apart, a person decides."""
    frame = cases(
        dept("MR-1", "000102001000", CO, CO_ID, "2026-11-02 09:00"),
        clerk("AP-1", "", CO, CO_ID, typed_on, item_name="营业执照", phone="13812345678"),
    )
    result = resolve(frame)
    assert bool(result.cluster[0] == result.cluster[1]) is linked
    assert len(result.review) == (0 if linked else 1)
