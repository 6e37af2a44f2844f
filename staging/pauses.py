"""特别程序: the stretches a case's clock stood still (补正, 听证, 专家评审 …), as the sources list them.

A system that lists pauses says where in its declaration (``mapping.pauses``: the field holding the list, and in
each item the kind, start and end, with its kind codes mapped onto ``schemas.case.PAUSE_KINDS``). Every pause of
a staged record becomes a row of ``staged_pauses``; one that cannot be counted (a kind with no mapping, a start
that cannot be read, an end before the start) is kept with its ``problem`` and its record is flagged
``pause_unreadable``, never silently dropped: the deadline arithmetic leaves it out and the clerk sees why.
"""

from __future__ import annotations

import pandas as pd

from staging.lists import stage_listed
from staging.mappings import mapping
from staging.normalise import flag_problems, parse_timestamps

COLUMNS = ["source_system", "record_key", "seq", "kind", "started_at", "ended_at", "problem"]
FLAG = "pause_unreadable"


def stage_pauses(raw: pd.DataFrame, staged: pd.DataFrame) -> pd.DataFrame:
    """The pauses of the staged records (``raw``: source_system, record_key, payload), one row each."""
    return stage_listed(raw, staged, lambda source: mapping(source).pauses, _pause_columns, COLUMNS, "pauses", "pause")


def _pause_columns(items: pd.DataFrame, declared) -> dict[str, pd.Series]:
    def field(name: str) -> pd.Series:
        if name not in items:
            return pd.Series(pd.NA, index=items.index, dtype="string")
        return items[name].astype("string").str.strip().replace("", pd.NA)

    code, start_text, end_text = field(declared.kind), field(declared.start), field(declared.end)
    kind = code.map(declared.kinds).astype("string")
    started, ended = parse_timestamps(start_text), parse_timestamps(end_text)
    problem = pd.Series(pd.NA, index=items.index, dtype="string")
    problem = problem.mask(ended.notna() & started.notna() & (ended < started), "pause_ends_before_it_starts")
    problem = problem.mask(end_text.notna() & ended.isna(), "pause_end_unreadable")
    problem = problem.mask(started.isna(), "pause_start_unreadable")
    problem = problem.mask(kind.isna(), "unknown_pause_kind")
    return {"kind": kind, "started_at": started, "ended_at": ended, "problem": problem}


def flag_records(staged: pd.DataFrame, pauses: pd.DataFrame) -> pd.Series:
    """``staged``'s quality flags with ``pause_unreadable`` added where one of a record's pauses has a problem."""
    return flag_problems(staged, pauses, FLAG)
