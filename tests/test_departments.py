"""Departments as configuration: a declaration file is all a department system needs.

A fifth system (the district development-and-reform bureau's project platform, exporting a daily GBK CSV)
is declared here in a file of the test's own, and its records are pulled, staged and resolved into golden
cases without a line of Python naming it.
"""

from __future__ import annotations

import ast
import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core import departments as declared

ROOT = Path(__file__).resolve().parents[1]
PRODUCT_PACKAGES = ("core", "schemas", "connectors", "staging", "resolution", "delivery", "licensing", "reporting",
                    "pipelines", "cli", "sharing", "dashboard")  # fmt: skip
DAY = dt.date(2026, 11, 16)

FIFTH = textwrap.dedent(
    """\
    # 区发展和改革局 投资项目在线审批监管平台: a daily export, GBK, dropped into a folder.
    name: development_reform
    title: 区发展和改革局 投资项目在线审批监管平台 (每日导出, GBK)
    system_name: 发改投资项目平台
    short_name: 发改
    owner: team:development-reform
    role: department
    assumed: the export's headings and status texts are as the platform's staff described them; confirm on a real file
    environment:
      endpoint:
        variable: DEVELOPMENT_REFORM_DROP_DIR
        sandbox: "{sandbox_dir}/development_reform_drop"
    connector:
      kind: files
      pattern: fgj_xmba_*
      encodings: [utf-8, gb18030]
      id_field: 申报号
      changed_field: 更新时间
    mapping:
      fields:
        source_record_id: 申报号
        case_no: 申报号
        item_code: 事项代码
        item_name: 事项名称
        applicant_name: 单位名称
        applicant_id: 统一社会信用代码
        contact_phone: 联系电话
        address: 项目地址
        submitted_at: 申报时间
        accepted_at: 受理时间
        completed_at: 办结时间
        status: 状态
      statuses:
        待受理: 申报
        已受理: 受理
        已办结: 办结
      applicant_types:
        "": legal_person
      item_codes:
        FG-TZBA: "000190001000"
    """
)
# Three filings of one day, written as the platform exports them (GBK, CRLF); the third has a status the
# declaration does not map, so it is quarantined with the system's own name in the reason.
EXPORT = (
    "申报号,事项代码,事项名称,单位名称,统一社会信用代码,联系电话,项目地址,申报时间,受理时间,办结时间,状态,更新时间\r\n"
    "FG2026111601,FG-TZBA,企业投资项目备案,常州恒达科技有限公司,9132041258558635XF,13912345678,武进区湖塘镇,"
    "2026-11-16 09:10,2026-11-16 09:30,,已受理,2026-11-16 09:30\r\n"
    "FG2026111602,FG-TZBA,企业投资项目备案,江苏武进精工机械有限公司,91320412MA1MGBN10R,0519-86543210,"
    "武进高新区,2026-11-16 10:00,2026-11-16 10:20,2026-11-16 15:00,已办结,2026-11-16 15:00\r\n"
    "FG2026111603,FG-TZBA,企业投资项目备案,常州西太湖新材料有限公司,91320412MACUC3CG71,13800000000,"
    "西太湖科技产业园,2026-11-16 11:00,,,退回修改,2026-11-16 11:00\r\n"
)


@pytest.fixture
def fifth(tmp_path, monkeypatch):
    """The fifth system's declaration in a folder of its own, and its export in its drop folder."""
    folder = tmp_path / "departments"
    folder.mkdir()
    (folder / "development_reform.yaml").write_text(FIFTH, encoding="utf-8")
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / f"fgj_xmba_{DAY:%Y%m%d}.csv").write_bytes(EXPORT.encode("gbk"))
    monkeypatch.setenv(declared.DIRS_VARIABLE, str(folder))
    monkeypatch.setenv("DEVELOPMENT_REFORM_DROP_DIR", str(drop))
    return folder


# ------------------------------------------------------------------ the declarations themselves


