"""Checks on the licence repository that can be re-run on their own (Dagster UI: the check's "Execute"), each over
the licences the run's days wrote events for (a day's load refolds exactly those)."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import AssetCheckExecutionContext, AssetCheckResult, ResourceParam

from core.warehouse import Warehouse
from pipelines.licences.assets import IDENTIFIERS_VALID, NONE_VALID_PAST_END, ONE_HOLDER_PER_CODE, _today
from pipelines.metadata import check_result, md
from pipelines.partitions import daily_check, run_window
from pipelines.stage.checks import days_not_pulled
from schemas.identifiers import is_valid_licence_identifier, mask_identifier
from schemas.licences import VALID
from schemas.warehouse import holders, licence_events, licences


def _touched(first: dt.date, last: dt.date) -> sa.Select:
    e = licence_events.c
    return sa.select(e.licence_key).where(e.partition_date.between(first, last))


def _licences_of_days(warehouse: Warehouse, first: dt.date, last: dt.date) -> pd.DataFrame:
    t = licences.c
    frame = warehouse.read(
        sa.select(t.licence_key, t.licence_id, t.licence_name, t.status, t.valid_to, t.holder_id).where(
            t.licence_key.in_(_touched(first, last))
        )
    )
    frame["valid_to"] = pd.to_datetime(frame["valid_to"])  # NaT: 长期有效
    return frame


def _verdict(context, warehouse: Warehouse, checked: pd.DataFrame, wrong: pd.DataFrame, what: str) -> AssetCheckResult:
    """Wrong rows fail the check; a day with nothing to check because it was never pulled is a warning."""
    first, last = run_window(context)
    unverified = []
    if checked.empty:
        unverified = [f"{d}: not pulled yet, no licence events" for d in days_not_pulled(warehouse, first, last)]
    return check_result(
        failing=not wrong.empty,
        unverified=unverified,
        metadata={
            "days": (last - first).days + 1,
            "licences_checked": len(checked),
            what: len(wrong),
            "examples": md(wrong.head(20)),
        },
    )


@daily_check(
    asset="licence_repository",
    name=IDENTIFIERS_VALID,
    description="Every 证照标识 of the day's licences has the GB/T 36904 layout and a correct MOD 37,36 check "
    "character.",
)
def licence_identifiers_valid(
    context: AssetCheckExecutionContext, warehouse: ResourceParam[Warehouse]
) -> AssetCheckResult:
    first, last = run_window(context)
    checked = _licences_of_days(warehouse, first, last)
    wrong = checked[~checked["licence_id"].map(is_valid_licence_identifier).astype(bool)]
    return _verdict(context, warehouse, checked, wrong[["licence_key", "licence_id"]], "invalid_identifiers")


@daily_check(
    asset="licence_repository",
    name=NONE_VALID_PAST_END,
    description="None of the day's licences is shown as 有效 after its end date (expiry is applied when a licence "
    "is refolded and daily by licence_expiry).",
)
def no_licence_valid_past_its_end_date(
    context: AssetCheckExecutionContext, warehouse: ResourceParam[Warehouse]
) -> AssetCheckResult:
    first, last = run_window(context)
    checked = _licences_of_days(warehouse, first, last)
    today = _today()
    wrong = checked[(checked["status"] == VALID) & (checked["valid_to"] < pd.Timestamp(today))]
    wrong = wrong.assign(valid_to=wrong["valid_to"].dt.date)
    return _verdict(
        context, warehouse, checked, wrong[["licence_key", "licence_name", "valid_to"]], "valid_past_end_date"
    )


@daily_check(
    asset="licence_repository",
    name=ONE_HOLDER_PER_CODE,
    description="Each identifier of a holder of the day's licences belongs to that one holder, so a holder's "
    "licences are one lookup.",
)
def one_holder_per_identifier(
    context: AssetCheckExecutionContext, warehouse: ResourceParam[Warehouse]
) -> AssetCheckResult:
    first, last = run_window(context)
    checked = _licences_of_days(warehouse, first, last)
    h = holders.c
    of_days = sa.select(licences.c.holder_id).where(licences.c.licence_key.in_(_touched(first, last)))
    wrong = warehouse.read(
        sa.select(h.holder_code, sa.func.count().label("holders"))
        .where(h.holder_code.in_(sa.select(h.holder_code).where(h.holder_id.in_(of_days))))
        .group_by(h.holder_code)
        .having(sa.func.count() > 1)
    )
    wrong["holder_code"] = wrong["holder_code"].map(mask_identifier)  # a person's 身份证号 stays masked in the UI
    return _verdict(context, warehouse, checked, wrong, "identifiers_with_two_holders")


LICENCE_CHECKS = [licence_identifiers_valid, no_licence_valid_past_its_end_date, one_holder_per_identifier]
