"""审管互动 findings staged: each record of a findings feed usable (``staged_findings``) or quarantined with its
reason (``quarantined_feed_records``); nothing is dropped.

Beyond the rules every feed shares (``staging.feeds``): an inspection result needs its 检查结果 (pass or fail), a
finding decided after the day it was pulled is quarantined (it cannot be placed), and a suspension ending before it
takes effect is quarantined (a typing error the platform should correct). The holder's code is normalised
(a 15-digit 身份证号 upgraded); one that fails its check is kept (flag, never drop): linking decides. The code
stays in this table only: past staging a 身份证号 is masked (``findings``). The 事由's digit runs are masked here.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from core.feeds import Feed
from schemas.identifiers import classify_identifiers, mask_numbers_in_text
from staging.feeds import feed_rules, first_failing, map_feed, split

COLUMNS = [
    "source_system",
    "record_key",
    "finding_id",
    "kind",
    "result",
    "holder_code",
    "holder_name",
    "licence_no",
    "licence_type_code",
    "department",
    "decided_at",
    "effective_at",
    "ends_at",
    "status",
    "closed_at",
    "content",
    "changed_at",
]


def stage_findings(raw: pd.DataFrame, feed: Feed, partition: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``raw``: record_key, payload (one feed, one day). Returns (staged, quarantined), both with source_system."""
    if raw.empty:
        return pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=["source_system", "record_key", "item_id"])
    frame = map_feed(raw, feed)
    system = feed.system_name
    rules = feed_rules(frame, feed)
    latest = pd.Timestamp(partition + dt.timedelta(days=1))
    rules += [
        (
            (frame["kind"] == "inspection") & frame["result"].isna() & frame["_raw_result"].isna(),
            "missing_result",
            system + "的检查结果记录缺少" + feed.fields.get("result", "result") + "（合格或不合格）。",
        ),
        (
            frame["decided_at"] >= latest,
            "decided_after_pulled",
            "决定日期“" + frame["_raw_decided_at"].fillna("") + "”晚于拉取日：请核对该记录。",
        ),
        (
            frame["ends_at"].notna() & (frame["ends_at"] < frame["effective_at"].fillna(frame["decided_at"])),
            "ends_before_effective",
            "截止日期“" + frame["_raw_ends_at"].fillna("") + "”早于生效日期：请" + system + "更正。",
        ),
    ]
    for name in ("effective_at", "ends_at", "closed_at"):  # optional times: a given one must read
        rules.append(
            (
                frame[f"_raw_{name}"].notna() & frame[name].isna(),
                f"invalid_{name}",
                feed.fields.get(name, name) + "“" + frame[f"_raw_{name}"].fillna("") + "”无法识别为时间。",
            )
        )
    reason_code, reason = first_failing(frame, rules)
    staged, quarantined = split(frame, reason_code, reason, "finding_id")
    ids = classify_identifiers(staged["holder_code"].astype("string"))
    staged["holder_code"] = ids["id"].fillna(staged["holder_code"]).astype("string")
    staged["content"] = staged["content"].map(mask_numbers_in_text, na_action="ignore").astype("string")
    staged["source_system"] = feed.name
    return staged.reindex(columns=COLUMNS).reset_index(drop=True), quarantined.assign(source_system=feed.name)