@pytest.mark.unit
def test_shipped_declarations_load():
    found = declared.departments()
    assert set(found) == {"market_regulation", "housing", "health", "approval_platform", "enterprise_startup"}
    assert declared.department_systems() == ("enterprise_startup", "health", "housing", "market_regulation")
    assert declared.source_priority()["approval_platform"] > declared.source_priority()["housing"]
    assert set(declared.licence_feeds()) == {"market_regulation"}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("短", "短"), None),  # sanity: the declaration as written loads
        (("已办结: 办结", "已办结: 完成"), "statuses map onto ['完成'], which are not 办件状态"),
        (("address: 项目地址", "site: 项目地址"), "fields maps unknown canonical columns ['site']"),
        (("kind: files", "kind: ftp"), "connector.kind"),
        (("owner: team:development-reform", "owner: 发改局"), "owner"),
        (('"": legal_person', '"": company'), "applicant_types map onto ['company']"),
        (("assumed: the export's", "# the export's"), "neither source nor assumed: name exactly one"),
        (("role: department", "role: department\nsource: GB/T 39046"), "both source and assumed: name exactly one"),
    ],
)
def test_a_bad_declaration_is_refused_in_one_line_naming_the_file(tmp_path, monkeypatch, change, message):
    folder = tmp_path / "departments"
    folder.mkdir()
    (folder / "development_reform.yaml").write_text(FIFTH.replace(*change), encoding="utf-8")
    monkeypatch.setenv(declared.DIRS_VARIABLE, str(folder))
    if message is None:
        assert "development_reform" in declared.departments()
        return
    with pytest.raises(declared.DeclarationError) as refused:
        declared.departments()
    text = str(refused.value)
    assert "development_reform.yaml" in text and message in text and "\n" not in text


