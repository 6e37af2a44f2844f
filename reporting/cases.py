"""Finding a golden case by what a person knows of it, and what a person is shown of one (查办件).

``find`` takes one text and looks for it, in this order of precision (every way is tried; a case found several
ways says each):

- ``golden id``: the bridge's own id (``GC…``), exactly;
- ``办件编号``: a number the case is or was known under (a department's own, one the bridge allocated, one it
  withdrew), exactly, as ``resolution.evaluations.number_index`` links evaluations and 12345 orders;
- ``record``: a source record's id, exactly (``SOURCE:ID`` narrows it to one source system);
- ``identifier``: an applicant's 统一社会信用代码 or 身份证号, exactly once both are normalised as staging does
  (``schemas.identifiers.classify_identifiers``: NFKC, no spaces or dashes, upper case, 15-digit numbers upgraded);
- ``applicant name``: a name containing the text, both NFKC-normalised without spaces (staging stores names so),
  in any record of the case, so a re-entry's misspelling finds its case too.

``describe`` gives, per golden case: the applicant (a 身份证号 masked, as the correction lists show it:
``reporting.corrections.applicant_text``; never a phone), the item, status and dates, the 办件编号 it goes out under
(a department's own, else the earliest stored: the rule ``resolution.numbering`` chose it by),
the numbers withdrawn in its favour, and its records with their sources.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from core.warehouse import in_lists
from reporting.corrections import applicant_text
from resolution.evaluations import number_index
from schemas.identifiers import classify_identifiers
from schemas.warehouse import case_links, case_numbers, golden_cases, staged_cases

BY_GOLDEN_ID, BY_NUMBER, BY_RECORD, BY_IDENTIFIER, BY_NAME = (
    "golden id",
    "办件编号",
    "record",
    "identifier",
    "applicant name",
)


def _staged_with_links() -> sa.Join:
    """Each staged record beside its link to a golden case (one per record)."""
    s, link = staged_cases.c, case_links.c
    return staged_cases.join(
        case_links,
        (link.source_system == s.source_system)
        & (link.partition_date == s.partition_date)
        & (link.record_key == s.record_key),
    )


def _linked(where) -> sa.Select:
    """Golden ids of the staged records matching ``where``."""
    link = case_links.c
    return sa.select(link.golden_case_id).select_from(_staged_with_links()).where(where).distinct()


def find(warehouse, text: str) -> pd.DataFrame:
    """The golden cases ``text`` names, each once: golden_case_id, matched (the ways it matched, most precise
    first), newest first (by the day it last changed)."""
    plain = unicodedata.normalize("NFKC", text).strip()
    compact = "".join(plain.split())
    if not compact:
        return pd.DataFrame(columns=["golden_case_id", "matched"])
    g, s = golden_cases.c, staged_cases.c
    found: list[pd.DataFrame] = []

    def add(query: sa.Select, how: str) -> None:
        ids = warehouse.read(query)["golden_case_id"]
        found.append(pd.DataFrame({"golden_case_id": ids.astype("string"), "matched": how}))

    add(sa.select(g.golden_case_id).where(g.golden_case_id == compact.upper()), BY_GOLDEN_ID)
    with warehouse.engine.connect() as conn:
        numbers = number_index(conn, case_nos=sorted({compact, compact.upper()}))
    found.append(pd.DataFrame({"golden_case_id": numbers["golden_case_id"].astype("string"), "matched": BY_NUMBER}))
    system, colon, record = compact.partition(":")
    by_record = (s.source_system == system) & (s.source_record_id == record) if colon else s.source_record_id == compact
    add(_linked(by_record), BY_RECORD)
    identifier = classify_identifiers(pd.Series([compact], dtype="string"))["id"].iloc[0]
    if isinstance(identifier, str) and len(identifier) >= 15:  # a 15- or 18-character number, not a fragment
        add(_linked(s.applicant_id == identifier), BY_IDENTIFIER)
    add(_linked(s.applicant_name.contains(compact, autoescape=True)), BY_NAME)

    matched = pd.concat(found, ignore_index=True).dropna(subset=["golden_case_id"])
    if matched.empty:
        return pd.DataFrame(columns=["golden_case_id", "matched"])
    order = {how: i for i, how in enumerate((BY_GOLDEN_ID, BY_NUMBER, BY_RECORD, BY_IDENTIFIER, BY_NAME))}
    matched = matched.drop_duplicates().assign(rank=matched["matched"].map(order)).sort_values("rank")
    ways = matched.groupby("golden_case_id", sort=False)["matched"].agg(", ".join).reset_index()
    newest = _golden(warehouse, ways["golden_case_id"].tolist())[["golden_case_id", "updated_partition"]]
    ways = ways.merge(newest, how="left").sort_values(["updated_partition", "golden_case_id"], ascending=False)
    return ways[["golden_case_id", "matched"]].reset_index(drop=True)


@dataclass(frozen=True)
class Case:
    """A golden case as a person is shown it (personal data masked)."""

    golden_case_id: str
    applicant: str
    item: str
    status: str
    submitted: dt.date | None
    handling_dept: str
    version: int
    number: str | None  # the 办件编号 it goes out under
    withdrawn: list[tuple[str, str]] = field(default_factory=list)  # (number, replaced by)
    records: pd.DataFrame = field(default_factory=pd.DataFrame)  # source_system, source_record_id, role, days

    @property
    def sources(self) -> str:
        return ", ".join(sorted(set(self.records["source_system"]))) if len(self.records) else ""


def _golden(warehouse, ids: list[str]) -> pd.DataFrame:
    frames = [
        warehouse.read(sa.select(golden_cases).where(golden_cases.c.golden_case_id.in_(c))) for c in in_lists(ids)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[c.name for c in golden_cases.c])


def _records(warehouse, ids: list[str]) -> pd.DataFrame:
    s, link = staged_cases.c, case_links.c
    joined = _staged_with_links()
    columns = (link.golden_case_id, s.source_system, s.source_record_id, link.role, link.partition_date)
    frames = [
        warehouse.read(sa.select(*columns).select_from(joined).where(link.golden_case_id.in_(c))) for c in in_lists(ids)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[c.name for c in columns])


def _numbers(warehouse, records: pd.DataFrame) -> pd.DataFrame:
    """The numbers anchored on any of these records, with the golden case each record is in."""
    n = case_numbers.c
    anchors = records[["golden_case_id", "source_system", "source_record_id"]].drop_duplicates()
    ids = anchors["source_record_id"].dropna().unique().tolist()
    frames = [warehouse.read(sa.select(case_numbers).where(n.source_record_id.in_(c))) for c in in_lists(ids)]
    stored = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[c.name for c in case_numbers.c])
    return stored.merge(anchors, on=["source_system", "source_record_id"])


def _numbers_in_force(stored: pd.DataFrame) -> pd.Series:
    """Per golden case, the 办件编号 it goes out under, by the rule that chose it
    (``resolution.numbering.assign_case_numbers``): a department's own first (its records in source and id order),
    else the earliest stored that no department's number has replaced."""
    live = stored[stored["superseded_by"].isna()]
    own = live[live["origin"] == "department"].sort_values(["golden_case_id", "source_system", "source_record_id"])
    earliest = live.sort_values(["golden_case_id", "assigned_at", "project_no"])
    first_own = own.drop_duplicates("golden_case_id").set_index("golden_case_id")["project_no"]
    first_stored = earliest.drop_duplicates("golden_case_id").set_index("golden_case_id")["project_no"]
    return first_own.combine_first(first_stored)


