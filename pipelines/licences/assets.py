"""``licence_repository`` (电子证照库): the licences completed golden cases produced, keyed by holder."""

import datetime as dt
import hashlib

import pandas as pd
import sqlalchemy as sa
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipelines.partitions import DAILY, partition_window
from pipelines.warehouse import Warehouse, insert_frame
from schemas.case import COMPLETED_STATUSES, departments, items
from schemas.identifiers import ID_KIND_USCC, is_valid_licence_identifier, make_licence_identifier
from schemas.warehouse import case_links, golden_cases, licences

ISSUER = "approval_bureau"  # after 相对集中行政许可权 the bureau issues in its own name
IDENTIFIERS_VALID = "licence_identifiers_valid"


def _serial(golden_ids: pd.Series) -> pd.Series:
    return golden_ids.map(lambda g: str(int(hashlib.sha1(g.encode()).hexdigest()[:10], 16) % 10**6).zfill(6))


def licence_numbers(cases: pd.DataFrame) -> pd.Series:
    """The number printed on each licence, in the format its type uses (see docs on licence numbers)."""
    serial, issued = _serial(cases["golden_case_id"]), cases["completed_at"].dt.strftime("%Y%m%d")
    name = cases["licence_name"]
    numbers = "WJ" + cases["item_code"].str.slice(-6) + issued + serial
    # 营业执照: the number is the holder's 统一社会信用代码 (三证合一).
    numbers = numbers.where(
        ~((name == "营业执照") & (cases["applicant_id_kind"] == ID_KIND_USCC)), cases["applicant_id"]
    )
    # 食品经营许可证: JY + 主体业态 (2 餐饮服务) + region 320412 + serial; the check digit is unpublished: 0 stands in.
    numbers = numbers.where(name != "食品经营许可证", "JY2320412" + serial + "0")
    # 建筑工程施工许可证: region + date + 2-digit same-day serial + 专业分类 01.
    numbers = numbers.where(name != "建筑工程施工许可证", "320412" + issued + serial.str.slice(-2) + "01")
    return numbers


def build_licences(cases: pd.DataFrame, partition: dt.date) -> pd.DataFrame:
    catalogue = items().set_index("item_code")
    cases = cases[cases["status"].isin(COMPLETED_STATUSES) & cases["completed_at"].notna()].copy()
    cases["licence_type_code"] = cases["item_code"].map(catalogue["licence_type_code"])
    cases = cases[cases["licence_type_code"].fillna("") != ""]
    if cases.empty:
        return pd.DataFrame(columns=[c.name for c in licences.columns])
    cases["licence_name"] = cases["item_code"].map(catalogue["licence_name"])
    issuer = departments().set_index("department_code").loc[ISSUER]
    numbers = licence_numbers(cases)
    # 流水号: the golden case id, upper-case alphanumeric and unique per issued licence.
    identifiers = [
        make_licence_identifier(t, issuer["issuer_uscc"], s)
        for t, s in zip(cases["licence_type_code"], cases["golden_case_id"], strict=True)
    ]
    issue_date = cases["completed_at"].dt.normalize()
    years = pd.to_numeric(cases["item_code"].map(catalogue["validity_years"]), errors="coerce")
    valid_to = pd.Series(
        [
            d + pd.DateOffset(years=int(y)) - pd.Timedelta(days=1) if pd.notna(y) else pd.NaT
            for d, y in zip(issue_date, years, strict=True)
        ],
        index=cases.index,
    )
    today = pd.Timestamp(dt.date.today())
    return pd.DataFrame(
        {
            "licence_id": identifiers,
            "licence_type_code": cases["licence_type_code"],
            "licence_name": cases["licence_name"],
            "licence_no": numbers,
            "holder_name": cases["applicant_name"],
            "holder_id": cases["applicant_id"],
            "holder_id_kind": cases["applicant_id_kind"],
            "issuer_name": issuer["department_name"],
            "issuer_code": issuer["issuer_uscc"],
            "issue_date": issue_date.dt.date,
            "valid_from": issue_date.dt.date,
            "valid_to": pd.to_datetime(valid_to).dt.date,
            "status": ["过期失效" if pd.notna(v) and v < today else "有效" for v in valid_to],
            "golden_case_id": cases["golden_case_id"],
            "partition_date": partition,
        }
    )


@asset(
    deps=["case_resolution"],
    partitions_def=DAILY,
    group_name="licences",
    kinds={"sqlalchemy"},
    owners=["team:data-platform"],
    check_specs=[
        AssetCheckSpec(
            IDENTIFIERS_VALID,
            asset="licence_repository",
            description="Every 证照标识 has the GB/T 36904 layout and a correct MOD 37,36 check character.",
        ),
    ],
    description="电子证照库: one licence per completed golden case whose item issues one (营业执照, 食品经营许可证, "
    "施工许可证 …), with 证照标识 (GB/T 36904), number, issuer, validity, and the holder's identifier as the key "
    "every department can look up.",
)
def licence_repository(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    _, _, partition = partition_window(context)
    with warehouse.begin() as conn:
        touched = sa.select(case_links.c.golden_case_id).where(case_links.c.partition_date == partition)
        cases = warehouse.read(sa.select(golden_cases).where(golden_cases.c.golden_case_id.in_(touched)), conn)
        for column in ("submitted_at", "completed_at"):
            cases[column] = pd.to_datetime(cases[column])
        built = build_licences(cases, partition)
        conn.execute(licences.delete().where(licences.c.golden_case_id.in_(touched)))
        insert_frame(conn, licences, built)
        total = conn.execute(sa.select(sa.func.count()).select_from(licences)).scalar_one()
    valid_ids = bool(pd.Series(built["licence_id"]).map(is_valid_licence_identifier).all()) if len(built) else True
    by_type = built.groupby("licence_name").size().rename("licences").reset_index() if len(built) else pd.DataFrame()
    return MaterializeResult(
        metadata={
            "dagster/row_count": int(total),
            "licences_from_day": len(built),
            "by_type": MetadataValue.md(by_type.to_markdown(index=False) if len(by_type) else "none"),
        },
        check_results=[
            AssetCheckResult(check_name=IDENTIFIERS_VALID, passed=valid_ids, metadata={"checked": len(built)})
        ],
    )
