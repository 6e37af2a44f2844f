"""What waits for a person, in the UI: a standalone check that counts the three review queues
(``reporting.waiting``: record pairs, 12345 orders, project links) and warns when an item has waited too long.

It targets ``resolution_backlog_mart``, the mart of the review backlog, so it runs with every rebuild of the marts
(it has no automation condition of its own: it rides along with its asset) and "Execute" re-runs it alone. The
counts are its metadata whether it passes or not; ``approval-bridge review list`` lists the items.
"""

import pandas as pd
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, ResourceParam, asset_check

from core import clock, settings
from core.warehouse import Warehouse
from pipelines.metadata import md
from reporting.waiting import KINDS, NOUNS, queue
from reporting.waiting import counts as waiting_counts

NOTHING_WAITS_TOO_LONG = "nothing_waits_for_a_person_too_long"
MAX_AGE_VARIABLE = "BRIDGE_REVIEW_MAX_AGE_DAYS"
DEFAULT_MAX_AGE_DAYS = 7  # assumed: a week; the bureau's own rule for its reviewers is to be confirmed
OLDEST_SHOWN = 5


@asset_check(
    asset="resolution_backlog_mart",
    name=NOTHING_WAITS_TOO_LONG,
    description="What waits for a person: record pairs to decide (review_queue), 12345 orders that could be about "
    "several cases, cases that look like a project's step (project_link_review), counted per kind; a warning when "
    f"one has waited more than {MAX_AGE_VARIABLE} calendar days (default {DEFAULT_MAX_AGE_DAYS}). "
    "`approval-bridge review list` lists them.",
)
def nothing_waits_too_long(
    context: AssetCheckExecutionContext, warehouse: ResourceParam[Warehouse]
) -> AssetCheckResult:
    max_age = settings.number(MAX_AGE_VARIABLE, DEFAULT_MAX_AGE_DAYS)
    today = clock.today()
    found = waiting_counts(warehouse, today, max_age)
    by_kind = found.set_index("kind")
    oldest = pd.concat(
        [queue(warehouse, kind, OLDEST_SHOWN).items[["since", "head"]].assign(kind=NOUNS[kind]) for kind in KINDS],
        ignore_index=True,
    )
    over = int(found["over_age"].sum())
    table = found.assign(kind=found["kind"].map(NOUNS)).rename(
        columns={"oldest": "waiting since (oldest)", "over_age": f"over {max_age:g} days"}
    )
    return AssetCheckResult(
        passed=over == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "waiting": int(found["waiting"].sum()),
            **{f"{kind}_waiting": int(by_kind.loc[kind, "waiting"]) for kind in KINDS},
            "max_age_days": max_age,
            "waiting_longer": over,
            "by_kind": md(table),
            "oldest_items": md(oldest[["kind", "since", "head"]], empty="nothing waits"),
        },
    )


REVIEW_CHECKS = [nothing_waits_too_long]
