"""The 办件编号 each golden case goes out under: the department's own when it has a valid one, else one allocated
once from the configured source, stored once.

A valid 办件编号 is what the published definitions allow: up to 50 letters, digits and ``-`` (GB/T 39046-2020
``an..50``; the national DDL's ``project_no varchar(50)``), the 43-character national form (31-character 实施编码 +
``yyyyMMdd`` + 4-digit serial) being one form among them, checked in depth when a number has its shape
(``schemas.identifiers.case_number_problems``; docs/delivery.md, "The 办件编号"). For each golden case, in order:

1. a record of a system whose numbers are the 办件编号 its cases are known by (``case_no_form: national`` in its
   declaration) carries a valid one: the golden case goes out under it (staging has already quarantined invalid
   ones);
2. otherwise a number stored earlier for one of its records is reused, the earliest;
3. otherwise one is allocated for its best record, from the source ``BRIDGE_CASE_NO_SOURCE`` names
   (``core.settings``): ``bridge``, the bridge's own serial by the national rule (the item's 实施编码, the
   acceptance date, or the submission date while it is not accepted, and the next serial of that 实施编码 and
   day); or ``province_service``, the province's numbering service (``connectors.numbering``), asked with the same
   实施编码 and date.

The 实施编码 is the catalogue's where it has one; else the bridge derives it from the handling department's USCC,
level 4 (县级) and the 12-character 基本编码. A derived one is an assumption (research §3.2: the layout is inferred)
and may not exist in the province's catalogue: it is stored with the number (``task_code_origin = derived``) and
counted, so it can be confirmed.

A number is anchored on a record, not on the golden id, so it follows its records through re-resolution; reruns
and backfills in any order find it and allocate nothing new (the numbering service is asked under a key made from
the anchor record, so a request repeated after a crash gets the number it was given the first time). A clerk's
re-entry never gets a number of its own while its golden case holds a department record with one: it goes out
under the department's. When a department's record arrives after a number was allocated for the case, the
allocated number is marked superseded by the department's, and the case goes out under the department's from its
next version.

The bridge's serials start at ``BRIDGE_CASE_NO_SERIAL_START`` (default 9001): the top of the day's range, so they
do not collide with a department system numbering the same 实施编码 from 0001.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import settings
from core.frames import isin
from core.warehouse import frame_of, insert_frame
from schemas.case import departments, items
from schemas.identifiers import case_number_problems, national_shaped
from schemas.warehouse import case_numbers
from staging.mappings import national_case_no_systems

log = logging.getLogger(__name__)

SERIAL_START_VARIABLE = settings.CASE_NO_SERIAL_START_VARIABLE
DEFAULT_SERIAL_START = settings.DEFAULT_CASE_NO_SERIAL_START
LEVEL_COUNTY = "4"  # 行使层级 (GB/T 39046 A.2): 4 县级 — the district's departments
CHUNK = 500
#: The namespace of the keys the numbering service is asked under (one per anchor record, for ever).
REQUEST_NAMESPACE = uuid.UUID("6f1c2b1e-4d0a-5c55-9a51-9b0f3c6d2e22")
FIGURES = ("carried", "reused", "allocated", "superseded", "unnumbered", "derived_task_codes", "service_refused")


def serial_start() -> int:
    """``BRIDGE_CASE_NO_SERIAL_START`` (default 9001), checked (``core.settings``)."""
    return settings.case_no_serial_start()


@dataclass(frozen=True)
class BridgeSerials:
    """The bridge's own numbering: 实施编码 + date + the next serial of that 实施编码 and day, from ``start``."""

    start: int = DEFAULT_SERIAL_START
    source: str = "bridge"


class NumberingService(Protocol):
    """The province's numbering service (``connectors.numbering.CaseNumberService``), as numbering uses it."""

    source: str

    def issue(self, wanted: pd.DataFrame) -> pd.DataFrame:
        """``wanted``: request_id, task_code, number_date, org_code, item_code. Returns request_id, project_no (NA
        where none was given) and error (the service's reason, NA where it gave one)."""
        ...


Allocator = BridgeSerials | NumberingService


