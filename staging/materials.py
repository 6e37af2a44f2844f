"""材料: the papers a case's record lists as taken in, each with its 收取方式, count and attachment.

A system that lists materials says where in its declaration (``mapping.materials``: the field holding the list, a
list or a JSON text, and in each item the name, 收取方式, count and attachment, with its 收取方式 codes mapped onto
``schemas.case.MATERIAL_GET_TYPES``). Every material of a staged record becomes a row of ``staged_materials``; one
that cannot be read (not an object, no name, a 收取方式 with no mapping, a count that is not a whole number) is kept
with its ``problem`` and its record is flagged ``material_unreadable``, never silently dropped. A record without
the field, or with an empty list, has no materials: that is not an error.
"""

from __future__ import annotations

import pandas as pd

from staging.lists import stage_listed
from staging.mappings import mapping
from staging.normalise import clean_text, flag_problems

COLUMNS = ["source_system", "record_key", "seq", "name", "get_type", "count", "attachment", "problem"]
FLAG = "material_unreadable"


def stage_materials(raw: pd.DataFrame, staged: pd.DataFrame) -> pd.DataFrame:
    """The materials of the staged records (``raw``: source_system, record_key, payload), one row each."""
    return stage_listed(
        raw, staged, lambda source: mapping(source).materials, _material_columns, COLUMNS, "materials", "material"
    )


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
