"""The department systems the bridge pulls from, each a configured connector of its system's kind."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.sources import DepartmentSource, FileDropSource, RestSource, SqlSource
from core import settings
from sandbox.runtime import HOUSING_TABLE


@dataclass(frozen=True)
class SourceSpec:
    name: str
    title: str  # the department's own name for its system
    kind: str  # rest / sql / files: shown as the asset's kind in the UI
    owner: str

    @property
    def asset_name(self) -> str:
        return f"raw_{self.name}"


SOURCES = (
    SourceSpec(
        "market_regulation",
        "区市场监督管理局 登记许可系统 (REST, 分页, 签名)",
        "rest",
        "team:market-regulation",
    ),
    SourceSpec("housing", "区住房和城乡建设局 施工许可业务库 (直连数据库)", "sql", "team:housing"),
    SourceSpec("health", "区卫生健康局 每日导出文件 (Excel/CSV, GBK)", "files", "team:health"),
    SourceSpec(
        "approval_platform",
        "区行政审批局 审批平台 (REST, 游标分页; 窗口补录)",
        "rest",
        "team:approval-bureau",
    ),
)


def source_resources() -> dict[str, DepartmentSource]:
    mr_key, mr_secret = settings.credentials("market_regulation")
    ap_key, ap_secret = settings.credentials("approval_platform")
    sandbox = settings.sandbox_dir()
    return {
        "market_regulation": RestSource(
            base_url=settings.setting("MARKET_REGULATION_BASE_URL", settings.sandbox_url("market_regulation")),
            path="/api/v1/cases",
            app_key=mr_key,
            app_secret=mr_secret,
            id_field="SBLSH",
            changed_field="GXSJ",
        ),
        "licence_feed": RestSource(  # the same registry's licence events
            base_url=settings.setting("MARKET_REGULATION_BASE_URL", settings.sandbox_url("market_regulation")),
            path="/api/v1/licences",
            app_key=mr_key,
            app_secret=mr_secret,
            id_field="JLBH",
            changed_field="GXSJ",
        ),
        "approval_platform": RestSource(
            base_url=settings.setting("APPROVAL_PLATFORM_BASE_URL", settings.sandbox_url("approval_platform")),
            path="/openapi/banjian/list",
            method="POST",
            paging="cursor",
            app_key=ap_key,
            app_secret=ap_secret,
            since_param="startTime",
            until_param="endTime",
            time_format="%Y-%m-%dT%H:%M:%S",
            size_param="size",
            records_path="data.list",
            id_field="caseNo",
            changed_field="updateTime",
        ),
        "housing": SqlSource(
            url=settings.setting("HOUSING_DB_URL", f"sqlite:///{sandbox / 'housing.sqlite'}"),
            table=HOUSING_TABLE,
            id_column="ywh",
            changed_column="gxsj",
        ),
        "health": FileDropSource(
            directory=settings.setting("HEALTH_DROP_DIR", str(sandbox / "health_drop")),
            pattern="health_cases_*",
            id_field="办件编号",
            changed_field="更新时间",
        ),
    }
