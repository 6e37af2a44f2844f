"""12345 hotline orders staged: each record of a hotline feed usable (``staged_hotline_orders``) or quarantined
with its reason (``quarantined_feed_records``); nothing is dropped.

Beyond the rules every feed shares (``staging.feeds``: an unreadable export, an order without id, origin,
dispatch time, deadline or result, a code the declaration does not map, an unreadable dispatch time or deadline),
an order is quarantined when its 办结时间 cannot be read, its 是否超期 is neither yes nor no, its deadline comes
before its dispatch, or it was dispatched after the day it was pulled.

The caller's personal data stops here: the name is kept as its surname and ``*`` (张*), the phone as its first
three and last four digits, and every run of digits in the content (a phone, an identity number) masked, the
caller's name in it too. The applicant's name stays (it links the order to a case, as a case's own applicant
name does); it is not carried past ``hotline_orders``' build.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from core.feeds import Feed
from schemas.identifiers import mask_numbers_in_text
from schemas.items import identify_items
from schemas.warehouse import staged_hotline_orders
from staging.feeds import feed_rules, first_failing, map_feed, split

#: What a staged order holds: the table's columns (its day is added when it is written).
COLUMNS = [c.name for c in staged_hotline_orders.columns if c.name != "partition_date"]
#: How exports write 是否超期 (isOverdue 0/1; some write 是/否).
OVERDUE_WORDS = {"1": True, "是": True, "Y": True, "TRUE": True, "0": False, "否": False, "N": False, "FALSE": False}


def mask_caller_name(names: pd.Series) -> pd.Series:
    """A caller's name as its first character (the surname, or its first half) and ``*``: 张三 → 张*."""
    text = names.astype("string").str.strip()
    return (text.str.slice(0, 1) + "*").where(text.notna() & (text != ""))


def mask_caller_phone(phones: pd.Series) -> pd.Series:
    """A phone number, mobile or landline, as its first three and last four digits (139****5678, 051****1234);
    anything shorter than eight digits entirely as ``*``."""
    digits = phones.astype("string").str.replace(r"\D", "", regex=True)
    masked = digits.str.slice(0, 3) + "****" + digits.str.slice(-4)
    short = digits.str.len() < 8
    return masked.mask(short, "****").where(phones.notna() & (digits != ""))


def mask_content(content: pd.Series, caller_names: pd.Series) -> pd.Series:
    """The free text with its digit runs masked (``mask_numbers_in_text``) and the caller's full name, where it
    appears, replaced by its masked form."""
    out = []
    for text, name in zip(content.tolist(), caller_names.tolist(), strict=True):
        if text is None or text is pd.NA:
            out.append(pd.NA)
            continue
        text = mask_numbers_in_text(str(text))
        if isinstance(name, str) and len(name.strip()) >= 2:
            text = text.replace(name.strip(), name.strip()[0] + "*")
        out.append(text)
    return pd.Series(out, index=content.index, dtype="string")


def stage_hotline(raw: pd.DataFrame, feed: Feed, partition: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``raw``: record_key, payload (one feed, one day). Returns (staged, quarantined), both with source_system."""
    if raw.empty:
        return pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=["source_system", "record_key", "item_id"])
    frame = map_feed(raw, feed)
    system = feed.system_name
    rules = feed_rules(frame, feed)
    overdue_text = frame["overdue"].str.upper()
    frame["overdue"] = overdue_text.map(OVERDUE_WORDS).astype("boolean")
    latest = pd.Timestamp(partition + dt.timedelta(days=1))
    rules += [
        (
            frame["_raw_closed_at"].notna() & frame["closed_at"].isna(),
            "invalid_closed_at",
            feed.fields.get("closed_at", "closed_at") + "“" + frame["_raw_closed_at"].fillna("") + "”无法识别为时间。",
        ),
        (
            overdue_text.notna() & frame["overdue"].isna(),
            "invalid_overdue",
            feed.fields.get("overdue", "overdue") + "“" + overdue_text.fillna("") + "”应为 0/1 或 是/否。",
        ),
        (
            frame["deadline_at"] < frame["dispatched_at"],
            "deadline_before_dispatch",
            "办理时限早于派单时间：请" + system + "核对该工单。",
        ),
        (
            frame["dispatched_at"] >= latest,
            "dispatched_after_pulled",
            "派单时间“" + frame["_raw_dispatched_at"].fillna("") + "”晚于拉取日：请核对热线系统的时钟或该工单。",
        ),
    ]
    reason_code, reason = first_failing(frame, rules)
    staged, quarantined = split(frame, reason_code, reason, "order_id")
    staged["content"] = mask_content(staged["content"], staged["caller_name"])
    staged["caller_name"] = mask_caller_name(staged["caller_name"])
    staged["caller_phone"] = mask_caller_phone(staged["caller_phone"])
    staged["item_code"] = (
        identify_items(
            pd.Series(pd.NA, index=staged.index, dtype="string"),
            staged["item_name"],
            pd.Series(feed.name, index=staged.index, dtype="string"),
        )["item_code"].astype("string")
        if len(staged)
        else pd.Series(dtype="string")
    )
    staged["source_system"] = feed.name
    return staged.reindex(columns=COLUMNS).reset_index(drop=True), quarantined.assign(source_system=feed.name)
