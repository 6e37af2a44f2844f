"""A feed's raw records (好差评 evaluations, 12345 orders) mapped onto the canonical fields of its kind, and the
rules every feed shares: each record is usable or quarantined with one reason a clerk can act on.

Column-wise, as ``staging.normalise``: the declaration (``core/feeds/<name>.yaml``) says which of the system's
fields carries which canonical field and how its codes map; a code with no mapping, a required field left empty
and a time that cannot be read quarantine the record; an unreadable export file is one quarantined record.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pandas as pd
import sqlalchemy as sa

from core.feeds import Feed
from schemas.feeds import FEED_KINDS
from schemas.warehouse import staged_days
from staging.normalise import Rule, clean_text, first_failing, parse_timestamps


def map_feed(raw: pd.DataFrame, feed: Feed) -> pd.DataFrame:
    """``raw`` (record_key, payload JSON) → one column per canonical field of the feed's kind (codes mapped,
    times parsed), with ``_raw_<field>`` as the system wrote each coded or timed value and ``file_error``."""
    kind = FEED_KINDS[feed.kind]
    payloads = pd.DataFrame([json.loads(p) for p in raw["payload"]], index=raw.index)
    out = pd.DataFrame({"record_key": raw["record_key"].to_numpy()}, index=raw.index)
    for name in kind.fields:
        given = feed.fields.get(name)
        text = (
            clean_text(payloads[given].astype("string"))
            if given is not None and given in payloads
            else pd.Series(pd.NA, index=raw.index, dtype="string")
        )
        if name in kind.coded:
            out[f"_raw_{name}"] = text
            codes = feed.code_map(name)
            out[name] = text.map(codes).astype("string")
        elif name in kind.timestamps:
            out[f"_raw_{name}"] = text
            out[name] = parse_timestamps(text)
        else:
            out[name] = text
    out["file_error"] = payloads["_error"].astype("string") if "_error" in payloads else pd.NA
    out["changed_at"] = (
        payloads[feed.connector.settings["changed_field"]].astype("string")
        if feed.connector.settings.get("changed_field") in payloads
        else pd.NA
    )
    return out


def feed_rules(frame: pd.DataFrame, feed: Feed) -> list[Rule]:
    """The rules every feed shares, in order: an unreadable file, then each required field (empty, an unknown
    code, an unreadable time), then each optional coded field given with an unknown code."""
    kind = FEED_KINDS[feed.kind]
    system = feed.system_name
    rules: list[Rule] = [
        (
            frame["file_error"].notna(),
            "unreadable_file",
            "文件无法读取（" + frame["file_error"].fillna("") + "）。请" + system + "重新导出后重新投放。",
        )
    ]
    for name in kind.required:
        raw = frame.get(f"_raw_{name}", frame[name])
        rules.append((raw.isna(), f"missing_{name}", f"{system}的记录缺少{feed.fields[name]}（{name}）。"))
    for name in kind.fields:
        if name in kind.coded:
            rules.append(
                (
                    frame[f"_raw_{name}"].notna() & frame[name].isna(),
                    f"unknown_{name}",
                    feed.fields[name]
                    + "“"
                    + frame[f"_raw_{name}"].fillna("")
                    + "”不在代码对照中：请核对，或在 core/feeds/"
                    + feed.name
                    + ".yaml 的 codes."
                    + name
                    + " 中补充。",
                )
            )
        elif name in kind.timestamps and name in kind.required:
            rules.append(
                (
                    frame[f"_raw_{name}"].notna() & frame[name].isna(),
                    f"invalid_{name}",
                    feed.fields[name] + "“" + frame[f"_raw_{name}"].fillna("") + "”无法识别为时间。",
                )
            )
    return rules


def split(
    frame: pd.DataFrame, reason_code: pd.Series, reason: pd.Series, id_field: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(usable, quarantined): the quarantined rows as ``quarantined_feed_records`` holds them."""
    bad = reason_code.notna()
    quarantined = pd.DataFrame(
        {
            "record_key": frame.loc[bad, "record_key"],
            "item_id": frame.loc[bad, id_field],
            "reason_code": reason_code[bad],
            "reason": reason[bad],
        }
    )
    return frame.loc[~bad].copy(), quarantined.reset_index(drop=True)


__all__ = ["feed_rules", "first_failing", "map_feed", "split"]


# ---------------------------------------------------------------- a feed's items: one per id, in its newest state
def newest(records: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """One row per item (source_system, ``id_column``: an evaluation, an order): its newest staged record by
    partition and change time, with ``records`` (how many were staged) and ``first_partition``."""
    ordered = records.sort_values(["partition_date", "changed_at", "record_key"], na_position="first", kind="stable")
    keys = ["source_system", id_column]
    grouped = ordered.groupby(keys, sort=False)
    found = ordered.drop_duplicates(keys, keep="last").set_index(keys)
    found["records"] = grouped.size()
    found["first_partition"] = grouped["partition_date"].min()
    return found.reset_index()


def quarantine_key(quarantined: pd.DataFrame) -> pd.Series:
    """The item a quarantined record stands for: its id when one could be read, else the day and record key (two
    records without an id are two items)."""
    day = pd.to_datetime(quarantined["partition_date"]).dt.strftime("%Y-%m-%d")
    return quarantined["item_id"].astype("string").fillna(day + "/" + quarantined["record_key"].astype("string"))


def with_quarantined(usable: pd.DataFrame | None, quarantined: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """``usable`` items (as :func:`newest` gives them) and the items of which no record could be used, each
    ``quarantined`` with the reason of its newest record (``status`` quarantined, ``note`` its reason code). A
    quarantined record of an item that has a usable one is counted in that item's ``records``."""
    keys = ["source_system", id_column]
    q = quarantined.assign(
        **{id_column: quarantine_key(quarantined)}, partition_date=pd.to_datetime(quarantined["partition_date"]).dt.date
    ).sort_values(["partition_date", "record_key"], kind="stable")
    grouped = q.groupby(keys, sort=False)
    held = q.drop_duplicates(keys, keep="last").set_index(keys)
    held["records"] = grouped.size()
    held["first_partition"] = grouped["partition_date"].min()
    held = held.reset_index().assign(status="quarantined", note=lambda f: f["reason_code"])
    if usable is None or usable.empty:
        return held
    seen = pd.MultiIndex.from_frame(usable[keys])
    found = pd.MultiIndex.from_frame(held[keys])
    also = held[found.isin(seen)].set_index(keys)
    usable = usable.set_index(keys)
    usable["records"] = usable["records"].add(also["records"], fill_value=0).astype(int)
    usable["first_partition"] = pd.concat([usable["first_partition"], also["first_partition"]], axis=1).min(axis=1)
    return pd.concat([usable.reset_index(), held[~found.isin(seen)]], ignore_index=True)


def stamp_day(conn: sa.Connection, table: sa.Table, source_system: str, day: dt.date, now: dt.datetime) -> str:
    """Record, inside the transaction that replaced ``table``'s rows of ``source_system`` on ``day``, that the day
    was staged anew: a new random stamp (``staged_days``), by which what is kept up to date from ``table`` finds
    the days changed since it last looked. Returns the stamp."""
    d = staged_days.c
    stamp = uuid.uuid4().hex
    conn.execute(
        staged_days.delete().where(
            (d.table_name == table.name) & (d.source_system == source_system) & (d.partition_date == day)
        )
    )
    conn.execute(
        staged_days.insert().values(
            table_name=table.name, source_system=source_system, partition_date=day, stamp=stamp, staged_at=now
        )
    )
    return stamp
