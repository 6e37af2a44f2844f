"""Licence reuse: for each new application, which of its item's required materials were already in the licence
repository as a valid licence of the applicant on the day it was submitted, so need not be submitted again
(一次录入，全程共享). The list of materials per item is the versioned file ``schemas/codes/required_materials.csv``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.warehouse import frame_of, in_lists, insert_frame
from reporting.refresh import (
    CaseChanges,
    Refreshed,
    against_marks,
    count_where,
    mark_changed,
    mart_key,
    moved_in_sql,
    starts_over,
)
from schemas.case import CODES_DIR, items
from schemas.identifiers import normalize_code_series
from schemas.licences import required_materials
from schemas.warehouse import (
    golden_cases,
    holder_codes,
    licence_events,
    licences,
    mart_licence_reuse,
    mart_material_reuse,
)

#: Events after which a licence no longer stands in for a material (until renewed or reinstated).
ENDING = ("suspended", "withdrawn", "cancelled", "revoked", "expired")
RESTORING = ("renewed", "reinstated")


def availability(licences: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Per licence, the span of days it was valid: from issue until its first ending event, its end date."""
    ending = events[events["event"].isin(ENDING)].groupby("licence_key")["effective_date"].min()
    restored = events[events["event"].isin(RESTORING)].groupby("licence_key")["effective_date"].max()
    spans = licences[["licence_key", "holder_id", "licence_type_code", "issue_date", "valid_to"]].copy()
    ended = pd.to_datetime(spans["licence_key"].map(ending))
    back = pd.to_datetime(spans["licence_key"].map(restored))
    spans["ended"] = ended.where(~(back > ended))  # renewed or reinstated after it ended: it stands again
    spans["issue_date"] = pd.to_datetime(spans["issue_date"])
    spans["valid_to"] = pd.to_datetime(spans["valid_to"])
    return spans


def material_reuse(
    cases: pd.DataFrame, holder_codes: pd.DataFrame, spans: pd.DataFrame, materials: pd.DataFrame
) -> pd.DataFrame:
    """One row per application and required material: whether a valid licence of the applicant could stand in.

    ``cases``: golden_case_id, item_code, applicant_id, submitted_at. ``holder_codes``: code, holder_id.
    ``materials``: the register (item_code, material_no, material_name, licence_type_codes, valid_from, valid_to).
    """
    cases = cases.assign(
        submitted_on=pd.to_datetime(cases["submitted_at"]).dt.normalize(),
        code=normalize_code_series(cases["applicant_id"].astype("string")),
    )
    cases = cases.merge(holder_codes[["code", "holder_id"]], on="code", how="left")
    register = materials.rename(columns={"valid_from": "listed_from", "valid_to": "listed_to"})
    rows = cases.merge(register, on="item_code")
    in_force = (rows["listed_from"] <= rows["submitted_on"]) & (
        rows["listed_to"].isna() | (rows["submitted_on"] <= rows["listed_to"])
    )
    rows = rows[in_force].reset_index(drop=True)
    rows["is_licence"] = rows["licence_type_codes"] != ""
    wanted = rows[rows["is_licence"] & rows["holder_id"].notna()].assign(
        licence_type_code=lambda r: r["licence_type_codes"].str.split("|")
    )
    wanted = wanted.explode("licence_type_code").reset_index(names="row")
    found = wanted.merge(spans, on=["holder_id", "licence_type_code"])
    day = found["submitted_on"]
    valid = (
        (found["issue_date"] <= day)
        & (found["valid_to"].isna() | (day <= found["valid_to"]))
        & (found["ended"].isna() | (day < found["ended"]))
    )
    best = found[valid].sort_values(["row", "issue_date"]).drop_duplicates("row", keep="last")
    rows["licence_key"] = best.set_index("row")["licence_key"].reindex(rows.index)
    rows["available"] = rows["licence_key"].notna()
    return pd.DataFrame(
        {
            "golden_case_id": rows["golden_case_id"],
            "material_no": rows["material_no"].astype(int),
            "item_code": rows["item_code"],
            "month": rows["submitted_on"].dt.strftime("%Y-%m"),
            "submitted_on": rows["submitted_on"].dt.date,
            "material_name": rows["material_name"],
            "is_licence": rows["is_licence"].astype(bool),
            "available": rows["available"].astype(bool),
            "licence_key": rows["licence_key"],
        }
    )


