"""审管互动 findings as the approval side uses them: every finding pulled in one state (linked to its holder,
``unknown_holder``, quarantined), whether it is still open, and the mart of approvals followed by an inspection and
of 告知承诺 approvals found untrue (``mart_supervision_followup``).

The definitions (the inspection window, which kinds count as an inspection, as untrue, as the credit flag) come
from ``reporting/definitions.yaml`` (:class:`reporting.definitions.SupervisionDefinitions`); docs/marts.md explains
each figure.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.warehouse import frame_of, in_lists
from reporting.definitions import SupervisionDefinitions
from reporting.refresh import month_of
from schemas.case import COMPLETED_STATUSES
from schemas.identifiers import mask_identifier_series
from schemas.licences import HOLDER_CODE_TYPES
from schemas.warehouse import findings, golden_cases, holder_codes, licences
from staging.feeds import newest, with_quarantined

LINKED, UNKNOWN_HOLDER, QUARANTINED = "linked", "unknown_holder", "quarantined"
STATUSES = (LINKED, UNKNOWN_HOLDER, QUARANTINED)
STATE_COLUMNS = [
    "source_system",
    "finding_id",
    "status",
    "kind",
    "result",
    "holder_id",
    "holder_code",
    "licence_key",
    "licences",
    "licence_type_code",
    "department",
    "decided_date",
    "effective_date",
    "end_date",
    "in_force",
    "first_partition",
    "partition_date",
    "records",
    "note",
]
MART_COLUMNS = [
    "month",
    "handling_dept",
    "approval_mode",
    "approvals",
    "inspected",
    "inspected_share",
    "inspections_failed",
    "found_untrue",
    "window_days",
]


def newest_findings(records: pd.DataFrame) -> pd.DataFrame:
    """One row per finding (source_system, finding_id): its newest usable record."""
    return newest(records, "finding_id")


def _day(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.date


def is_open(frame: pd.DataFrame, today: dt.date) -> pd.Series:
    """In force on ``today``: not closed by the supervisor, a suspension not past its end date, a blacklisting not
    followed by the holder's removal from the list."""
    closed = frame["status"].eq("closed").fillna(False) | frame["closed_at"].notna()
    ended = frame["kind"].eq("suspension") & (pd.to_datetime(frame["ends_at"]) < pd.Timestamp(today)).fillna(False)
    decided = pd.to_datetime(frame["decided_at"])
    lifted = frame["kind"] == "blacklist_removal"
    removal = decided[lifted].groupby(frame.loc[lifted, "holder_code"]).max().to_dict()
    removed = pd.Series(
        [
            kind == "blacklist" and code in removal and removal[code] >= when
            for kind, code, when in zip(frame["kind"], frame["holder_code"], decided, strict=True)
        ],
        index=frame.index,
    )
    once = frame["kind"].isin(["blacklist_removal", "inspection"])  # an event, nothing stays open
    return ~(closed | ended | removed | once)


