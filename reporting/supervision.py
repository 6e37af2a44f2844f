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

from reporting.definitions import SupervisionDefinitions
from schemas.identifiers import mask_identifier_series
from schemas.licences import HOLDER_CODE_TYPES
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
