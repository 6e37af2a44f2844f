"""好差评 evaluations staged: each record of an evaluation feed usable (``staged_evaluations``) or quarantined
with its reason (``quarantined_feed_records``); nothing is dropped.

Beyond the rules every feed shares (``staging.feeds``), an evaluation dated after the day it was pulled is
quarantined (a clock or a typing error: it cannot be placed in a month), and its free text has every run of
digits that could be a phone or an identity number masked before it is stored.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from core.feeds import Feed
from schemas.identifiers import mask_numbers_in_text
from schemas.warehouse import staged_evaluations
from staging.feeds import feed_rules, first_failing, map_feed, split

#: What a staged evaluation holds: the table's columns (its day is added when it is written).
COLUMNS = [c.name for c in staged_evaluations.columns if c.name != "partition_date"]


def stage_evaluations(raw: pd.DataFrame, feed: Feed, partition: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``raw``: record_key, payload (one feed, one day). Returns (staged, quarantined), both with source_system."""
    if raw.empty:
        return pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=["source_system", "record_key", "item_id"])
    frame = map_feed(raw, feed)
    rules = feed_rules(frame, feed)
    latest = pd.Timestamp(partition + dt.timedelta(days=1))
    rules.append(
        (
            frame["evaluated_at"] >= latest,
            "evaluated_after_pulled",
            "评价时间“" + frame["_raw_evaluated_at"].fillna("") + "”晚于拉取日：请核对评价系统的时钟或该记录。",
        )
    )
    reason_code, reason = first_failing(frame, rules)
    staged, quarantined = split(frame, reason_code, reason, "evaluation_id")
    staged["text"] = staged["text"].map(mask_numbers_in_text, na_action="ignore").astype("string")
    staged["source_system"] = feed.name
    return staged.reindex(columns=COLUMNS).reset_index(drop=True), quarantined.assign(source_system=feed.name)
