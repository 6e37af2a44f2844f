"""Every bookkeeping time goes through the project's clock (``core.clock``: Asia/Shanghai, pinnable in tests), never
the machine's local time (issue 24, item 7: 14 places read the machine's clock, and the machine here runs in UTC).
Read from the product's source with ``ast``: a call of ``now``, ``today``, ``utcnow``, ``localtime`` or
``fromtimestamp`` outside ``core/clock.py`` fails, unless listed below with its reason."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("core", "schemas", "connectors", "staging", "resolution", "delivery", "licensing", "reporting",
           "pipelines", "cli", "sharing", "dashboard")  # fmt: skip
CLOCK_CALLS = {"now", "today", "utcnow", "localtime", "fromtimestamp", "utcfromtimestamp"}
ALLOWED = {
    # Retry-After as an HTTP date is compared with the present instant in UTC (both aware): a duration, no stamp
    ("connectors/http.py", "now"): "Retry-After",
}


def _calls(path: Path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_CALLS:
            receiver = ast.unparse(node.func.value)
            if receiver.split(".")[-1] in {"datetime", "date", "dt", "time", "pd.Timestamp", "Timestamp"}:
                found.append((node.func.attr, node.lineno))
    return found


def test_no_product_code_reads_the_machines_clock():
    offending = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative == "core/clock.py":
                continue
            for name, line in _calls(path):
                if (relative, name) not in ALLOWED:
                    offending.append(f"{relative}:{line} {name}()")
    assert not offending, "use core.clock (now, today) instead:\n" + "\n".join(offending)


def test_the_guard_sees_a_call_it_must_refuse(tmp_path):
    # the sample is source text written here and parsed, never run: nothing reads the clock
    called = [("dt.datetime", "now"), ("date", "today"), ("datetime", "utcnow"), ("time", "localtime"),
              ("dt.datetime", "fromtimestamp"), ("clock", "now")]  # fmt: skip
    sample = tmp_path / "sample.py"
    sample.write_text("\n".join(f"v{n} = {receiver}.{name}(0)" for n, (receiver, name) in enumerate(called)))
    assert [name for name, _ in _calls(sample)] == ["now", "today", "utcnow", "localtime", "fromtimestamp"]