def request_ids(source_system: pd.Series, source_record_id: pd.Series) -> pd.Series:
    """The key the numbering service is asked under for a number anchored on this record: the same for ever."""
    keys = (source_system.astype(str) + "|" + source_record_id.astype(str)).tolist()
    return pd.Series([str(uuid.uuid5(REQUEST_NAMESPACE, k)) for k in keys], index=source_system.index)


def task_codes(item_codes: pd.Series, handling_depts: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(the 实施编码 of each item as its handling department implements it, where it came from): the catalogue's
    where it has one (``catalogue``), else the department's USCC, level 4 (县级) and the 12-character 基本编码
    (``derived``: an assumption to confirm against the province's catalogue); NA where neither can be formed."""
    catalogue = items()
    if "task_code" in catalogue.columns:
        known = catalogue.reset_index().drop_duplicates("item_code").set_index("item_code")["task_code"]
        found = item_codes.map(known).astype("string").replace("", pd.NA)
    else:
        found = pd.Series(pd.NA, index=item_codes.index, dtype="string")
    uscc = handling_depts.map(departments().set_index("department_code")["issuer_uscc"])
    derived = (uscc + LEVEL_COUNTY + item_codes.where(item_codes.str.len() == 12)).astype("string")
    origin = pd.Series(pd.NA, index=item_codes.index, dtype="string")
    origin = origin.mask(derived.notna(), "derived").mask(found.notna(), "catalogue")
    return found.fillna(derived).astype("string"), origin


def _stored(conn: sa.Connection, members: pd.DataFrame) -> pd.DataFrame:
    """The numbers stored for any of these records (their anchors), superseded ones included."""
    frames = []
    ids = members["source_record_id"].dropna().unique().tolist()
    systems = sorted(members["source_system"].dropna().unique().tolist())
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        # by the anchor's index (source first): these records' numbers, not a scan of every number ever given
        c = case_numbers.c
        rows = conn.execute(sa.select(case_numbers).where(c.source_system.in_(systems) & c.source_record_id.in_(chunk)))
        frames.append(frame_of(rows))
    stored = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[c.name for c in case_numbers.c])
    return stored.merge(members[["source_system", "source_record_id"]].drop_duplicates(), how="inner")


def withdrawn_numbers(conn: sa.Connection, golden: pd.DataFrame, linked: pd.DataFrame) -> pd.Series:
    """Per golden case (aligned with ``golden``), the numbers it went out under before the department's own
    replaced them (comma-separated, NA for none): the receivers are told to withdraw them, so the case is not held
    under two numbers. Read after :func:`assign_case_numbers`, in the same transaction."""
    members = linked[["golden_case_id", "source_system", "source_record_id"]].drop_duplicates(
        ["source_system", "source_record_id"]
    )
    members = members[isin(members["golden_case_id"], golden["golden_case_id"])]
    stored = _stored(conn, members).merge(members)
    gone = stored[stored["superseded_by"].notna()].sort_values("project_no")
    gone = gone.drop_duplicates(["golden_case_id", "project_no"])
    joined = gone.groupby("golden_case_id")["project_no"].agg(",".join)
    return golden["golden_case_id"].map(joined).astype("string")


def _next_serials(conn: sa.Connection, wanted: pd.DataFrame, start: int) -> pd.Series:
    """Serials for new numbers (``wanted``: task_code, number_date, in the order they are to be numbered): after
    the highest the bridge already allocated for that 实施编码 and day, from ``start``."""
    keys = wanted[["task_code", "number_date"]].drop_duplicates()
    highest = []
    c = case_numbers.c
    for task_code, days in keys.groupby("task_code")["number_date"]:
        rows = conn.execute(
            sa.select(c.number_date, sa.func.max(c.serial))
            .where(
                c.task_code == task_code,
                c.number_date.in_(sorted(set(days))),
                c.origin == "allocated",
                sa.or_(c.allocated_by.is_(None), c.allocated_by == "bridge"),  # NULL: allocated before the column
            )
            .group_by(c.number_date)
        ).all()
        highest += [(task_code, day, serial) for day, serial in rows]
    high = pd.DataFrame(highest, columns=["task_code", "number_date", "highest"])
    high["number_date"] = pd.to_datetime(high["number_date"]).dt.date
    base = wanted[["task_code", "number_date"]].merge(high, how="left")["highest"].fillna(start - 1).to_numpy()
    rank = wanted.groupby(["task_code", "number_date"]).cumcount().to_numpy() + 1
    return pd.Series(np.maximum(base, start - 1).astype(int) + rank, index=wanted.index)


def _number_parts(numbers: pd.Series) -> pd.DataFrame:
    """实施编码, date and serial read from numbers in the national form's shape; NA for numbers of another form."""
    shaped = national_shaped(numbers).to_numpy()
    text = numbers.astype("string").where(shaped)
    return pd.DataFrame(
        {
            "task_code": text.str.slice(0, 31),
            "number_date": pd.to_datetime(text.str.slice(31, 39), format="%Y%m%d", errors="coerce").dt.date,
            "serial": pd.to_numeric(text.str.slice(39, 43), errors="coerce").astype("Int64"),
        },
        index=numbers.index,
    )


def _by_bridge(conn: sa.Connection, need: pd.DataFrame, start: int) -> pd.DataFrame:
    """New numbers from the bridge's own serials (``need``: sorted in the order they are to be numbered)."""
    need = need.assign(serial=_next_serials(conn, need, start))
    need = need[need["serial"] <= 9999]
    need["project_no"] = (
        need["task_code"]
        + pd.to_datetime(need["number_date"]).dt.strftime("%Y%m%d")
        + need["serial"].astype(str).str.zfill(4)
    )
    return need.assign(allocated_by="bridge")


def _by_service(conn: sa.Connection, need: pd.DataFrame, service: NumberingService) -> tuple[pd.DataFrame, int]:
    """New numbers from the province's numbering service, and how many it did not give (refused, or a number that
    is no valid 办件编号 or is already another case's): those cases stay unnumbered this run and are asked again."""
    need = need.assign(request_id=request_ids(need["source_system"], need["source_record_id"]).to_numpy())
    org = need["handling_dept"].map(departments().set_index("department_code")["issuer_uscc"])
    wanted = need[["request_id", "task_code", "number_date", "item_code"]].assign(org_code=org.to_numpy())
    answers = service.issue(wanted.reset_index(drop=True))
    got = need.merge(answers[["request_id", "project_no"]], on="request_id", how="left")
    got["project_no"] = got["project_no"].astype("string")
    valid = got["project_no"].notna() & case_number_problems(got["project_no"]).isna()
    taken = set()
    for chunk in (got.loc[valid, "project_no"].tolist()[i : i + CHUNK] for i in range(0, int(valid.sum()), CHUNK)):
        taken |= {r.project_no for r in conn.execute(sa.select(case_numbers.c.project_no).where(
            case_numbers.c.project_no.in_(chunk)))}  # fmt: skip
    fresh = valid & ~isin(got["project_no"], taken) & ~got["project_no"].duplicated(keep=False)
    refused = int((~fresh).sum())
    if refused:  # counts only: a reason may name the applicant's case
        log.warning(
            "the numbering service gave no usable 办件编号 for %d case(s); they are asked again next run", refused
        )
    got = got[fresh.to_numpy()]
    parts = _number_parts(got["project_no"])
    got["serial"] = parts["serial"]
    return got.assign(allocated_by=service.source), refused


def assign_case_numbers(
    conn: sa.Connection,
    golden: pd.DataFrame,
    linked: pd.DataFrame,
    partition: dt.date,
    now: dt.datetime,
    allocator: Allocator | None = None,
) -> tuple[pd.Series, dict[str, int]]:
    """The 办件编号 of each golden case (aligned with ``golden``; NA where none can be had: no 实施编码 for its
    item, the day's serials used up, or the numbering service gave none), storing what is new in ``case_numbers``
    within the caller's transaction. ``linked``: the golden cases' records (golden_case_id, source_system,
    source_record_id, case_no). ``allocator``: where new numbers come from (default: the bridge's own serials from
    ``BRIDGE_CASE_NO_SERIAL_START``). Returns the numbers and figures (carried, reused, allocated, superseded,
    unnumbered, derived_task_codes: new numbers under a derived 实施编码, service_refused)."""
    figures = dict.fromkeys(FIGURES, 0)
    if golden.empty:
        return pd.Series(dtype="string"), figures
    allocator = allocator if allocator is not None else BridgeSerials(serial_start())
    members = linked[["golden_case_id", "source_system", "source_record_id", "case_no"]].drop_duplicates(
        ["source_system", "source_record_id"]
    )
    members = members[isin(members["golden_case_id"], golden["golden_case_id"])]
    stored = _stored(conn, members).merge(members[["golden_case_id", "source_system", "source_record_id"]])

    # 1. the department's own number, when it is a valid 办件编号
    kept = (
        members["source_system"].isin(national_case_no_systems())
        & case_number_problems(members["case_no"]).isna().to_numpy()
    )
    carried = members[kept].sort_values(["golden_case_id", "source_system", "source_record_id"])
    carried = carried.drop_duplicates("golden_case_id").set_index("golden_case_id")["case_no"]
    new_carried = members[kept & ~isin(members["case_no"], stored["project_no"])]
    new_carried = new_carried[isin(new_carried["case_no"], carried)].drop_duplicates("case_no")
    rows = [
        pd.DataFrame(
            {
                "project_no": new_carried["case_no"],
                "source_system": new_carried["source_system"],
                "source_record_id": new_carried["source_record_id"],
                **_number_parts(new_carried["case_no"]).to_dict("series"),
                "origin": "department",
            }
        )
    ]

    # 2. a number stored for one of its records (not one a department's has replaced)
    live = stored[stored["superseded_by"].isna()].sort_values(["assigned_at", "project_no"])
    reused = live.drop_duplicates("golden_case_id").set_index("golden_case_id")["project_no"]

    # an allocated number whose case now has the department's: superseded by it
    replaced = live[(live["origin"] == "allocated") & isin(live["golden_case_id"], carried.index)]
    for row in replaced.itertuples():
        conn.execute(
            case_numbers.update()
            .where(case_numbers.c.project_no == row.project_no)
            .values(superseded_by=carried[row.golden_case_id])
        )

    # 3. allocate for the rest, numbered in the order of their submission
    chosen = golden["golden_case_id"].map(carried).fillna(golden["golden_case_id"].map(reused))
    need = golden[chosen.isna()].copy()
    if len(need):
        need["task_code"], need["task_code_origin"] = task_codes(
            need["item_code"].astype("string"), need["handling_dept"].astype("string")
        )
        day = pd.to_datetime(need["accepted_at"]).fillna(pd.to_datetime(need["submitted_at"]))
        need["number_date"] = day.dt.date
        need = need[need["task_code"].str.len().eq(31).fillna(False) & day.notna()]
        need = need.sort_values(["task_code", "number_date", "submitted_at", "source_system", "source_record_id"])
        if isinstance(allocator, BridgeSerials):
            new = _by_bridge(conn, need, allocator.start)
        else:
            new, figures["service_refused"] = _by_service(conn, need, allocator)
        columns = ["project_no", "source_system", "source_record_id", "task_code", "number_date", "serial"]
        rows.append(new[[*columns, "allocated_by", "task_code_origin"]].assign(origin="allocated"))
        figures["derived_task_codes"] = int((new["task_code_origin"] == "derived").sum())
        chosen = chosen.fillna(golden["golden_case_id"].map(new.set_index("golden_case_id")["project_no"]))
    new_rows = pd.concat(rows, ignore_index=True).assign(assigned_partition=partition, assigned_at=now)
    insert_frame(conn, case_numbers, new_rows)

    was_carried = isin(golden["golden_case_id"], carried.index)
    figures.update(
        carried=int(was_carried.sum()),
        reused=int((isin(golden["golden_case_id"], reused.index) & ~was_carried).sum()),
        allocated=int((new_rows["origin"] == "allocated").sum()),
        superseded=len(replaced),
        unnumbered=int(chosen.isna().sum()),
    )
    return chosen.astype("string"), figures
