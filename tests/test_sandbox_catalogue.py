"""The sandbox holds its own catalogue (sandbox/data/: items, departments, each system's own item codes), its own
working days and its own copy of the dedup input's columns; the bridge declares the same things in its own files
(schemas/codes/, core/departments/*.yaml, schemas/calendar/). Here the two are compared: where they part, one side
is wrong, and the test names the item, code or department."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from core.departments import local_item_codes as bridge_local_codes
from sandbox import catalogue, identity, workdays
from sandbox.canonical import DEDUP_COLUMNS
from sandbox.ownership import NotOurs, reset
from schemas import case
from schemas.workdays import calendar

pytestmark = pytest.mark.unit

#: The sandbox's column → the bridge's (schemas.case.items()).
ITEM_FIELDS = {
    "item_name": "item_name",
    "department": "handling_dept",
    "promised_days": "promised_days",
    "approval_mode": "approval_mode",
    "other_modes": "other_modes",
    "licence_type_code": "licence_type_code",
    "aliases": "aliases",
}


def item_disagreements(sandbox: pd.DataFrame, bridge: pd.DataFrame) -> list[str]:
    """Where the bridge's catalogue says otherwise than the sandbox's systems about an item."""
    ours, theirs = sandbox.set_index("item_code"), bridge.set_index("item_code").astype(str)
    found = [f"{code}: only the sandbox has it" for code in ours.index.difference(theirs.index)]
    found += [f"{code}: only the bridge has it" for code in theirs.index.difference(ours.index)]
    for code in ours.index.intersection(theirs.index):
        for mine, their in ITEM_FIELDS.items():
            if ours.at[code, mine] != theirs.at[code, their]:
                found.append(
                    f"{code} {mine}: the bridge has {theirs.at[code, their]!r}, the sandbox {ours.at[code, mine]!r}"
                )
    return found


def local_code_disagreements(sandbox: pd.DataFrame, bridge: dict[tuple[str, str], str]) -> list[str]:
    """Where the bridge's declarations map a system's own item code otherwise than the system means it."""
    ours = dict(zip(zip(sandbox["system"], sandbox["local_code"], strict=True), sandbox["item_code"], strict=True))
    return [
        f"{key[0]} {key[1]}: the bridge maps it to {bridge.get(key)!r}, the system means {ours.get(key)!r}"
        for key in sorted(set(ours) | set(bridge))
        if ours.get(key) != bridge.get(key)
    ]


def test_the_bridges_catalogue_says_what_the_sandboxs_systems_do():
    assert item_disagreements(catalogue.items(), case.items()) == []


def test_the_bridges_declarations_map_each_systems_own_item_codes_as_the_system_means_them():
    assert local_code_disagreements(catalogue.local_item_codes(), dict(bridge_local_codes())) == []


def test_a_wrong_mapping_on_the_bridges_side_is_caught():
    bridge = dict(bridge_local_codes())
    bridge[("housing", "ZJ-SGXK")], bridge[("housing", "ZJ-YSXK")] = (
        bridge[("housing", "ZJ-YSXK")],
        bridge[("housing", "ZJ-SGXK")],
    )
    del bridge[("health", "WJ-ZSBA")]
    assert len(local_code_disagreements(catalogue.local_item_codes(), bridge)) == 3
    items = case.items().copy()
    items.loc[items["item_code"] == "000130001000", "promised_days"] = 20
    items.loc[items["item_code"] == "000105002000", "handling_dept"] = "health"
    found = item_disagreements(catalogue.items(), items.iloc[:-1])
    assert len(found) == 3, found  # two values and an item the bridge lost


def test_the_departments_are_named_and_numbered_alike():
    bridge = case.departments().set_index("department_code")
    for row in catalogue.departments().itertuples():
        assert bridge.at[row.department, "department_name"] == row.department_name
        assert bridge.at[row.department, "issuer_uscc"] == row.issuer_uscc
        assert identity.is_valid_uscc(row.issuer_uscc)
    handled = set(catalogue.items()["department"])
    assert handled <= set(catalogue.departments()["department"])


def test_each_system_names_its_own_items_and_each_row_its_source():
    local = catalogue.local_item_codes()
    items = catalogue.items().set_index("item_code")
    depts = catalogue.departments().set_index("department")
    assert local["item_code"].isin(items.index).all()
    # a system's code is for an item one of the departments it serves handles
    served = depts.loc[items.loc[local["item_code"], "department"], "system"].to_numpy()
    assert (served == local["system"].to_numpy()).all()
    assert not local.duplicated(["system", "local_code"]).any() and not local.duplicated(["system", "item_code"]).any()
    for frame in (catalogue.items(), catalogue.local_item_codes(), catalogue.departments()):
        assert frame["source"].str.match(r"(source|assumed|invented): \S").all()


def test_the_sandbox_writes_the_dedup_input_the_bridge_reads():
    assert DEDUP_COLUMNS == case.DEDUP_COLUMNS


def test_the_sandboxs_working_days_are_the_bridges():
    days = pd.Series(pd.date_range("2004-01-01", "2030-12-31"))
    bridge = calendar().is_working_day(days).to_numpy()
    ours = [workdays.is_working_day(day.date()) for day in days]
    differ = days[bridge != ours]
    assert differ.empty, differ.dt.date.tolist()[:10]
    assert not workdays.is_working_day(dt.date(2026, 2, 17))  # 春节
    assert workdays.is_working_day(dt.date(2026, 2, 14))  # a Saturday worked (调休)
    assert workdays.is_working_day(dt.date(2027, 2, 8)) and not workdays.is_working_day(dt.date(2027, 2, 6))


def test_a_stand_in_resets_only_its_own_database(tmp_path):
    meta = sa.MetaData()
    sa.Table("up_pro_accept", meta, sa.Column("case_no", sa.String(43)))
    theirs = sa.create_engine(f"sqlite:///{tmp_path / 'theirs.sqlite'}")
    with theirs.begin() as conn:
        conn.execute(sa.text("CREATE TABLE pre_apasinfo (id INTEGER)"))
    with pytest.raises(NotOurs, match=r"1 table.*\(pre_apasinfo\)"):
        reset(theirs, meta, "the front-end database")
    assert sa.inspect(theirs).get_table_names() == ["pre_apasinfo"]
    ours = sa.create_engine(f"sqlite:///{tmp_path / 'ours.sqlite'}")
    reset(ours, meta, "the front-end database")
    with ours.begin() as conn:
        conn.execute(sa.text("INSERT INTO up_pro_accept VALUES ('x')"))
    reset(ours, meta, "the front-end database")  # its own: emptied and made again
    with ours.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM up_pro_accept")).scalar() == 0
