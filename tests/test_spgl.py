"""The SPGL feeds through the real ``sql`` connector on SQLite: the declared queries over the SPGL base tables as
published (``contracts/spgl/``), no view.

First on rows written here by hand into tables built from the contracts (independent of the stand-in): a project
with a 建设单位, an earlier invalid copy of it and a 代建单位 comes out once, with its 建设单位; a handling is read
when it is accepted and again when a later step arrives (its GXSJ is its newest row's), its pauses and its closing
code as the public BLZT list has them; the 并行推进 stage and the item the stage-item table places in it. Then on
the stand-in's database (``sandbox/projects.py``), as the demo reads it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from connectors.sources import build_source
from core.feeds import feed
from staging.projects import stage_process_stages, stage_project_items, stage_projects

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts" / "spgl"
CODE = "2026-320412-34-03-512345"
WORKS = f"{CODE}-0001"
T = dt.datetime.fromisoformat


def _tables() -> sa.MetaData:
    # no length is published: 255 (MySQL wants one)
    types = {"VARCHAR": lambda: sa.String(255), "INTEGER": sa.Integer, "DOUBLE": sa.Float, "DATETIME": sa.DateTime}
    meta = sa.MetaData()
    for path in sorted(CONTRACTS.glob("SPGL_*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        sa.Table(document["table"], meta, *(sa.Column(c["name"], types[c["sql_type"]]()) for c in document["columns"]))
    return meta


def _create(url: str) -> None:
    engine = sa.create_engine(url)
    _tables().create_all(engine)
    engine.dispose()


def _write(url: str, rows: dict[str, list[dict]]) -> None:
    engine = sa.create_engine(url)
    meta = _tables()
    with engine.begin() as conn:
        for table, given in rows.items():
            conn.execute(meta.tables[table].insert(), [{"SJYXBS": 1} | row for row in given])
    engine.dispose()


def _read(url: str, name: str, since: str, until: str) -> pd.DataFrame:
    declared = feed(name)
    source = build_source("sql", declared.connector.settings, endpoint=url)
    batch = source.fetch_changes(T(since), T(until))
    return pd.DataFrame(
        {"record_key": [r.record_key for r in batch.records], "payload": [r.payload for r in batch.records]}
    )


def _staged(raw: pd.DataFrame, name: str, stager) -> tuple[pd.DataFrame, pd.DataFrame]:
    import json

    raw = raw.assign(payload=[json.dumps(p, ensure_ascii=False) for p in raw["payload"]])
    return stager(raw, feed(name), dt.date(2026, 11, 2))


def _step(blzt: int, at: str, handling: str = "H1") -> dict:
    return {"SPSXSLBM": handling, "GCDM": WORKS, "BLZT": blzt, "BLSJ": T(at), "GXSJ": T(at)}


@pytest.fixture
def spgl_db(tmp_path) -> str:
    return _fill(f"sqlite:///{tmp_path / 'spgl.sqlite'}")


def _fill(url: str) -> str:
    """The SPGL tables at ``url`` with a project, its units, one handling accepted on 2 November, and the process."""
    project = {"XMDM": CODE, "XMMC": "某精密机械厂房", "GCDM": WORKS, "ZTZE": 12000.0, "SPLCBM": "P", "SPLCBBH": 1.0}
    unit = {"XMDM": CODE, "GCDM": WORKS, "GXSJ": T("2026-11-02 08:00")}
    _create(url)
    _write(
        url,
        {
            "SPGL_XMJBXXB": [project | {"SBSJ": T("2026-11-01 10:00"), "GXSJ": T("2026-11-02 08:00")}],
            "SPGL_XMDWXXB": [
                unit | {"DWLX": 1, "DWMC": "常州某机械公司", "DWTYSHXYDM": "9132041258558635XF", "SJYXBS": 0},
                unit | {"DWLX": 1, "DWMC": "常州某机械有限公司", "DWTYSHXYDM": "9132041258558635XF"},
                unit | {"DWLX": 6, "DWMC": "常州某代建管理有限公司", "DWTYSHXYDM": "91320412MA1MXXXX0X"},
            ],
            "SPGL_XMSPSXBLXXB": [
                {
                    "SPSXSLBM": "H1",
                    "GCDM": WORKS,
                    "SPSXBM": "000122001000",
                    "SPLCBM": "P",
                    "SPLCBBH": 1.0,
                    "SPBMMC": "常州市武进生态环境局",
                    "SXBLSX": 10,
                    "GXSJ": T("2026-11-02 09:00"),
                },
            ],
            # as on 2 November: accepted (3, and 8 written at once with it: the higher code is the last step)
            "SPGL_XMSPSXBLXXXXB": [
                _step(1, "2026-11-02 08:30"),
                _step(3, "2026-11-02 09:00"),
                _step(8, "2026-11-02 09:00"),
            ],
            "SPGL_DFXMSPLCJDXXB": [
                {
                    "SPLCBM": "P",
                    "SPLCBBH": 1.0,
                    "SPJDBM": "S2",
                    "SPJDMC": "工程建设许可阶段",
                    "SPJDXH": 2,
                    "DYBZSPJDXH": "2",
                    "SPJDSX": 15,
                    "LCBSXLX": 1,
                    "GXSJ": T("2026-11-01 06:00"),
                },
                {
                    "SPLCBM": "P",
                    "SPLCBBH": 1.0,
                    "SPJDBM": "P-1.0",
                    "SPJDMC": "并行推进",
                    "SPJDXH": 5,
                    "DYBZSPJDXH": "5",
                    "SPJDSX": 0,
                    "LCBSXLX": 2,
                    "GXSJ": T("2026-11-01 06:00"),
                },
            ],
            "SPGL_DFXMSPLCJDSXXXB": [
                {
                    "SPLCBM": "P",
                    "SPLCBBH": 1.0,
                    "SPJDXH": 5,
                    "SPSXBM": "000122001000",
                    "SPSXMC": "建设项目环境影响报告表审批",
                    "SFLCBSX": 1,
                    "GXSJ": T("2026-11-01 06:00"),
                },
            ],
        },
    )
    return url


@pytest.mark.unit
def test_a_project_with_two_units_comes_out_once_with_its_construction_unit(spgl_db):
    raw = _read(spgl_db, "spgl_projects", "2026-11-02", "2026-11-03")
    assert raw["record_key"].tolist() == [CODE]  # not once per unit
    staged, quarantined = _staged(raw, "spgl_projects", stage_projects)
    assert quarantined.empty
    row = staged.iloc[0]
    assert (row["unit_name"], row["unit_id"]) == ("常州某机械有限公司", "9132041258558635XF")  # the valid 建设单位
    assert (row["process_code"], row["process_version"]) == ("P", "1.0")


@pytest.mark.unit
def test_a_handling_is_read_again_when_a_step_arrives_and_its_closing_step_decides(spgl_db):
    first = _read(spgl_db, "spgl_project_items", "2026-11-02", "2026-11-03")
    assert first["record_key"].tolist() == ["H1"]
    staged, _ = _staged(first, "spgl_project_items", stage_project_items)
    assert staged["outcome"].item() == "running" and pd.isna(staged["ended_at"].item())  # 8 is no decision
    _write(
        spgl_db,
        {
            "SPGL_XMSPSXBLXXXXB": [
                _step(6, "2026-11-03 10:00"),  # 补正（开始）
                _step(7, "2026-11-05 10:00"),  # 补正（结束）
                _step(9, "2026-11-06 10:00"),  # 特别程序（开始）
                _step(10, "2026-11-09 10:00"),  # 特别程序（结束）
                _step(11, "2026-11-10 15:00"),  # 办结（通过）
            ]
        },
    )
    assert _read(spgl_db, "spgl_project_items", "2026-11-02", "2026-11-03").empty  # it changed since
    later = _read(spgl_db, "spgl_project_items", "2026-11-10", "2026-11-11")
    assert later["record_key"].tolist() == ["H1"]  # the 办结 step re-reads it
    payload = later["payload"].iloc[0]
    assert payload["BLZT"] == 11 and payload["GXSJ"] == "2026-11-10 15:00:00"
    staged, quarantined = _staged(later, "spgl_project_items", stage_project_items)
    assert quarantined.empty
    row = staged.iloc[0]
    assert row["project_code"] == CODE and row["item_name"] == "建设项目环境影响报告表审批"
    assert (row["outcome"], row["accepted_at"], row["ended_at"]) == (
        "granted", pd.Timestamp("2026-11-02 09:00"), pd.Timestamp("2026-11-10 15:00"),
    )  # fmt: skip
    assert (row["correction_started_at"], row["correction_ended_at"]) == (
        pd.Timestamp("2026-11-03 10:00"), pd.Timestamp("2026-11-05 10:00"),
    )  # fmt: skip
    assert (row["pause_started_at"], row["pause_ended_at"]) == (
        pd.Timestamp("2026-11-06 10:00"), pd.Timestamp("2026-11-09 10:00"),
    )  # fmt: skip
    assert row["national_stage"] == 5 and row["milestone"]  # placed in 并行推进 by the stage-item table


@pytest.mark.unit
def test_the_parallel_stage_is_read_with_no_limit(spgl_db):
    raw = _read(spgl_db, "spgl_process_stages", "2026-11-01", "2026-11-02")
    assert sorted(raw["record_key"]) == ["P:1.0:P-1.0", "P:1.0:S2"]
    staged, quarantined = _staged(raw, "spgl_process_stages", stage_process_stages)
    assert quarantined.empty
    parallel = staged.set_index("stage_code").loc["P-1.0"]
    assert parallel["national_stage"] == 5 and pd.isna(parallel["limit_days"])


@pytest.mark.integration
@pytest.mark.parametrize(
    "server",
    [pytest.param("postgres_url", marks=pytest.mark.postgres), pytest.param("mariadb_url", marks=pytest.mark.mariadb)],
)
def test_the_declared_queries_read_the_same_on_a_server_database(server, request):
    """The queries are standard SQL translated per dialect (|| and CAST on MySQL, GREATEST on each): the same rows."""
    url = _fill(request.getfixturevalue(server))
    projects = _read(url, "spgl_projects", "2026-11-02", "2026-11-03")
    assert projects["record_key"].tolist() == [CODE]
    assert projects["payload"].iloc[0]["JSDWMC"] == "常州某机械有限公司"
    stages = _read(url, "spgl_process_stages", "2026-11-01", "2026-11-02")
    staged, _ = _staged(stages, "spgl_process_stages", stage_process_stages)
    assert sorted(staged["stage_key"]) == ["P:1.0:P-1.0", "P:1.0:S2"]  # the version in one spelling (PG: "1")
    _write(url, {"SPGL_XMSPSXBLXXXXB": [_step(9, "2026-11-06 10:00"), _step(11, "2026-11-10 15:00")]})
    items = _read(url, "spgl_project_items", "2026-11-10", "2026-11-11")
    staged, quarantined = _staged(items, "spgl_project_items", stage_project_items)
    assert quarantined.empty
    row = staged.iloc[0]
    assert (row["outcome"], row["accepted_at"], row["pause_started_at"], row["national_stage"]) == (
        "granted", pd.Timestamp("2026-11-02 09:00"), pd.Timestamp("2026-11-06 10:00"), 5,
    )  # fmt: skip


# ---------------------------------------------------------------- the stand-in's database, as the demo reads it
@pytest.mark.integration
def test_the_stand_in_writes_the_public_codes_and_the_feeds_count_its_projects_right(tmp_path):
    from reporting.definitions import ProjectDefinitions
    from reporting.projects import (
        handling_states,
        national_limits,
        process_stage_states,
        project_clocks,
        project_stage_rows,
        project_states,
    )
    from sandbox.generator import GeneratorConfig, generate
    from sandbox.projects import write_spgl_database
    from schemas.workdays import calendar

    data = generate(GeneratorConfig(start=dt.date(2026, 10, 1), days=35, cases_per_day=20))
    url = f"sqlite:///{tmp_path / 'spgl.sqlite'}"
    write_spgl_database(url, data)
    engine = sa.create_engine(url)
    steps = pd.read_sql("SELECT BLZT FROM SPGL_XMSPSXBLXXXXB", engine)["BLZT"]
    units = pd.read_sql("SELECT XMDM, DWLX FROM SPGL_XMDWXXB WHERE SJYXBS = 1", engine)
    views = pd.read_sql("SELECT name FROM sqlite_master WHERE type = 'view'", engine)
    engine.dispose()
    published = {c["code"] for c in yaml.safe_load((CONTRACTS / "BLZT.yaml").read_text(encoding="utf-8"))["codes"]}
    assert views.empty  # the system's tables, no view of our own
    assert set(steps) - published == {22}  # one step in a code outside the public list, on purpose
    assert {2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} <= set(steps)
    two_units = units.groupby("XMDM")["DWLX"].nunique()
    two_units = set(two_units[two_units > 1].index)
    assert len(two_units) == 2

    day = dt.date(2026, 11, 4)
    read = {
        name: _staged(_read(url, name, "2000-01-01", "2100-01-01"), name, stager)
        for name, stager in (
            ("spgl_projects", stage_projects),
            ("spgl_project_items", stage_project_items),
            ("spgl_process_stages", stage_process_stages),
        )
    }
    dated = {name: (s.assign(partition_date=day), q.assign(partition_date=day)) for name, (s, q) in read.items()}
    projects = project_states(*dated["spgl_projects"])
    assert projects["project_code"].is_unique and two_units <= set(projects["project_code"])
    stages = process_stage_states(*dated["spgl_process_stages"])
    parallel = stages[stages["national_stage"] == 5]
    assert parallel["status"].tolist() == ["current"] and parallel["limit_days"].isna().all()
    tracked = projects[projects["status"] == "tracked"]
    handlings = handling_states(
        *dated["spgl_project_items"], set(tracked["project_code"]), pd.DataFrame(columns=["golden_case_id", "case_no"])
    )
    quarantined = handlings[handlings["status"] == "quarantined"]
    assert quarantined["note"].tolist() == ["unknown_outcome"]
    assert (handlings["note"] == "works_code_unknown").sum() == 1  # the 工程代码 a clerk mistyped: waiting
    linked = handlings[handlings["status"] == "linked"]
    environment = linked[linked["item_code"] == "000122001000"].merge(tracked[["project_code", "process_version"]])
    # 环评 in 并行推进 by the process's stage-item table; under the version the tables no longer carry, the bureau's
    # table places it (national stage 2)
    assert set(environment.loc[environment["process_version"] == "2.0", "national_stage"]) == {5}
    assert set(environment.loc[environment["process_version"] == "1.0", "national_stage"]) == {2}
    settings = ProjectDefinitions()
    current = stages[stages["status"] == "current"]
    limits = national_limits(tracked, current)
    today = dt.date(2026, 11, 5)
    rows = project_stage_rows(linked.assign(source="spgl"), calendar(), today, settings, limits)
    environment = rows[rows["stage"] == "环评"].merge(tracked[["project_code", "process_version"]])
    under_current = environment[environment["process_version"] == "2.0"]
    assert (under_current["national_stage"] == 5).all() and under_current["national_limit_days"].isna().all()
    clocks = project_clocks(tracked, linked, rows, calendar(), today, settings, None, limits)
    assert len(clocks) == len(tracked) and clocks["project_code"].is_unique  # a two-unit project is one project
    assert clocks["national_stages_late"].fillna("").str.contains("并行推进").sum() == 0
