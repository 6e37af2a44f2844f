"""Checks on the licence repository, one verdict per day (pipelines/partitions.py, daily_check), each over the
licences the day wrote events for (a day's load refolds exactly those)."""

import datetime as dt
from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa

from core.warehouse import Warehouse
from pipelines.licences.assets import IDENTIFIERS_VALID, NONE_VALID_PAST_END, ONE_HOLDER_PER_CODE, _today
from pipelines.metadata import check_result, md
from pipelines.partitions import Verdicts, daily_check, days_of
from pipelines.stage.checks import days_not_pulled
from schemas.identifiers import is_valid_licence_identifier, mask_identifier
from schemas.licences import VALID
from schemas.warehouse import holders, licence_events, licences


def _touched(first: dt.date, last: dt.date) -> sa.Select:
    e = licence_events.c
    return sa.select(e.licence_key).where(e.partition_date.between(first, last))


def _licences_of_days(warehouse: Warehouse, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The licences with events on the days first..last, one row per licence and day it had events on."""
    t, e = licences.c, licence_events.c
    days = sa.select(e.licence_key, e.partition_date).where(e.partition_date.between(first, last)).distinct().subquery()
    frame = warehouse.read(
        sa.select(
            t.licence_key, t.licence_id, t.licence_name, t.status, t.valid_to, t.holder_id, days.c.partition_date
        ).join_from(licences, days, days.c.licence_key == t.licence_key)
    )
    frame["valid_to"] = pd.to_datetime(frame["valid_to"])  # NaT: 长期有效
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.date
    return frame


def _verdicts(
    warehouse: Warehouse,
    days: list[dt.date],
    checked: pd.DataFrame,
    wrong: Callable[[pd.DataFrame], pd.DataFrame],
    what: str,
) -> Verdicts:
    """Per day: ``wrong`` rows of the day's licences fail it; a day with nothing to check because it was never
    pulled is a warning."""
    not_pulled = set(days_not_pulled(warehouse, days[0], days[-1]))
    verdicts = {}
    for day in days:
        of_day = days_of(checked, day)
        found = wrong(of_day)
        verdicts[day] = check_result(
            failing=not found.empty,
            unverified=["not pulled yet, no licence events"] if of_day.empty and day in not_pulled else [],
            metadata={"licences_checked": len(of_day), what: len(found), "examples": md(found.head(20))},
        )
    return verdicts


@daily_check(
    asset="licence_repository",
    name=IDENTIFIERS_VALID,
    description="Every 证照标识 of the day's licences has the GB/T 36904 layout and a correct MOD 37,36 check "
    "character.",
)
def licence_identifiers_valid(warehouse: Warehouse, days: list[dt.date]) -> Verdicts:
    def wrong(of_day: pd.DataFrame) -> pd.DataFrame:
        invalid = ~of_day["licence_id"].map(is_valid_licence_identifier).astype(bool)
        return of_day.loc[invalid, ["licence_key", "licence_id"]]

    return _verdicts(warehouse, days, _licences_of_days(warehouse, days[0], days[-1]), wrong, "invalid_identifiers")


@daily_check(
    asset="licence_repository",
    name=NONE_VALID_PAST_END,
    description="None of the day's licences is shown as 有效 after its end date (expiry is applied when a licence "
    "is refolded and daily by licence_expiry).",
)
def no_licence_valid_past_its_end_date(warehouse: Warehouse, days: list[dt.date]) -> Verdicts:
    today = pd.Timestamp(_today())

    def wrong(of_day: pd.DataFrame) -> pd.DataFrame:
        found = of_day[(of_day["status"] == VALID) & (of_day["valid_to"] < today)]
        return found.assign(valid_to=found["valid_to"].dt.date)[["licence_key", "licence_name", "valid_to"]]

    checked = _licences_of_days(warehouse, days[0], days[-1])
    return _verdicts(warehouse, days, checked, wrong, "valid_past_end_date")


@daily_check(
    asset="licence_repository",
    name=ONE_HOLDER_PER_CODE,
    description="Each identifier of a holder of the day's licences belongs to that one holder, so a holder's "
    "licences are one lookup.",
)
def one_holder_per_identifier(warehouse: Warehouse, days: list[dt.date]) -> Verdicts:
    checked = _licences_of_days(warehouse, days[0], days[-1])
    h = holders.c
    of_days = sa.select(licences.c.holder_id).where(licences.c.licence_key.in_(_touched(days[0], days[-1])))
    codes = warehouse.read(sa.select(h.holder_id, h.holder_code).where(h.holder_id.in_(of_days)))
    shared = warehouse.read(
        sa.select(h.holder_code, sa.func.count().label("holders"))
        .where(h.holder_code.in_(sa.select(h.holder_code).where(h.holder_id.in_(of_days))))
        .group_by(h.holder_code)
        .having(sa.func.count() > 1)
    )

    def wrong(of_day: pd.DataFrame) -> pd.DataFrame:
        found = shared[
            shared["holder_code"].isin(codes.loc[codes["holder_id"].isin(of_day["holder_id"]), "holder_code"])
        ]
        return found.assign(holder_code=found["holder_code"].map(mask_identifier))  # a 身份证号 stays masked in the UI

    return _verdicts(warehouse, days, checked, wrong, "identifiers_with_two_holders")


LICENCE_CHECKS = [licence_identifiers_valid, no_licence_valid_past_its_end_date, one_holder_per_identifier]