def licence_reuse(detail: pd.DataFrame, item_names: pd.Series) -> pd.DataFrame:
    """Per item and month: applications, materials required, how many need not be submitted, and the share."""
    if detail.empty:
        return pd.DataFrame(
            columns=[
                "item_code",
                "month",
                "item_name",
                "applications",
                "materials_required",
                "licence_materials",
                "materials_not_needed",
                "applications_saved_a_material",
                "share_not_needed",
            ]
        )
    grouped = detail.groupby(["item_code", "month"])
    saved = detail[detail["available"]].groupby(["item_code", "month"])["golden_case_id"].nunique()
    table = pd.DataFrame(
        {
            "applications": grouped["golden_case_id"].nunique(),
            "materials_required": grouped.size(),
            "licence_materials": grouped["is_licence"].sum(),
            "materials_not_needed": grouped["available"].sum(),
        }
    )
    table["applications_saved_a_material"] = saved.reindex(table.index).fillna(0)
    table = table.astype(int).reset_index()
    table["share_not_needed"] = np.round(table["materials_not_needed"] / table["materials_required"], 4)
    table.insert(2, "item_name", table["item_code"].map(item_names))
    return table


def licence_reuse_in_warehouse(conn: sa.Connection, months: list[str] | None) -> pd.DataFrame:
    """:func:`licence_reuse` summed in the warehouse from ``mart_material_reuse`` (the ``months`` given, or all):
    the same rows, without reading the applications' rows."""
    r = mart_material_reuse.c
    query = sa.select(
        r.item_code,
        r.month,
        sa.func.count(sa.distinct(r.golden_case_id)),
        sa.func.count(),
        count_where(r.is_licence),
        count_where(r.available),
        sa.func.count(sa.distinct(sa.case((r.available, r.golden_case_id)))),
    ).group_by(r.item_code, r.month)
    if months is not None:
        query = query.where(r.month.in_(months))
    counts = ["applications", "materials_required", "licence_materials", "materials_not_needed",
              "applications_saved_a_material"]  # fmt: skip
    table = pd.DataFrame(conn.execute(query).all(), columns=["item_code", "month", *counts])
    if table.empty:
        return licence_reuse(pd.DataFrame(), pd.Series(dtype=object))
    table = table.astype(dict.fromkeys(counts, "int64")).sort_values(["item_code", "month"], ignore_index=True)
    table["share_not_needed"] = np.round(table["materials_not_needed"] / table["materials_required"], 4)
    table.insert(2, "item_name", table["item_code"].map(items().set_index("item_code")["item_name"]))
    return table


def reuse_key() -> str:
    """The refresh marks' name for ``mart_material_reuse`` under today's rules: it changes (and the mart is rebuilt
    whole) when this module, the register of required materials or the items' names change."""
    sources = [Path(__file__), CODES_DIR / "required_materials.csv", CODES_DIR / "items.csv"]
    return mart_key(mart_material_reuse, hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest())


def _text(column: sa.ColumnElement) -> sa.ColumnElement:
    return sa.cast(column, sa.String).label(column.name)


def _event_days() -> sa.Subquery:
    """Per licence with events: the first day an ending event took effect and the last day a restoring one did
    (what :func:`availability` reads of its events)."""
    ev = licence_events.c
    return (
        sa.select(
            ev.licence_key,
            sa.func.min(sa.case((ev.event.in_(ENDING), ev.effective_date))).label("ended"),
            sa.func.max(sa.case((ev.event.in_(RESTORING), ev.effective_date))).label("restored"),
        )
        .group_by(ev.licence_key)
        .subquery()
    )


