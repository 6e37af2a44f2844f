"""The sandbox's own catalogue: the departments behind its stand-in systems, the items they handle and each
system's own item codes, as those systems hold them (``sandbox/data/``; each row names its source).

The sandbox's copy, not the bridge's: the bridge maps the same items in its declarations
(``core/departments/*.yaml``, ``schemas/codes/``), and tests/test_sandbox_catalogue.py compares the two, so a wrong
mapping on the bridge's side shows up instead of being shared. Nothing here is read from the product.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parent / "data"


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / name, dtype=str, keep_default_na=False)


@cache
def departments() -> pd.DataFrame:
    """One row per department: ``department`` (the sandbox's key), ``department_name``, ``issuer_uscc`` (the
    统一社会信用代码 that leads its 实施编码 and its 办件编号), ``system`` (the stand-in system that records its
    cases), ``source``."""
    return _read("departments.csv")


@cache
def items() -> pd.DataFrame:
    """One row per item (基本编码 ``item_code``): ``item_name``, the ``department`` that handles it,
    ``promised_days`` (承诺时限, working days), ``approval_mode`` and the ``other_modes`` it may also take
    (``|``-separated), the ``licence_type_code`` of what it issues (blank: none), the ``aliases`` clerks type for
    it (``|``-separated), ``source``."""
    return _read("items.csv")


@cache
def local_item_codes() -> pd.DataFrame:
    """Each stand-in system's own code (``local_code``) and name (``local_name``) for an item (``item_code``). A
    system that writes the 基本编码 itself (the bureau's platform) has no rows."""
    return _read("local_item_codes.csv")
