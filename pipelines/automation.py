"""When the tables rebuilt whole (the feeds' state tables, corrections, the marts) refresh: once after a load, and
only when one of their inputs changed.

Dagster's ``eager`` requests an asset whenever a parent updates. Here that flooded the Runs list: every follow-up of
a pending version re-materialised a delivery asset and ``delivery_status``, and so launched a refresh of the marts
downstream; and a day's load launched a refresh for each branch of the load as that branch finished. ``after_load``
requests an asset when

* an input changed: a parent materialised with a new data version since the asset was last requested or
  materialised. The delivery assets and ``delivery_status`` state their data version from what they wrote (the
  outbox of their days, the reconciliation table), so a follow-up that changed nothing leaves it as it was; every
  other asset's version changes with each run that materialises it;
* and the load is over: no asset at the end of the daily load (its sinks: the deliveries, the staged feeds,
  quarantine) is planned or running in a run or a backfill, so all that changed is refreshed together, in one run,
  after the load, however its branches finish; nor is a parent or the asset itself in progress;
* and no input outside the daily load was never built (a state table; it is requested with the asset when it is
  automated too). A day the load has not filled does not hold a refresh back: ``eager``'s ``any_deps_missing``
  counts every partition since the partitions' start, so one day never loaded (or the days before the data
  starts) kept the marts from ever refreshing.

Evaluated by the ``marts_automation`` sensor (pipelines/definitions.py); the UI's Automation tab of each asset shows
which part held it back.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable

from dagster import AssetKey, AssetSelection, AutomationCondition


def load_running(load_ends: Iterable[AssetKey]) -> AutomationCondition:
    """True while any of ``load_ends`` (any partition) is planned or running in a run or a backfill."""
    running = [AutomationCondition.asset_matches(key, AutomationCondition.in_progress()) for key in sorted(load_ends)]
    return functools.reduce(operator.or_, running).with_label("a load is running")


def input_changed() -> AutomationCondition:
    """A parent updated with a new data version by a run that did not also target this asset, or a parent is
    requested on this tick (then both go in the same run)."""
    return AutomationCondition.any_deps_match(
        (AutomationCondition.data_version_changed() & ~AutomationCondition.executed_with_root_target()).with_label(
            "new data version"
        )
        | AutomationCondition.will_be_requested()
    ).with_label("an input changed")


def after_load(load: AssetSelection, load_ends: Iterable[AssetKey]) -> AutomationCondition:
    """Refresh once after a load, when an input changed (the module's docstring). ``load``: the daily assets;
    ``load_ends``: its sinks."""
    return (
        (AutomationCondition.newly_missing() | input_changed()).since_last_handled()
        & ~AutomationCondition.any_deps_missing().ignore(load).with_label("an input outside the load was never built")
        & ~AutomationCondition.any_deps_in_progress()
        & ~load_running(load_ends)
        & ~AutomationCondition.in_progress()
    ).with_label("after_load")
