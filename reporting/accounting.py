"""Nothing a feed sent is lost: every item (an evaluation, an order) read from the raw records alone, against the
state table that must hold each exactly once. The checks and the reconciliation table both read it."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from core.feeds import Feed
from core.warehouse import json_text
from schemas.warehouse import raw_feed_records


def pulled_items(warehouse, feeds: dict[str, Feed], field: str) -> pd.DataFrame:
    """Every item the ``feeds`` sent, from the raw records alone: source_system, item_id (the feed's ``field``, the
    canonical id field, as the record carries it; else the day and record key, as staging.feeds.quarantine_key).
    The id is taken out of each payload by the database (``json_text``), one feed at a time: the payloads are not
    read into Python."""
    r = raw_feed_records.c
    read = (
        warehouse.read(
            sa.select(
                r.source_system, r.partition_date, r.record_key, json_text(r.payload, feed.fields[field]).label("given")
            ).where(r.source_system == name)
        )
        for name, feed in feeds.items()
    )
    frames = [frame for frame in read if len(frame)]
    if not frames:
        return pd.DataFrame(columns=["source_system", "item_id"])
    raw = pd.concat(frames, ignore_index=True)
    given = raw["given"].astype("string").str.strip().fillna("")
    day = pd.to_datetime(raw["partition_date"]).dt.strftime("%Y-%m-%d")
    ids = given.where(given != "", day + "/" + raw["record_key"].astype("string"))
    return pd.DataFrame({"source_system": raw["source_system"], "item_id": ids}).drop_duplicates()


def accounted(warehouse, feeds: dict[str, Feed], field: str, states: sa.Table, statuses: tuple[str, ...]) -> dict:
    """Items pulled (from the raw records) against the state table ``states`` (keyed by source_system and
    ``field``): how many in each of ``statuses``, those pulled but missing from it, those in it never pulled,
    those in it twice, and those in a status not among ``statuses``."""
    pulled = pulled_items(warehouse, feeds, field)
    held = warehouse.read(
        sa.select(states.c.source_system, states.c[field].label("item_id"), states.c.status).where(
            states.c.source_system.in_(list(feeds))
        )
    )
    keys = ["source_system", "item_id"]
    merged = pulled.merge(held, on=keys, how="outer", indicator=True)
    by_status = held["status"].value_counts()
    return {
        "pulled": len(pulled),
        **{status: int(by_status.get(status, 0)) for status in statuses},
        "missing": merged.loc[merged["_merge"] == "left_only", keys],
        "never_pulled": merged.loc[merged["_merge"] == "right_only", keys],
        "twice": int(held.duplicated(keys).sum()),
        "other_status": int((~held["status"].isin(statuses)).sum()),
    }


def balanced(found: dict, statuses: tuple[str, ...]) -> bool:
    """pulled = the sum over the statuses, and nothing missing, never pulled, twice or in another status."""
    return (
        found["pulled"] == sum(found[s] for s in statuses)
        and found["missing"].empty
        and found["never_pulled"].empty
        and not found["twice"]
        and not found["other_status"]
    )
