"""Checks on record resolution, one verdict per day, re-runnable on their own (pipelines/partitions.py,
daily_check)."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from core.warehouse import Warehouse
from pipelines.metadata import check_result, md
from pipelines.partitions import Verdicts, daily_check, days_of
from pipelines.stage.checks import days_not_pulled
from schemas.warehouse import case_links, golden_cases, staged_cases

ONE_ITEM = "one_item_per_golden_case"
IDENTITY = "staged_equals_golden_plus_duplicates"


def _same_record(left: sa.Table, right: sa.Table):
    return (
        (left.c.source_system == right.c.source_system)
        & (left.c.partition_date == right.c.partition_date)
        & (left.c.record_key == right.c.record_key)
    )


def linked_by_day(warehouse: Warehouse, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Per day from first to last: records staged, linked as golden and as duplicate, staged but not linked, and
    links whose staged record is gone."""
    s, link = staged_cases, case_links
    days = pd.DataFrame({"partition_date": pd.date_range(first, last).date})

    def per_day(query: sa.Select, name: str) -> pd.DataFrame:
        frame = warehouse.read(query.group_by(query.selected_columns[0]))
        frame.columns = ["partition_date", name]
        frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.date
        return frame

    in_days = s.c.partition_date.between(first, last)
    links_in_days = link.c.partition_date.between(first, last)

    def role(name: str):
        return sa.func.sum(sa.case((link.c.role == name, 1), else_=0))

    parts = [
        per_day(sa.select(s.c.partition_date, sa.func.count()).where(in_days), "staged"),
        per_day(sa.select(link.c.partition_date, role("golden")).where(links_in_days), "golden"),
        per_day(sa.select(link.c.partition_date, role("duplicate")).where(links_in_days), "duplicates"),
        per_day(
            sa.select(s.c.partition_date, sa.func.count())
            .select_from(s.outerjoin(link, _same_record(s, link)))
            .where(in_days & link.c.golden_case_id.is_(None)),
            "not_linked",
        ),
        per_day(
            sa.select(link.c.partition_date, sa.func.count())
            .select_from(link.outerjoin(s, _same_record(link, s)))
            .where(links_in_days & s.c.source_record_id.is_(None)),
            "links_without_record",
        ),
    ]
    for part in parts:
        days = days.merge(part, on="partition_date", how="left")
    days = days.fillna(0)
    days[days.columns[1:]] = days[days.columns[1:]].astype(int)
    days["difference"] = days["staged"] - days["golden"] - days["duplicates"]
    return days


