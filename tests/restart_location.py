"""A code location for tests/test_restart.py: one asset that holds the receiver pool ``target_one_network`` (as
the one network's delivery does) for as long as its run config says, so a run can be caught in mid-step."""

import time

from dagster import Config, Definitions, asset, define_asset_job

POOL = "target_one_network"


class HoldConfig(Config):
    seconds: float = 1.0


@asset(pool=POOL)
def held_pool(config: HoldConfig) -> None:
    """Sleeps ``seconds`` while its step holds the pool's slot."""
    deadline = time.monotonic() + config.seconds
    while time.monotonic() < deadline:
        time.sleep(0.2)


hold_pool = define_asset_job("hold_pool", selection=[held_pool])
defs = Definitions(assets=[held_pool], jobs=[hold_pool])