def finding_states(linked: pd.DataFrame | None, quarantined: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """``linked``: the newest usable record of each finding after ``licensing.repository.link_findings``;
    ``quarantined``: the findings feeds' quarantined records. One row per finding pulled: linked (its holder
    known), unknown_holder (the repository knows no holder by its code: reported, kept), or quarantined. The
    holder's code is masked when a 身份证号."""
    usable = None
    if linked is not None and len(linked):
        usable = linked.copy()
        usable["status"] = np.where(usable["holder_id"].notna(), LINKED, UNKNOWN_HOLDER)
        usable["note"] = np.where(
            usable["holder_id"].notna(),
            np.where(
                usable["kind"].isin(["suspension", "revocation"]) & usable["licence_keys"].map(len).eq(0),
                "no licence of the holder matches the finding's number or type",
                None,
            ),
            "no holder is known by this code",
        )
        usable["in_force"] = is_open(usable, today)
        usable["licences"] = usable["licence_keys"].map(len)
        usable["licence_key"] = usable["licence_keys"].map(lambda keys: keys[0] if len(keys) == 1 else None)
        kinds = usable["holder_code_type"].map({v: k for k, v in HOLDER_CODE_TYPES.items()})
        shaped = usable["holder_code"].astype("string").str.fullmatch(r"\d{17}[\dX]").fillna(False)
        kinds = kinds.fillna(pd.Series(np.where(shaped, "ric", "uscc"), index=usable.index))
        usable["holder_code"] = mask_identifier_series(usable["holder_code"].astype("string"), kinds)
        usable["decided_date"] = _day(usable["decided_at"])
        usable["effective_date"] = _day(usable["effective_at"].fillna(usable["decided_at"]))
        usable["end_date"] = _day(usable["ends_at"])
    q = quarantined.assign(item_id=quarantined.get("item_id"))
    states = with_quarantined(usable, q, "finding_id")
    for column in STATE_COLUMNS:
        if column not in states:
            states[column] = None
    states["in_force"] = states["in_force"].fillna(False).astype(bool)
    states["licences"] = states["licences"].fillna(0).astype(int)
    return states[STATE_COLUMNS].reset_index(drop=True)


def followup(
    approvals: pd.DataFrame, found: pd.DataFrame, settings: SupervisionDefinitions, today: dt.date
) -> pd.DataFrame:
    """``mart_supervision_followup``. ``approvals``: golden cases completed (golden_case_id, handling_dept,
    approval_mode, completed_at, holder_id, licence_key, licence_type_code: the licence it issued, when any);
    ``found``: linked findings (holder_id, kind, result, licence_key, licence_type_code, decided_date).

    A finding concerns an approval when it is about the same holder and on its licence, of its licence's type, or
    on no licence at all; it follows the approval when decided within ``inspection_window_days`` after completion.
    """
    window = settings.inspection_window_days
    if approvals.empty:
        return pd.DataFrame(columns=MART_COLUMNS)
    a = approvals.copy()
    a["completed"] = pd.to_datetime(a["completed_at"]).dt.normalize()
    pairs = a.merge(found, on="holder_id", how="inner", suffixes=("", "_f"))
    if len(pairs):
        decided = pd.to_datetime(pairs["decided_date"])
        within = (decided >= pairs["completed"]) & (decided <= pairs["completed"] + pd.Timedelta(days=window))
        on_it = (
            pairs["licence_key_f"].isna() & pairs["licence_type_code_f"].isna()
            | (pairs["licence_key_f"] == pairs["licence_key"])
            | (pairs["licence_key_f"].isna() & (pairs["licence_type_code_f"] == pairs["licence_type_code"]))
        ).fillna(False)
        pairs = pairs[within & on_it]
    inspection = pairs["kind"].isin(settings.inspection_kinds)
    failed = inspection & pairs["result"].eq("fail")
    untrue = pairs["kind"].isin(settings.untrue_kinds)
    if settings.untrue_if_inspection_failed:
        untrue |= failed
    if settings.untrue_if_revoked:
        untrue |= pairs["kind"].eq("revocation")
    a["inspected"] = a["golden_case_id"].isin(pairs.loc[inspection, "golden_case_id"])
    a["inspections_failed"] = a["golden_case_id"].isin(pairs.loc[failed, "golden_case_id"])
    a["found_untrue"] = a["golden_case_id"].isin(pairs.loc[untrue, "golden_case_id"]) & a["approval_mode"].eq(
        "告知承诺"
    )
    a = a.drop_duplicates("golden_case_id")  # a case that issued two licences is one approval
    a["month"] = a["completed"].dt.strftime("%Y-%m")
    a["handling_dept"] = a["handling_dept"].fillna("")
    a["approval_mode"] = a["approval_mode"].fillna("")
    mart = (
        a.groupby(["month", "handling_dept", "approval_mode"])
        .agg(
            approvals=("golden_case_id", "nunique"),
            inspected=("inspected", "sum"),
            inspections_failed=("inspections_failed", "sum"),
            found_untrue=("found_untrue", "sum"),
        )
        .reset_index()
    )
    for column in ("approvals", "inspected", "inspections_failed", "found_untrue"):
        mart[column] = mart[column].astype(int)
    mart["inspected_share"] = (mart["inspected"] / mart["approvals"]).where(mart["approvals"] > 0)
    mart["window_days"] = window
    return mart[MART_COLUMNS]


def approvals_select() -> sa.Select:
    """The golden cases completed whose applicant is a known holder, with the licences they issued (a case that
    issued two licences is two rows): what :func:`followup` takes as ``approvals``."""
    g, hc, lc = golden_cases.c, holder_codes.c, licences.c
    return (
        sa.select(
            g.golden_case_id,
            g.handling_dept,
            g.approval_mode,
            g.completed_at,
            hc.holder_id,
            lc.licence_key,
            lc.licence_type_code,
        )
        .select_from(golden_cases)
        .join(holder_codes, hc.code == g.applicant_id)
        .outerjoin(licences, lc.golden_case_id == g.golden_case_id)
        .where(g.status.in_(COMPLETED_STATUSES) & g.completed_at.is_not(None))
    )


def followup_in_warehouse(conn: sa.Connection, settings: SupervisionDefinitions, today: dt.date) -> pd.DataFrame:
    """:func:`followup` over the warehouse, the same rows: the approvals are counted per month, department and
    approval mode in SQL, and only those of holders with a linked finding are read and paired with the findings
    (a year's completed cases are not read to find the few a finding follows)."""
    g, hc, f = golden_cases.c, holder_codes.c, findings.c
    keys = ["month", "handling_dept", "approval_mode"]
    month = month_of(g.completed_at)
    dept, mode = sa.func.coalesce(g.handling_dept, ""), sa.func.coalesce(g.approval_mode, "")
    counted = (
        sa.select(month, dept, mode, sa.func.count(sa.distinct(g.golden_case_id)))
        .select_from(golden_cases.join(holder_codes, hc.code == g.applicant_id))
        .where(g.status.in_(COMPLETED_STATUSES) & g.completed_at.is_not(None))
        .group_by(month, dept, mode)
    )
    base = pd.DataFrame(conn.execute(counted).all(), columns=[*keys, "approvals"])
    if base.empty:
        return pd.DataFrame(columns=MART_COLUMNS)
    found = frame_of(
        conn.execute(
            sa.select(f.holder_id, f.kind, f.result, f.licence_key, f.licence_type_code, f.decided_date).where(
                f.status == LINKED
            )
        )
    )
    flags = ["inspected", "inspections_failed", "found_untrue"]
    parts = [
        frame_of(conn.execute(approvals_select().where(hc.holder_id.in_(part))))
        for part in in_lists(sorted(set(found["holder_id"].dropna())))
        if len(found)
    ]
    followed = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    paired = followup(followed, found, settings, today) if len(followed) else pd.DataFrame(columns=MART_COLUMNS)
    mart = base.merge(paired[[*keys, *flags]], on=keys, how="left")
    mart[flags] = mart[flags].fillna(0).astype(int)
    mart["approvals"] = mart["approvals"].astype(int)
    mart["inspected_share"] = (mart["inspected"] / mart["approvals"]).where(mart["approvals"] > 0)
    mart["window_days"] = settings.inspection_window_days
    return mart.sort_values(keys, ignore_index=True)[MART_COLUMNS]