def golden_cases_not_one_winner(warehouse: Warehouse, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Golden cases linked from the days first..last that do not have exactly one golden (winning) record, or
    have no row in ``golden_cases``."""
    link = case_links.c
    touched = sa.select(link.golden_case_id).where(link.partition_date.between(first, last))
    winners = sa.func.sum(sa.case((link.role == "golden", 1), else_=0))
    frame = warehouse.read(
        sa.select(
            link.golden_case_id,
            winners.label("golden_records"),
            sa.func.count().label("records"),
            sa.func.max(golden_cases.c.golden_case_id).label("built"),
        )
        .select_from(case_links.outerjoin(golden_cases, golden_cases.c.golden_case_id == link.golden_case_id))
        .where(link.golden_case_id.in_(touched))
        .group_by(link.golden_case_id)
    )
    frame["in_golden_cases"] = frame.pop("built").notna()
    return frame[(frame["golden_records"] != 1) | ~frame["in_golden_cases"]].reset_index(drop=True)


def golden_cases_with_two_items(warehouse: Warehouse, first, last) -> list[tuple[str, str]]:
    """Golden cases linked from the days ``first``..``last`` whose records (each source record in its newest
    state) carry more than one catalogue item code: (golden case, its codes). The days' golden cases first, then
    their records by index: the read grows with the days, not with the history."""
    s, newer = staged_cases.alias("s"), staged_cases.alias("newer")
    links = case_links.alias("l")
    touched = (
        sa.select(case_links.c.golden_case_id)
        .where(case_links.c.partition_date.between(first, last))
        .distinct()
        .subquery()  # anonymous: its own rows, a few hundred a day, are what it reads (tests/test_growth.py)
    )
    joined = touched.join(links, links.c.golden_case_id == touched.c.golden_case_id).join(
        s,
        (s.c.source_system == links.c.source_system)
        & (s.c.partition_date == links.c.partition_date)
        & (s.c.record_key == links.c.record_key),
    )
    superseded = sa.exists().where(
        (newer.c.source_system == s.c.source_system)
        & (newer.c.source_record_id == s.c.source_record_id)
        & (newer.c.partition_date > s.c.partition_date)
    )
    codes = warehouse.read(
        sa.select(links.c.golden_case_id, s.c.item_code)
        .select_from(joined)
        .where(s.c.item_code.is_not(None) & (s.c.item_code != "") & ~superseded)
        .distinct()
    )
    several = codes[codes.groupby("golden_case_id")["item_code"].transform("size") > 1]
    several = several.sort_values(["golden_case_id", "item_code"])
    return [(gc, ", ".join(group["item_code"])) for gc, group in several.groupby("golden_case_id")]


def golden_cases_by_day(warehouse: Warehouse, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The (golden case, day) pairs of the links of the days first..last: which days touched which golden case."""
    link = case_links.c
    frame = warehouse.read(
        sa.select(link.golden_case_id, link.partition_date).where(link.partition_date.between(first, last)).distinct()
    )
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.date
    return frame


@daily_check(
    asset="case_resolution",
    name=ONE_ITEM,
    blocking=True,
    description="No golden case linked from the day holds records with two different catalogue item codes "
    "(aliases are one code after staging; a source record counts in its newest state): a false merge would lose a "
    "case at every receiver.",
)
def one_item_per_golden_case(warehouse: Warehouse, days: list[dt.date]) -> Verdicts:
    found = dict(golden_cases_with_two_items(warehouse, days[0], days[-1]))
    touched = golden_cases_by_day(warehouse, days[0], days[-1])
    verdicts = {}
    for day in days:
        of_day = sorted(set(days_of(touched, day)["golden_case_id"]) & set(found))
        listed = "\n".join(f"- {gc}: {found[gc]}" for gc in of_day[:20])
        verdicts[day] = AssetCheckResult(
            passed=not of_day,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "golden_cases_checked": int(days_of(touched, day)["golden_case_id"].nunique()),
                "golden_cases_with_two_items": len(of_day),
                "examples": MetadataValue.md(listed or "none"),
            },
        )
    return verdicts


@daily_check(
    asset="case_resolution",
    name=IDENTITY,
    blocking=True,
    description="Per day: staged records = golden records + duplicates linked to them (each staged record has "
    "exactly one link, no link outlives its record), and every golden case linked from the day has exactly one "
    "winning record and a row in golden_cases. A day not pulled yet cannot be verified: a warning.",
)
def staged_equals_golden_plus_duplicates(warehouse: Warehouse, days: list[dt.date]) -> Verdicts:
    first, last = days[0], days[-1]
    by_day = linked_by_day(warehouse, first, last)
    winners = golden_cases_not_one_winner(warehouse, first, last)
    touched = golden_cases_by_day(warehouse, first, last)
    not_pulled = set(days_not_pulled(warehouse, first, last))
    verdicts = {}
    for day in days:
        figures = days_of(by_day, day).iloc[0]
        wrong = bool(figures["difference"] != 0 or figures["not_linked"] > 0 or figures["links_without_record"] > 0)
        of_day = winners[winners["golden_case_id"].isin(days_of(touched, day)["golden_case_id"])]
        empty = figures["staged"] + figures["golden"] + figures["duplicates"] == 0
        verdicts[day] = check_result(
            failing=wrong or not of_day.empty,
            unverified=["not pulled yet, nothing staged"] if day in not_pulled and empty else [],
            metadata={
                **{name: int(figures[name]) for name in by_day.columns if name != "partition_date"},
                "golden_cases_without_one_winner": len(of_day),
                "examples": md(of_day.head(20)),
            },
        )
    return verdicts
