"""Licence reuse: for each new application, which of its item's required materials were already in the licence
repository as a valid licence of the applicant on the day it was submitted, so need not be submitted again
(一次录入，全程共享). The list of materials per item is the versioned file ``schemas/codes/required_materials.csv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.identifiers import normalize_code_series

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
