"""The import-linter contract that keeps the stand-ins independent of the product covers every module of sandbox/:
each is either a stand-in (listed in the contract, forbidden every product package) or one of the few that run the
bridge (the exceptions)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
#: The demo driver and the Dagster instance helpers: they run the bridge, so they may import it.
RUN_THE_BRIDGE = {"sandbox.demo", "sandbox.instance", "sandbox.__main__", "sandbox.__init__"}
CONTRACT = "the sandbox's stand-ins never import the product"


def test_every_sandbox_module_is_a_stand_in_or_a_named_exception():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["name"] == CONTRACT]
    product = set(config["root_packages"]) - {"sandbox"}
    assert set(contract["forbidden_modules"]) == product, "the stand-ins may import no package of the product"
    listed = set(contract["source_modules"])
    modules = {f"sandbox.{path.stem}" for path in (ROOT / "sandbox").glob("*.py")}
    modules |= {f"sandbox.{path.name}" for path in (ROOT / "sandbox").iterdir() if (path / "__init__.py").exists()}
    assert modules - RUN_THE_BRIDGE - listed == set(), "add the new stand-in module to the contract in pyproject.toml"
    assert not listed & RUN_THE_BRIDGE
