"""The stand-ins' listings find a window's rows by bisection: the same rows, in the same order, as reading every row
of the year and keeping those changed in [from, to)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from sandbox.apps import _between

pytestmark = pytest.mark.unit


def _scan(rows, keys, start, end):
    return [r for r, k in zip(rows, keys, strict=True) if start <= k < end]


def test_the_same_rows_as_a_scan_for_every_window():
    generator = random.Random(7)
    base = datetime(2026, 1, 1)
    stamps = sorted(base + timedelta(hours=generator.randrange(0, 24 * 40)) for _ in range(3000))  # many alike
    rows = [{"n": n, "at": t} for n, t in enumerate(stamps)]
    bounds = [base - timedelta(days=1), *(base + timedelta(hours=h) for h in range(0, 24 * 41, 7)), stamps[-1]]
    for start in bounds[::5]:
        for end in bounds[::9]:
            assert _between(rows, stamps, start, end) == _scan(rows, stamps, start, end), (start, end)


def test_text_keys_and_the_edges():
    keys = ["2026-11-16 09:00:00", "2026-11-16 10:00:00", "2026-11-16 10:00:00", "2026-11-17 00:00:00"]
    rows = [{"i": i} for i in range(len(keys))]
    assert _between(rows, keys, "2026-11-16 10:00:00", "2026-11-17 00:00:00") == rows[1:3]  # the end left out
    assert _between(rows, keys, "2026-11-17", "2026-11-16") == []  # a window the wrong way round: nothing
    assert _between([], [], "a", "z") == []
