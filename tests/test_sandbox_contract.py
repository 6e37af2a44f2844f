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


PRODUCT_PACKAGES = ("cli", "sharing", "dashboard", "pipelines", "connectors", "staging", "resolution", "delivery")
PRODUCT_PACKAGES += ("licensing", "reporting", "core", "schemas")


def _code_strings(path: Path) -> list[str]:
    """The string constants a module's code uses, docstrings left out (they may cite a contract as a source)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_the_product_never_reads_the_public_definitions():
    """contracts/ holds copies of the published definitions the bridge is held against: the stand-ins and the tests
    read them, the product never does (else it would agree with them by construction, not by being right)."""
    readers = sorted(
        str(path.relative_to(ROOT))
        for package in PRODUCT_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if any(s == "contracts" or "contracts/" in s for s in _code_strings(path))
    )
    assert readers == [], f"product modules name contracts/ in their code: {readers}"


def test_every_public_definition_names_its_source():
    """Each file under contracts/ opens with where it comes from (a standard, a store id) and what was changed."""
    files = [p for p in (ROOT / "contracts").rglob("*") if p.is_file() and p.name != "README.md"]
    assert files, "contracts/ holds the public definitions"
    heads = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")[:3000].lower() for p in files}
    unsourced = [name for name, head in heads.items() if not any(w in head for w in ("source", "store id", "gb/t"))]
    unchanged = [name for name, head in heads.items() if "changed" not in head]
    assert unsourced == [], f"these copies do not name their source: {unsourced}"
    assert unchanged == [], f"these copies do not say what was changed (nothing, ideally): {unchanged}"
