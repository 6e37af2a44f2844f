"""The corrections' identity, re-runnable on its own from the UI: every quarantined record (of the systems and feeds
on the departments' lists) and every dead letter is in exactly one correction entry, of its kind, on a known
department's list; and no entry is open that no fact stands behind."""

import pandas as pd
import sqlalchemy as sa
from dagster import AssetCheckResult, AssetCheckSeverity, ResourceParam, asset_check

from core.warehouse import Warehouse
from pipelines.corrections.assets import by_department
from pipelines.metadata import md
from reporting.corrections import OPEN, QUARANTINE, REFUSAL, listed_feeds, quarantine_keys, refusal_keys
from schemas.case import departments
from schemas.warehouse import corrections, dead_letters, quarantined_feed_records, quarantined_records

EVERY_FACT_ONCE = "every_quarantine_and_refusal_in_one_entry"


def fact_keys(warehouse: Warehouse) -> pd.DataFrame:
    """Each quarantined record and dead letter with the entry it belongs to (entry_key, kind)."""
    q, f, d = quarantined_records.c, quarantined_feed_records.c, dead_letters.c
    quarantined = pd.concat(
        [
            warehouse.read(
                sa.select(q.source_system, q.partition_date, q.record_key, q.source_record_id.label("record_id"))
            ),
            warehouse.read(
                sa.select(f.source_system, f.partition_date, f.record_key, f.item_id.label("record_id")).where(
                    f.source_system.in_(list(listed_feeds()))
                )
            ),
        ],
        ignore_index=True,
    )
    letters = warehouse.read(sa.select(d.target, d.golden_case_id))
    return pd.concat(
        [
            pd.DataFrame({"entry_key": quarantine_keys(quarantined), "kind": QUARANTINE}),
            pd.DataFrame({"entry_key": refusal_keys(letters), "kind": REFUSAL}),
        ],
        ignore_index=True,
    )


@asset_check(
    asset="corrections",
    name=EVERY_FACT_ONCE,
    description="Every quarantined record (department systems, and the feeds routed to a department's list in "
    "schemas/codes/correction_departments.csv) and every dead letter is in exactly one correction entry of its "
    "kind, on the list of a department of schemas/codes/departments.csv; no open entry lacks the facts behind it. "
    "Fails while the table is behind the facts (a day staged or a refusal recorded since it was built).",
)
def every_quarantine_and_refusal_in_one_entry(warehouse: ResourceParam[Warehouse]) -> AssetCheckResult:
    facts = fact_keys(warehouse)
    entries = warehouse.read(sa.select(corrections))
    matched = facts.merge(entries[["entry_key", "kind"]], on="entry_key", how="left", suffixes=("", "_entry"))
    missing = matched[matched["kind_entry"].isna()]
    wrong_kind = matched[matched["kind_entry"].notna() & (matched["kind_entry"] != matched["kind"])]
    twice = entries[entries["entry_key"].duplicated(keep=False)]
    unbacked = entries[(entries["status"] == OPEN) & ~entries["entry_key"].isin(facts["entry_key"])]
    unknown = entries[~entries["department"].isin(departments()["department_code"])]
    failing = {
        "facts_without_entry": missing,
        "entry_of_another_kind": wrong_kind,
        "entry_twice": twice,
        "open_without_facts": unbacked,
        "unknown_department": unknown,
    }
    return AssetCheckResult(
        passed=all(frame.empty for frame in failing.values()),
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "quarantined_records": int((facts["kind"] == QUARANTINE).sum()),
            "dead_letters": int((facts["kind"] == REFUSAL).sum()),
            "entries_with_facts": int(facts["entry_key"].nunique()),
            "entries": len(entries),
            **{name: len(frame) for name, frame in failing.items()},
            "examples": md(
                pd.concat(
                    [frame.assign(problem=name)[["problem", "entry_key"]].head(10) for name, frame in failing.items()],
                    ignore_index=True,
                )
            ),
            "by_department": md(by_department(entries)),
        },
    )