@pytest.mark.unit
def test_two_systems_cannot_share_a_variable_and_a_file_is_named_after_its_system(tmp_path, monkeypatch):
    from core import settings

    folder = tmp_path / "departments"
    folder.mkdir()
    (folder / "development_reform.yaml").write_text(
        FIFTH.replace("DEVELOPMENT_REFORM_DROP_DIR", "HEALTH_DROP_DIR"), encoding="utf-8"
    )
    monkeypatch.setenv(declared.DIRS_VARIABLE, str(folder))
    with pytest.raises(declared.DeclarationError, match="HEALTH_DROP_DIR is declared by both"):
        declared.departments()
    (folder / "development_reform.yaml").write_text(
        FIFTH.replace("DEVELOPMENT_REFORM_DROP_DIR", "MUNICIPAL_BASE_URL"), encoding="utf-8"
    )
    with pytest.raises(settings.ConfigurationError, match="MUNICIPAL_BASE_URL is read twice"):
        settings.variables()
    (folder / "development_reform.yaml").rename(folder / "fgj.yaml")
    with pytest.raises(declared.DeclarationError, match=r"expected development_reform\.yaml"):
        declared.departments()
    (folder / "fgj.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(declared.DeclarationError, match="a declaration is a mapping"):
        declared.departments()


@pytest.mark.unit
def test_the_sandbox_publishes_what_the_declarations_expect():
    """The stand-ins answer on the ports, with the credentials and table, that the sandbox profile uses."""
    from sandbox.runtime import CREDENTIALS, DEFAULT_PORTS, HOUSING_TABLE

    for name, (key, secret) in CREDENTIALS.items():
        if name in declared.departments():
            environment = declared.department(name).environment
            assert (environment["app_key"].sandbox, environment["app_secret"].sandbox) == (key, secret)
            assert environment["endpoint"].sandbox == f"http://127.0.0.1:{DEFAULT_PORTS[name]}"
    assert declared.department("housing").connector.settings["table"] == HOUSING_TABLE


def platform_vocabulary() -> set[str]:
    """Names the receivers and the sharing API define for themselves (the province's exchange columns, the
    municipal intake's JSON keys, the API's parameters): a department system may happen to use them too."""
    from connectors.municipal import document_map
    from connectors.province import profile
    from sharing.api import create_app

    spec = create_app("sqlite://").openapi()
    parameters = {
        p["name"] for path in spec["paths"].values() for op in path.values() for p in op.get("parameters", [])
    }
    province = {column for table in profile("national").tables.values() for column in table.columns}
    return province | set(document_map("municipal").fields) | parameters | {"size"}


@pytest.mark.unit
def test_no_product_python_names_a_department_system():
    """System names, titles, local item codes, connector settings and field names live in the declarations
    only (the sandbox and the tests may name them: they stand in for the systems)."""
    from schemas.case import APPROVAL_MODES, CASE_COLUMNS, CHANNELS, DELIVERY_METHODS, field_labels

    names, fields = set(), set()
    for department in declared.departments().values():
        names |= {department.name, department.system_name, department.title, *department.mapping.item_codes}
        names |= {v for v in department.connector.settings.values() if isinstance(v, str) and "/" in v}
        fields |= set(department.mapping.fields.values())
        if department.licence_feed:
            fields |= set(department.licence_feed.fields.values())
    # the canonical vocabulary is the product's, even where a system's field happens to share a word ("mobile")
    # and so are its fields' names in a clerk's words (办件编号 …), which a system's export may use as headers
    vocabulary = {*CASE_COLUMNS, *CHANNELS, *DELIVERY_METHODS, *APPROVAL_MODES, *field_labels().values()}
    names |= fields - vocabulary - platform_vocabulary()
    assert {"market_regulation", "SBLSH", "ywh", "证件号码", "SCJG-QYSL", "/api/v1/cases", "CZLX"} <= names
    found = []
    for package in PRODUCT_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
                if (
                    isinstance(node, ast.Name | ast.Attribute | ast.keyword)
                    and (getattr(node, "id", None) or getattr(node, "attr", None) or getattr(node, "arg", None))
                    in declared.departments()
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert found == []


# ------------------------------------------------------------------ a fifth system, by a file alone


@pytest.mark.unit
def test_a_fifth_system_by_file_is_configured_everywhere(fifth):
    from core import settings
    from pipelines.pull.assets import build_raw_asset
    from pipelines.resources import build_resources

    assert "development_reform" in declared.departments()
    assert "DEVELOPMENT_REFORM_DROP_DIR" in {v.name for v in settings.variables()}
    resources = build_resources()
    assert resources["development_reform"].department == "development_reform"
    asset = build_raw_asset(declared.department("development_reform"))
    assert asset.key.to_user_string() == "raw_development_reform"
    assert asset.op.pool == "source_development_reform"
    assert asset.specs_by_key[asset.key].owners == ["team:development-reform"]


@pytest.mark.unit
def test_a_fifth_system_by_file_reaches_the_golden_cases(fifth, tmp_path):
    from dagster import materialize

    from core.warehouse import Warehouse
    from pipelines.pull.assets import build_raw_asset
    from pipelines.resolve.assets import case_resolution
    from pipelines.resources import WarehouseResource, case_numbering, department_resource
    from pipelines.stage.assets import stage

    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    raw = build_raw_asset(declared.department("development_reform"))
    result = materialize(
        [raw, stage, case_resolution],
        partition_key=str(DAY),
        resources={
            "warehouse": WarehouseResource(url=url),
            "development_reform": department_resource(declared.department("development_reform")),
            "case_numbering": case_numbering(),  # where new 办件编号 come from (the bridge's serials by default)
        },
        raise_on_error=False,
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    warehouse = Warehouse(url=url)
    staged = warehouse.read("SELECT source_record_id, item_code, status, applicant_type FROM staged_cases")
    quarantined = warehouse.read("SELECT source_record_id, reason_code, reason FROM quarantined_records")
    golden = warehouse.read("SELECT golden_case_id, item_code, applicant_name FROM golden_cases")
    assert sorted(staged["source_record_id"]) == ["FG2026111601", "FG2026111602"]
    assert set(staged["item_code"]) == {"000190001000"}  # the local code through the declaration's map
    assert set(staged["status"]) == {"受理", "办结"} and set(staged["applicant_type"]) == {"legal_person"}
    assert quarantined["source_record_id"].tolist() == ["FG2026111603"]
    assert quarantined["reason_code"].tolist() == ["unknown_status"]
    assert "退回修改" in quarantined["reason"].iloc[0]
    assert sorted(golden["applicant_name"]) == ["常州恒达科技有限公司", "江苏武进精工机械有限公司"]
    warehouse.dispose()


@pytest.mark.integration
def test_the_code_location_grows_an_asset_for_a_fifth_system(fifth):
    """Loaded as the UI loads it (a fresh process): the new system's pull is an asset of the daily job."""
    script = (
        "from pipelines.definitions import defs\n"
        "job = defs.resolve_job_def('daily_cases')\n"
        "print(sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys if 'raw_' in str(k)))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=dict(os.environ), capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "'raw_development_reform'" in run.stdout and "'raw_housing'" in run.stdout


@pytest.mark.unit
def test_every_declared_system_and_feed_builds_its_connector():
    from dagster import build_resources

    from connectors.sources import FileDropSource, RestSource, SqlSource
    from pipelines.resources import build_resources as pipeline_resources

    configured = pipeline_resources()
    keys = [k for k in configured if k in declared.departments() or k.endswith("_licences")]
    with build_resources({k: configured[k] for k in keys}) as built:
        assert isinstance(built.market_regulation, RestSource) and built.market_regulation.path == "/api/v1/cases"
        assert built.market_regulation_licences.path == "/api/v1/licences"
        assert built.market_regulation_licences.app_key == built.market_regulation.app_key  # one system, one key
        assert isinstance(built.housing, SqlSource) and built.housing.table == "t_sgxk_bj"
        assert isinstance(built.health, FileDropSource) and built.health.encodings == ["utf-8", "gb18030"]
        assert built.approval_platform.paging == "cursor" and built.approval_platform.method == "POST"
