"""``approval-bridge backfill``: a real asset backfill in the running Dagster instance, launched and followed
through the webserver's GraphQL API, exactly as "Materialize → backfill" in the UI would.

The daemon turns the backfill into one run per week of days (the daily assets' backfill policy; each asset
loops over its run's days, oldest first), queued oldest week first and run two at a time (the
``dagster/backfill`` tag limit in ``dagster.yaml``); each receiver, department system, resolution and licence
load takes one step at a time (pools). Every asset replaces exactly its days, so a backfill over days already
loaded changes nothing, and one over a day whose source data was corrected updates exactly those cases. A
failed week is re-run whole by "backfill only failed and missing".
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}"""
PROGRESS = """
query Progress($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      numPartitions
      error { message }
      assetBackfillData {
        assetBackfillStatuses {
          __typename
          ... on AssetPartitionsStatusCounts {
            assetKey { path }
            numPartitionsTargeted numPartitionsInProgress numPartitionsMaterialized numPartitionsFailed
          }
        }
      }
    }
    ... on PythonError { message }
    ... on BackfillNotFoundError { message }
  }
}"""
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
SUCCEEDED = {"COMPLETED", "COMPLETED_SUCCESS"}


class BackfillError(RuntimeError):
    """The instance refused the backfill, or it ended with failures."""


@dataclass(frozen=True)
class Progress:
    status: str
    partitions: int
    materialized: int  # days every selected asset has materialized
    in_progress: int
    failed: int

    def line(self) -> str:
        return (
            f"{self.status.lower():<17} {self.materialized:>4}/{self.partitions} days done, "
            f"{self.in_progress} running, {self.failed} failed"
        )


def days(first: dt.date, last: dt.date) -> list[str]:
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    return [str(first + dt.timedelta(days=i)) for i in range((last - first).days + 1)]


def selection(
    daily_assets: list[str],
    source: str | None,
    sources: list[str],
    licence_feeds: tuple[str, ...] = (),
    platform_feeds: tuple[str, ...] = (),
) -> list[str]:
    """Every daily asset; with ``source``, that department's (or platform feed's) pull and everything downstream
    of it, not the other departments' or feeds' pulls (nor the licence feed, unless ``source`` is among
    ``licence_feeds``)."""
    if source is None:
        return daily_assets
    if source not in [*sources, *platform_feeds]:
        raise ValueError(f"unknown source {source!r}; one of {', '.join([*sources, *platform_feeds])}")
    others = {f"raw_{s}" for s in [*sources, *platform_feeds] if s != source}
    if source not in licence_feeds:
        others.add("raw_licence_feed")
    return [a for a in daily_assets if a not in others]


class InstanceClient:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.client = httpx.Client(base_url=url.rstrip("/"), timeout=httpx.Timeout(timeout, connect=5.0))

    def _query(self, query: str, variables: dict) -> dict:
        answer = self.client.post("/graphql", json={"query": query, "variables": variables})
        answer.raise_for_status()
        document = answer.json()
        if document.get("errors"):
            raise BackfillError("; ".join(e.get("message", "") for e in document["errors"]))
        return document["data"]

    def launch(self, partitions: list[str], assets: list[str], title: str) -> str:
        params = {
            "partitionNames": partitions,
            "assetSelection": [{"path": [a]} for a in assets],
            "fromFailure": False,
            "title": title,
            "tags": [{"key": "launched_by", "value": "approval-bridge backfill"}],
        }
        result = self._query(LAUNCH, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise BackfillError(f"{result['__typename']}: {result.get('message', '')}")
        return result["backfillId"]

    def progress(self, backfill_id: str) -> Progress:
        found = self._query(PROGRESS, {"id": backfill_id})["partitionBackfillOrError"]
        if found["__typename"] != "PartitionBackfill":
            raise BackfillError(f"{found['__typename']}: {found.get('message', '')}")
        counts = [
            s
            for s in (found.get("assetBackfillData") or {}).get("assetBackfillStatuses", [])
            if s["__typename"] == "AssetPartitionsStatusCounts"
        ]
        partitions = found.get("numPartitions") or max((c["numPartitionsTargeted"] for c in counts), default=0)
        return Progress(
            status=found["status"],
            partitions=partitions,
            materialized=min((c["numPartitionsMaterialized"] for c in counts), default=0),
            in_progress=max((c["numPartitionsInProgress"] for c in counts), default=0),
            failed=max((c["numPartitionsFailed"] for c in counts), default=0),
        )

    def follow(
        self, backfill_id: str, *, every: float = 5.0, timeout: float | None = None, report: Callable = print
    ) -> Progress:
        """Report progress until the backfill ends; raise when it ends with failures (or times out)."""
        deadline = time.monotonic() + timeout if timeout else None
        last = None
        while True:
            current = self.progress(backfill_id)
            if current != last:
                report(current.line())
                last = current
            if current.status in FINISHED:
                if current.status not in SUCCEEDED or current.failed:
                    raise BackfillError(f"backfill {backfill_id} ended {current.status} with {current.failed} failed")
                return current
            if deadline and time.monotonic() > deadline:
                raise BackfillError(f"backfill {backfill_id} still {current.status} after {timeout:.0f}s")
            time.sleep(every)

    def close(self) -> None:
        self.client.close()
