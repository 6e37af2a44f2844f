"""The ``projects`` asset reads only the golden cases a project can concern: those a handling names by 办件编号 and
those of a stage item (offered for review when their applicant is a project's unit), and gets the same links and
review offers it got when it read every golden case."""

import datetime as dt

import pandas as pd
import pytest
from dagster import materialize

from core.warehouse import insert_frame
from pipelines.feeds.assets import projects_asset
from schemas.warehouse import (
    golden_cases,
    project_handlings,
    project_link_review,
    staged_project_items,
    staged_projects,
)

pytestmark = pytest.mark.unit

DAY = dt.date(2026, 11, 2)
AT = dt.datetime(2026, 11, 2, 18)
PROJECT = "2026-320412-36-03-303354"
UNIT = "91320412MA1XYZ1234"  # the project unit (建设单位)
LAND_ITEM = "000121001000"  # 用地预审与选址意见书: of the 用地 stage (schemas/codes/project_stages.csv)
OTHER_ITEM = "000102001000"  # 企业设立登记: no stage


def _golden(golden_id: str, item: str, applicant: str, case_no: str) -> dict:
    return {
        "golden_case_id": golden_id,
        "case_no": case_no,
        "item_code": item,
        "item_name": "事项",
        "applicant_name": "常州某建设有限公司",
        "applicant_id": applicant,
        "address": "武进区湖塘镇某路1号",
        "accepted_at": dt.datetime(2026, 11, 2, 9),
        "submitted_at": dt.datetime(2026, 11, 2, 9),
        "record_count": 1,
        "version": 1,
        "content_hash": golden_id,
        "first_partition": DAY,
        "updated_partition": DAY,
        "updated_at": AT,
    }


@pytest.fixture
def loaded(warehouse):
    with warehouse.begin() as conn:
        insert_frame(
            conn,
            golden_cases,
            pd.DataFrame(
                [
                    _golden("GC_LAND", LAND_ITEM, UNIT, "320412-LAND-1"),  # a stage item, no project code: offered
                    _golden("GC_NAMED", OTHER_ITEM, "91320412MA1OTHER01", "320412-NAMED-1"),  # a handling names it
                    _golden("GC_ELSE", OTHER_ITEM, UNIT, "320412-ELSE-1"),  # neither: of no project
                ]
            ),
        )
        insert_frame(
            conn,
            staged_projects,
            pd.DataFrame(
                [
                    {"source_system": "spgl_projects", "partition_date": DAY, "record_key": PROJECT,
                     "project_code": PROJECT, "project_name": "某厂房新建项目", "unit_name": "常州某建设有限公司",
                     "unit_id": UNIT, "site": "武进区湖塘镇某路1号"}
                ]
            ),
        )  # fmt: skip
        insert_frame(
            conn,
            staged_project_items,
            pd.DataFrame(
                [
                    {"source_system": "spgl_project_items", "partition_date": DAY, "record_key": "320412-NAMED-1",
                     "handling_id": "320412-NAMED-1", "project_code": PROJECT, "item_code": OTHER_ITEM,
                     "accepted_at": dt.datetime(2026, 11, 2, 9)}
                ]
            ),
        )  # fmt: skip
    return warehouse


def test_a_handling_links_the_case_it_names_and_a_stage_case_of_the_unit_is_offered(loaded):
    assert materialize([projects_asset], resources={"warehouse": loaded}).success
    handlings = loaded.read(project_handlings.select())
    assert handlings[["handling_id", "status", "golden_case_id"]].to_dict("records") == [
        {"handling_id": "320412-NAMED-1", "status": "linked", "golden_case_id": "GC_NAMED"}
    ]
    review = loaded.read(project_link_review.select())
    assert review[["golden_case_id", "project_code", "same_site"]].to_dict("records") == [
        {"golden_case_id": "GC_LAND", "project_code": PROJECT, "same_site": True}
    ]