def _listing(records: pd.DataFrame) -> pd.DataFrame:
    """Each record of each case once: its role (golden when any of its states is the winner) and the days it was
    staged; the winner first, then by source and id."""
    keys = ["golden_case_id", "source_system", "source_record_id"]
    day = records.assign(day=pd.to_datetime(records["partition_date"]).dt.strftime("%Y-%m-%d"))
    days = day.drop_duplicates([*keys, "day"]).sort_values("day").groupby(keys)["day"].agg(", ".join)
    roles = records.assign(winner=records["role"] != "golden").sort_values("winner").drop_duplicates(keys)
    listing = roles[[*keys, "role"]].merge(days.rename("days").reset_index(), on=keys)
    return listing.assign(winner=listing["role"] != "golden").sort_values(["winner", *keys[1:]]).drop(columns="winner")


def describe(warehouse, ids: list[str]) -> list[Case]:
    """The golden cases ``ids`` (in that order; an id no golden case has is left out)."""
    golden = _golden(warehouse, ids).set_index("golden_case_id", drop=False)
    if golden.empty:
        return []
    records = _records(warehouse, ids)
    numbers = _numbers(warehouse, records)
    in_force = _numbers_in_force(numbers)
    gone = numbers[numbers["superseded_by"].notna()].drop_duplicates(["golden_case_id", "project_no"])
    withdrawn = {gid: list(zip(g["project_no"], g["superseded_by"], strict=True))
                 for gid, g in gone.sort_values("project_no").groupby("golden_case_id")}  # fmt: skip
    listings = {gid: g.drop(columns="golden_case_id") for gid, g in _listing(records).groupby("golden_case_id")}
    applicants = applicant_text(golden["applicant_name"], golden["applicant_id"]).fillna("?")
    items = (golden["item_code"].fillna("") + " " + golden["item_name"].fillna("")).str.strip().replace("", "?")
    submitted = pd.to_datetime(golden["submitted_at"])
    return [
        Case(
            golden_case_id=gid,
            applicant=str(applicants[gid]),
            item=str(items[gid]),
            status=str(golden.at[gid, "status"]) if pd.notna(golden.at[gid, "status"]) else "?",
            submitted=None if pd.isna(submitted[gid]) else submitted[gid].date(),
            handling_dept=str(golden.at[gid, "handling_dept"]) if pd.notna(golden.at[gid, "handling_dept"]) else "?",
            version=int(golden.at[gid, "version"]),
            number=in_force.get(gid),
            withdrawn=withdrawn.get(gid, []),
            records=listings.get(
                gid, pd.DataFrame(columns=["source_system", "source_record_id", "role", "days"])
            ).reset_index(drop=True),
        )
        for gid in ids
        if gid in golden.index
    ]
