"""12345 orders linked to the golden case they are about, precision first.

1. By 办件编号: an order naming a number a golden case is known under (``resolution.evaluations.number_index``:
   the department's own number, the one the bridge allocated, one it withdrew) is linked to that case (rule
   ``case_no``); a number that names several golden cases is left for review.
2. Else by applicant and item: the golden cases of the same applicant (names compared as
   ``staging.normalise.company_name_key`` of ``schemas.case.name_key``: no spaces, one bracket form, no region
   prefix, one legal-form suffix) and the same catalogue item, submitted within ``window_days`` before the order
   was dispatched. Exactly one → linked (rule ``applicant_item_window``); several (namesakes, a renewal and its
   first filing) → ``review`` with the number of candidates, never guessed; none → unlinked.

Most orders are about no case at all (a consultation, a complaint about something else): unlinked is normal.
"""

from __future__ import annotations

import pandas as pd

from schemas.case import name_key
from staging.normalise import company_name_key

LINKED, REVIEW, UNLINKED = "linked", "review", "unlinked"
BY_NUMBER, BY_APPLICANT_ITEM = "case_no", "applicant_item_window"


def applicant_key(names: pd.Series) -> pd.Series:
    """The form applicant names are compared in (NA for a blank name)."""
    text = names.astype("string")
    keyed = text.map(name_key, na_action="ignore").astype("string")
    keyed = company_name_key(keyed)
    return keyed.mask(keyed == "")


def link_orders(orders: pd.DataFrame, numbers: pd.DataFrame, golden: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """``orders`` (case_no, applicant_name, item_code, dispatched_at) with ``status`` (linked / review /
    unlinked), ``golden_case_id``, ``link_rule``, ``candidates`` (golden cases found; 0 when none) and ``note``.
    ``numbers``: case_no → golden_case_id; ``golden``: golden_case_id, applicant_name, item_code, submitted_at."""
    out = orders.copy()
    status = pd.Series(UNLINKED, index=out.index, dtype="string")
    golden_id = pd.Series(pd.NA, index=out.index, dtype="string")
    rule = pd.Series(pd.NA, index=out.index, dtype="string")
    candidates = pd.Series(0, index=out.index, dtype="int64")
    note = pd.Series(pd.NA, index=out.index, dtype="string")

    # 1. by 办件编号
    counts = numbers.groupby("case_no")["golden_case_id"].nunique()
    single = numbers[numbers["case_no"].map(counts) == 1].drop_duplicates("case_no").set_index("case_no")
    named = out["case_no"].map(counts).fillna(0).astype(int)
    by_number = named == 1
    status[by_number] = LINKED
    golden_id[by_number] = out.loc[by_number, "case_no"].map(single["golden_case_id"]).astype("string")
    rule[by_number] = BY_NUMBER
    candidates[named > 0] = named[named > 0]
    several = named > 1
    status[several] = REVIEW
    note[several] = "the 办件编号 names " + named[several].astype(str) + " cases: left for review"
    unknown_number = out["case_no"].notna() & (named == 0)
    note[unknown_number] = "no case is known under the 办件编号 given"

    # 2. by applicant and item within the window, for orders the number did not decide
    open_ = (named == 0) & out["applicant_name"].notna() & out["item_code"].notna() & out["dispatched_at"].notna()
    if open_.any() and len(golden):
        left = pd.DataFrame(
            {
                "_order": out.index[open_],
                "key": applicant_key(out.loc[open_, "applicant_name"]).to_numpy(),
                "item_code": out.loc[open_, "item_code"].astype("string").to_numpy(),
                "dispatched_at": pd.to_datetime(out.loc[open_, "dispatched_at"]).to_numpy(),
            }
        )
        right = pd.DataFrame(
            {
                "golden_case_id": golden["golden_case_id"].astype("string").to_numpy(),
                "key": applicant_key(golden["applicant_name"]).to_numpy(),
                "item_code": golden["item_code"].astype("string").to_numpy(),
                "submitted_at": pd.to_datetime(golden["submitted_at"]).to_numpy(),
            }
        ).dropna(subset=["key", "item_code", "submitted_at"])
        pairs = left.dropna(subset=["key"]).merge(right, on=["key", "item_code"])
        within = (pairs["submitted_at"] <= pairs["dispatched_at"]) & (
            pairs["submitted_at"] >= pairs["dispatched_at"] - pd.Timedelta(days=window_days)
        )
        pairs = pairs[within]
        found = pairs.groupby("_order")["golden_case_id"].agg(["nunique", "first"])
        one = found[found["nunique"] == 1]
        many = found[found["nunique"] > 1]
        status[one.index] = LINKED
        golden_id[one.index] = one["first"].astype("string")
        rule[one.index] = BY_APPLICANT_ITEM
        candidates[found.index] = found["nunique"].astype("int64")
        status[many.index] = REVIEW
        note[many.index] = (
            many["nunique"].astype(str)
            + f" cases of this applicant and item within {window_days} days: left for review"
        )
        note[one.index] = pd.NA
    return out.assign(status=status, golden_case_id=golden_id, link_rule=rule, candidates=candidates, note=note)
