"""材料: the papers a case's record lists as taken in, each with its 收取方式, count and attachment.

A system that lists materials says where in its declaration (``mapping.materials``: the field holding the list, a
list or a JSON text, and in each item the name, 收取方式, count and attachment, with its 收取方式 codes mapped onto
``schemas.case.MATERIAL_GET_TYPES``). Every material of a staged record becomes a row of ``staged_materials``; one
that cannot be read (not an object, no name, a 收取方式 with no mapping, a count that is not a whole number) is kept
with its ``problem`` and its record is flagged ``material_unreadable``, never silently dropped. A record without
the field, or with an empty list, has no materials: that is not an error.
"""

from __future__ import annotations

import json

import pandas as pd

from staging.mappings import mapping
from staging.normalise import clean_text, flag_problems

COLUMNS = ["source_system", "record_key", "seq", "name", "get_type", "count", "attachment", "problem"]
FLAG = "material_unreadable"


def _listed(value: object, form: str) -> tuple[list | None, bool]:
    """(the list, readable) of one record's field: nothing (None, empty text) is an empty list."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return [], True
    if form == "json" and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None, False
    return (value, True) if isinstance(value, list) else (None, False)


def stage_materials(raw: pd.DataFrame, staged: pd.DataFrame) -> pd.DataFrame:
    """The materials of the staged records (``raw``: source_system, record_key, payload), one row each."""
    frames = []
    for source, rows in raw.groupby("source_system", sort=True):
        declared = mapping(str(source)).materials
        if declared is None or staged.empty:
            continue
        rows = rows[rows["record_key"].isin(staged.loc[staged["source_system"] == source, "record_key"])]
        found = [_listed(json.loads(p).get(declared.field), declared.format) for p in rows["payload"]]
        readable = pd.Series([ok for _, ok in found], index=rows.index, dtype=bool)
        listed = pd.Series([items for items, _ in found], index=rows.index, dtype=object)
        frame = pd.DataFrame({"record_key": rows["record_key"], "item": listed.where(readable)}).explode("item")
        frame = frame[frame["item"].notna()]
        not_a_list = rows.loc[~readable, ["record_key"]].assign(seq=0, problem="materials_not_a_list")
        if len(frame):
            frame["seq"] = frame.groupby("record_key").cumcount()
            objects = frame["item"].map(lambda item: isinstance(item, dict)).astype(bool)
            items = pd.json_normalize([i if isinstance(i, dict) else {} for i in frame["item"]]).set_index(frame.index)
            frame = frame.drop(columns="item").assign(**_material_columns(items, declared))
            frame["problem"] = frame["problem"].mask(~objects, "material_not_an_object")
        frames.append(pd.concat([frame.drop(columns="item", errors="ignore"), not_a_list]).assign(source_system=source))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True).reindex(columns=COLUMNS)


def _material_columns(items: pd.DataFrame, declared) -> dict[str, pd.Series]:
    def field(name: str | None, as_written: bool = False) -> pd.Series:
        """A key of each item: codes and counts through NFKC (full-width digits typed); names as written (a
        material's name keeps its full-width brackets), trimmed; blanks missing."""
        if name is None or name not in items:
            return pd.Series(pd.NA, index=items.index, dtype="string")
        text = items[name].astype("string")
        if as_written:
            text = text.str.strip()
            return text.mask(text.isin(["", "nan", "None", "NULL", "null"]))
        return clean_text(text)

    name, code = field(declared.name, as_written=True), field(declared.get_type)
    count_text, attachment = field(declared.count), field(declared.attachment, as_written=True)
    get_type = code.map(declared.get_types).astype("string")
    count = pd.to_numeric(count_text, errors="coerce")
    whole = count.notna() & (count >= 0) & (count % 1 == 0)
    problem = pd.Series(pd.NA, index=items.index, dtype="string")
    problem = problem.mask(count_text.notna() & ~whole, "material_count_unreadable")
    problem = problem.mask(get_type.isna(), "unknown_get_type")
    problem = problem.mask(name.isna(), "material_name_missing")
    return {
        "name": name,
        "get_type": get_type,
        "count": count.where(whole).astype("Int64"),
        "attachment": attachment,
        "problem": problem,
    }


def flag_records(staged: pd.DataFrame, materials: pd.DataFrame) -> pd.Series:
    """``staged``'s quality flags with ``material_unreadable`` added where one of a record's materials has a
    problem."""
    return flag_problems(staged, materials, FLAG)
