"""What a record lists: its 特别程序 (``staging.pauses``), its 材料 (``staging.materials``), each a field holding a
list of objects (or that list as JSON text). One loop reads them for every declared system: each item a row, in the
record's order (``seq``), its keys flattened for the caller to map; a record whose field is no list is kept with a
problem (``<what>_not_a_list``), an item that is no object likewise (``<item>_not_an_object``), never dropped. A
record without the field, or with an empty value, lists nothing: that is not an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd

from core.frames import isin


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


def stage_listed(
    raw: pd.DataFrame,
    staged: pd.DataFrame,
    declared_of: Callable[[str], Any],
    columns_of: Callable[[pd.DataFrame, Any], dict[str, pd.Series]],
    columns: list[str],
    what: str,
    item: str,
) -> pd.DataFrame:
    """One row per listed item of the staged records (``raw``: source_system, record_key, payload): ``declared_of``
    gives a system's declaration (``field``, optional ``format``) or None; ``columns_of`` maps the flattened items
    onto the caller's columns, ``problem`` among them."""
    frames = []
    for source, rows in raw.groupby("source_system", sort=True):
        declared = declared_of(str(source))
        if declared is None or staged.empty:
            continue
        rows = rows[isin(rows["record_key"], staged.loc[staged["source_system"] == source, "record_key"])]
        form = getattr(declared, "format", "list")
        found = [_listed(json.loads(p).get(declared.field), form) for p in rows["payload"]]
        readable = pd.Series([ok for _, ok in found], index=rows.index, dtype=bool)
        listed = pd.Series([items for items, _ in found], index=rows.index, dtype=object)
        frame = pd.DataFrame({"record_key": rows["record_key"], "item": listed.where(readable)}).explode("item")
        frame = frame[frame["item"].notna()]
        not_a_list = rows.loc[~readable, ["record_key"]].assign(seq=0, problem=f"{what}_not_a_list")
        if len(frame):
            frame["seq"] = frame.groupby("record_key").cumcount()
            objects = frame["item"].map(lambda item: isinstance(item, dict)).astype(bool)
            items = pd.json_normalize([i if isinstance(i, dict) else {} for i in frame["item"]]).set_index(frame.index)
            frame = frame.drop(columns="item").assign(**columns_of(items, declared))
            frame["problem"] = frame["problem"].mask(~objects, f"{item}_not_an_object")
        frames.append(pd.concat([frame.drop(columns="item", errors="ignore"), not_a_list]).assign(source_system=source))
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True).reindex(columns=columns)
