"""Code lists as data: each canonical value → each receiver profile's code, through versioned tables.

One file per list, ``schemas/codes/lists/<list>.csv``::

    version,valid_from,valid_to,value,label,national,municipal,source

- ``value``: the bridge's canonical value (``ric``, ``legal_person``, ``办结``, ``workday`` …);
- one column per receiver profile: ``national`` (the national ``up_pro_*`` tables, GB/T 39046) and ``municipal``
  (the municipal platform's JSON). A blank cell means the profile has no code for the value: it is reported as
  unmapped, never guessed;
- ``valid_from`` / ``valid_to`` (inclusive, blank = open): a changed list is new rows under a new ``version`` with
  a later ``valid_from``, the old rows closed with ``valid_to``; history is kept, as in ``required_materials.csv``.

``lists.csv`` names each list (its title, used in reasons) and where the list comes from: ``source`` (the standard
or public definition) or ``assumed`` (what to confirm, with whom), exactly one. Each row's ``source`` cell names the
row's source, or says ``assumed: …`` for the part of it no source gives (:func:`core.provenance.split`); a row that
says neither is refused when the list is read. Which choice follows which source is in ``schemas/codes/README.md``
and docs/formats.md. Plain pandas, no Dagster: the delivery code calls :func:`translate` per column.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from core import clock, provenance

REPO_ROOT = Path(__file__).resolve().parent.parent
LISTS_DIR = REPO_ROOT / "schemas" / "codes" / "lists"
#: Receiver profiles, each a column of every list, and how a reason names them.
PROFILES: dict[str, str] = {
    "national": "the national platform (up_pro_* tables)",
    "municipal": "the municipal platform",
}
META_COLUMNS = ("version", "valid_from", "valid_to", "value", "label", "source")


class CodeListError(ValueError):
    """A list file that cannot be used (unknown list or profile, bad dates, a value twice in one version)."""


@dataclass(frozen=True)
class CodeLists:
    """The code lists of one folder (the shipped one, or a test's)."""

    directory: Path = LISTS_DIR

    @property
    def titles(self) -> dict[str, str]:
        return _titles(self.directory)

    def path(self, list_name: str) -> Path:
        path = self.directory / f"{list_name}.csv"
        if list_name == "lists" or not path.is_file():
            known = ", ".join(sorted(self.titles)) or "none"
            raise CodeListError(f"no code list {list_name!r} in {self.directory} (lists: {known})")
        return path

    def table(self, list_name: str) -> pd.DataFrame:
        """Every row of a list, all versions (dates as ``datetime64``; ``valid_to`` NaT = open)."""
        return _load(self.path(list_name))

    def in_force(self, list_name: str, on: dt.date | None = None) -> pd.DataFrame:
        """The rows of a list in force on ``on`` (default: today, :func:`core.clock.today`), by value."""
        day = pd.Timestamp(on or clock.today())
        table = self.table(list_name)
        current = (table["valid_from"] <= day) & (table["valid_to"].isna() | (day <= table["valid_to"]))
        return table[current].set_index("value")

    def provenance(self, list_name: str) -> tuple[str | None, str | None]:
        """(source, assumed) of the whole list, from ``lists.csv``: exactly one is given."""
        index = self.directory / "lists.csv"
        entry = _index(self.directory).get(list_name)
        if entry is None:
            raise CodeListError(f"{index}: no row for the list {list_name!r}")
        source, assumed = entry
        if bool(source) == bool(assumed):
            given = "both source and assumed" if source else "neither source nor assumed"
            raise CodeListError(f"{index}: list {list_name!r} gives {given}: name exactly one")
        return source, assumed

    def assumed_rows(self, list_name: str) -> dict[str, list[str]]:
        """What each row's ``source`` cell says is assumed (``…; assumed: …``) → the values whose row says it."""
        found: dict[str, list[str]] = {}
        table = self.table(list_name)
        for value, cell in zip(table["value"], table["source"], strict=True):
            _, assumed = provenance.split(cell)
            if assumed and value not in found.setdefault(assumed, []):
                found[assumed].append(value)
        return found

    def _check_profile(self, list_name: str, profile: str) -> None:
        if profile not in PROFILES:
            raise CodeListError(f"unknown receiver profile {profile!r} (profiles: {', '.join(PROFILES)})")
        if profile not in self.table(list_name).columns:
            raise CodeListError(f"{self.path(list_name)} has no column for the profile {profile!r}")

    def translate(
        self, list_name: str, profile: str, values: pd.Series, on: dt.date | None = None
    ) -> tuple[pd.Series, pd.Series]:
        """``values`` (canonical) → (codes, unmapped): codes as strings (NA where there is none); ``unmapped`` True
        where a value is present but the list has no code for it in ``profile`` on ``on``. A missing value (NA) is
        not unmapped: it maps to NA and the caller decides whether the field may be empty."""
        self._check_profile(list_name, profile)
        table = self.in_force(list_name, on)[profile]
        mapping = table[table != ""]
        codes = values.astype("string").map(mapping).astype("string")
        unmapped = values.notna() & codes.isna()
        return codes.rename(values.name), unmapped.astype(bool).rename(values.name)

    def unmapped_reason(self, list_name: str, profile: str, value: object, on: dt.date | None = None) -> str:
        """Why ``value`` has no code for ``profile``, and what a clerk or IT officer does about it."""
        self._check_profile(list_name, profile)
        title = self.titles.get(list_name, list_name)
        where = _display(self.path(list_name))
        day = on or clock.today()
        table = self.table(list_name)
        if not isinstance(value, str) and pd.isna(value):
            return f"{title} is empty: the source record must give one ({where} lists the values)"
        rows = table[table["value"] == str(value)]
        if rows.empty:
            return (
                f"{title} {str(value)!r} is not a value of the list ({where}): correct it in the source record, "
                f"or add a row with each receiver's code"
            )
        current = self.in_force(list_name, day)
        if str(value) not in current.index:
            return (
                f"{title} {str(value)!r} has no row in force on {day.isoformat()} ({where}): "
                f"add one valid from that day"
            )
        return f"{title} {str(value)!r} has no code for {PROFILES[profile]} ({where}, column {profile}): add one"


def _display(path: Path) -> str:
    """A path as a reason shows it: relative to the repository when it is in it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


@cache
def _titles(directory: Path) -> dict[str, str]:
    index = directory / "lists.csv"
    if not index.is_file():
        return {p.stem: p.stem for p in directory.glob("*.csv")}
    frame = pd.read_csv(index, dtype=str, keep_default_na=False)
    return dict(zip(frame["list"], frame["title"], strict=True))


@cache
def _index(directory: Path) -> dict[str, tuple[str | None, str | None]]:
    """``lists.csv``: list → (source, assumed), blanks as ``None``."""
    index = directory / "lists.csv"
    if not index.is_file():
        return {}
    frame = pd.read_csv(index, dtype=str, keep_default_na=False)
    columns = [frame.get(c, pd.Series("", index=frame.index)).str.strip() for c in ("source", "assumed")]
    return {name: (s or None, a or None) for name, s, a in zip(frame["list"], *columns, strict=True)}


@cache
def _load(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in META_COLUMNS if c not in table.columns]
    if missing:
        raise CodeListError(f"{path}: columns missing: {', '.join(missing)}")
    for column in ("value", *PROFILES):
        if column in table.columns:
            table[column] = table[column].str.strip()
    unsourced = [value for value, cell in zip(table["value"], table["source"], strict=True)
                 if provenance.split(cell) == (None, None)]  # fmt: skip
    if unsourced:
        raise CodeListError(f"{path}: rows name no source and no 'assumed: …': {', '.join(unsourced)}")
    try:
        table["valid_from"] = pd.to_datetime(table["valid_from"], format="%Y-%m-%d")
        table["valid_to"] = pd.to_datetime(table["valid_to"].replace("", None), format="%Y-%m-%d")
    except ValueError as error:
        raise CodeListError(f"{path}: a date is not YYYY-MM-DD ({error})") from None
    backwards = table["valid_to"].notna() & (table["valid_to"] < table["valid_from"])
    if backwards.any():
        raise CodeListError(f"{path}: valid_to before valid_from for {', '.join(table.loc[backwards, 'value'])}")
    # No value may have two rows in force on one day.
    for value, rows in table.groupby("value"):
        rows = rows.sort_values("valid_from")
        ends = rows["valid_to"].fillna(pd.Timestamp.max).to_numpy()[:-1]
        if (rows["valid_from"].to_numpy()[1:] <= ends).any():
            raise CodeListError(f"{path}: value {value!r} has overlapping rows (check valid_from / valid_to)")
    return table


DEFAULT = CodeLists()


def translate(
    list_name: str, profile: str, values: pd.Series, on: dt.date | None = None
) -> tuple[pd.Series, pd.Series]:
    """Canonical ``values`` → (codes, unmapped mask) for ``profile`` in the list's version in force on ``on``
    (default today). Vectorised: one ``Series.map`` per call."""
    return DEFAULT.translate(list_name, profile, values, on)


def unmapped_reason(list_name: str, profile: str, value: object, on: dt.date | None = None) -> str:
    """A reason a clerk can act on for a value :func:`translate` left unmapped."""
    return DEFAULT.unmapped_reason(list_name, profile, value, on)


def code_table(list_name: str, on: dt.date | None = None) -> pd.DataFrame:
    """The list's rows in force on ``on``, indexed by canonical value: label, version, source and one column per
    profile (blank = no code)."""
    return DEFAULT.in_force(list_name, on)


def list_names() -> list[str]:
    return sorted(DEFAULT.titles)