def _licence_state() -> tuple[sa.FromClause, sa.ColumnElement, sa.ColumnElement]:
    """Every licence with what an application is judged by, as two texts compared in SQL: the repository's content
    hash of the licence (its type, holder, days of issue and validity …) and ``ended|restored`` from its events."""
    lc, days = licences.c, _event_days()
    text = [sa.func.coalesce(sa.cast(day, sa.String), "") for day in (days.c.ended, days.c.restored)]
    joined = licences.outerjoin(days, days.c.licence_key == lc.licence_key)
    return joined, lc.content_hash, (text[0] + "|" + text[1])


def _spans(conn: sa.Connection, holders: list[str] | None) -> pd.DataFrame:
    """:func:`availability` of the licences of ``holders`` (None: every licence), the days read as text
    ('YYYY-MM-DD', as stored) and parsed by pandas at once."""
    lc, ev = licences.c, licence_events.c
    select = sa.select(lc.licence_key, lc.holder_id, lc.licence_type_code, _text(lc.issue_date), _text(lc.valid_to))
    events = sa.select(ev.licence_key, ev.event, _text(ev.effective_date))
    if holders is None:
        return availability(frame_of(conn.execute(select)), frame_of(conn.execute(events)))
    found, happened = [], []
    for part in in_lists(holders):
        found.append(frame_of(conn.execute(select.where(lc.holder_id.in_(part)))))
        theirs = sa.select(lc.licence_key).where(lc.holder_id.in_(part))
        happened.append(frame_of(conn.execute(events.where(ev.licence_key.in_(theirs)))))

    def whole(frames: list[pd.DataFrame], query: sa.Select) -> pd.DataFrame:
        return (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=list(query.selected_columns.keys()))
        )

    return availability(whole(found, select), whole(happened, events))


def _touched_by_licences(conn: sa.Connection, keys: list[str]) -> set[str]:
    """The applications a changed (or new, or gone) licence can have changed: those whose rows name it (it stood in
    for a material, and may no longer), and those of its holder submitted on or after its day of issue (it may
    stand in now: a licence stands in for nothing before it was issued)."""
    r, g, h, lc = mart_material_reuse.c, golden_cases.c, holder_codes.c, licences.c
    found: set[str] = set()
    issued = []
    for part in in_lists(keys):
        found |= set(conn.execute(sa.select(r.golden_case_id).where(r.licence_key.in_(part)).distinct()).scalars())
        issued.append(
            frame_of(conn.execute(sa.select(lc.holder_id, _text(lc.issue_date)).where(lc.licence_key.in_(part))))
        )
    issued = pd.concat(issued, ignore_index=True) if issued else pd.DataFrame()
    if issued.empty:
        return found
    since = pd.to_datetime(issued["issue_date"]).groupby(issued["holder_id"]).min()
    for part in in_lists(sorted(since.index)):
        query = (
            sa.select(g.golden_case_id, h.holder_id, g.submitted_at)
            .select_from(golden_cases.join(holder_codes, h.code == g.applicant_id))
            .where(h.holder_id.in_(part) & (g.submitted_at >= since[part].min().to_pydatetime()))
        )
        cases = frame_of(conn.execute(query))
        if len(cases):
            after = pd.to_datetime(cases["submitted_at"]) >= cases["holder_id"].map(since)
            found |= set(cases.loc[after, "golden_case_id"])
    return found


def refresh_reuse(conn: sa.Connection, *, full: bool = False) -> Refreshed:
    """Bring ``mart_material_reuse`` and ``mart_licence_reuse`` up to date inside ``conn``'s transaction.

    An application's rows depend on the case (item, applicant, day of submission: its content hash), on which holder
    its applicant's code names, and on that holder's licences and their events (a licence loaded late, withdrawn,
    renewed). Kept in ``refresh_marks``: per case its content hash; per licence the repository's content hash of it
    (type, holder, days of issue and validity …) and the days its events end and restore it; per code the holder it
    names. Each kind is compared with its marks in SQL (``against_marks``, ``moved_in_sql``), so only the
    differences come back to Python (the database still goes through every licence, event and code, at its speed). A
    refresh computes again the cases that changed, are new or gone, the cases a code that changed names (by the
    code: applicant codes are stored normalised, ``ix_golden_cases_applicant``), and, for a licence that changed,
    came or went, the applications whose rows name it (``ix_mart_material_reuse_licence``) and those of its holder
    submitted on or after its day of issue (a licence stands in for nothing before it was issued, so a licence
    issued today touches today's applications, not the holder's history); each judged by the licences of its own
    holder only. Then the per-item-and-month figures of the months those fall in, in SQL. Everything when the rules
    changed, there are no marks, or ``full``. Any order of refreshes ends in the rows of a full rebuild.
    Returns what it did."""
    g, r, h = golden_cases.c, mart_material_reuse.c, holder_codes.c
    columns = [g.golden_case_id, g.item_code, g.applicant_id, g.submitted_at]
    key = reuse_key()
    full = starts_over(conn, key, full)
    joined, content, events = _licence_state()
    moved_licences = moved_in_sql(conn, f"{key}/licences", joined, licences.c.licence_key, content, events)
    moved_codes = moved_in_sql(conn, f"{key}/codes", holder_codes, h.code, h.holder_id)
    if full:
        conn.execute(mart_material_reuse.delete())
        conn.execute(mart_licence_reuse.delete())
        todo = frame_of(conn.execute(sa.select(*columns)))
        changes = CaseChanges(True, tuple(todo["golden_case_id"]) if len(todo) else (), ())
        codes = frame_of(conn.execute(sa.select(h.code, h.holder_id)))
        spans = _spans(conn, None)
    else:
        differ, vanished = against_marks(conn, key)
        gone = [row[0] for row in vanished]
        ids = {row[0] for row in differ} | _touched_by_licences(conn, moved_licences)
        for part in in_lists(moved_codes):  # the cases a code names
            ids |= set(conn.execute(sa.select(g.golden_case_id).where(g.applicant_id.in_(part))).scalars())
        ids = sorted(ids - set(gone))
        parts = [frame_of(conn.execute(sa.select(*columns).where(g.golden_case_id.in_(p)))) for p in in_lists(ids)]
        todo = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[c.name for c in columns])
        changes = CaseChanges(False, tuple(todo["golden_case_id"]), tuple(gone), tuple(todo["golden_case_id"]))
        # the codes the applications name and their holders' licences, not every licence of the repository
        named = sorted(set(normalize_code_series(todo["applicant_id"].astype("string")).dropna()))
        found = [frame_of(conn.execute(sa.select(h.code, h.holder_id).where(h.code.in_(p)))) for p in in_lists(named)]
        codes = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=["code", "holder_id"])
        spans = _spans(conn, sorted(set(codes["holder_id"])))
    months: set[str] = set()
    if not changes.full:
        for chunk in in_lists([*changes.changed, *changes.gone]):
            part = r.golden_case_id.in_(chunk)
            months |= set(conn.execute(sa.select(r.month).where(part).distinct()).scalars())
            conn.execute(mart_material_reuse.delete().where(part))
    detail = material_reuse(todo, codes, spans, required_materials())
    insert_frame(conn, mart_material_reuse, detail)
    months |= set(detail["month"])
    if not changes.full:
        conn.execute(mart_licence_reuse.delete().where(mart_licence_reuse.c.month.in_(sorted(months))))
    monthly = licence_reuse_in_warehouse(conn, None if changes.full else sorted(months))
    insert_frame(conn, mart_licence_reuse, monthly)
    mark_changed(conn, key, None, changes)
    recomputed = 0 if changes.full else len(changes.changed) + len(changes.gone)
    return Refreshed(changes.full, tuple(sorted(months)), len(monthly), recomputed)
