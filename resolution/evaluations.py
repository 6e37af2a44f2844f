"""好差评 evaluations linked to their golden cases by 办件编号, and the one that stands for each case.

An evaluation names its case by number: the 办件编号 the case went out under (``case_numbers``, the bridge's
allocated ones and those it withdrew included: an applicant may have evaluated under either), or the number a
department's own record carries (``staged_cases.case_no``). A number that names several golden cases links none
of them: the evaluation waits, with that reason, rather than being given to the wrong case. An evaluation whose
number names no case yet waits and links on the day its case arrives.

Each evaluation is read in its newest state (the feed sends it again as its 差评 is handled). The evaluation that
stands for a case is its newest (an added evaluation, 追加评价, replaces the first); the case goes to the
receivers with it (``evaluation`` in the golden payload).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from schemas.warehouse import case_links, case_numbers, staged_cases
from staging.feeds import newest

ROUND_ORDER = {"added": 0, "first": 1}


#: Values per ``IN (…)`` list: well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


def number_index(
    conn: sa.Connection, golden_ids: Iterable[str] | None = None, case_nos: Iterable[str] | None = None
) -> pd.DataFrame:
    """Every number a golden case is known under: case_no, golden_case_id (``golden_ids``: only these cases;
    ``case_nos``: only these numbers; read in lists of ``CHUNK``, so any number of them may be given). Without
    either, every case's numbers: a read that grows with the history, for a rebuild or a test only."""
    if golden_ids is None and case_nos is None:
        return _numbers(conn, None, None)
    if golden_ids is not None and case_nos is not None:
        raise ValueError("number_index takes golden_ids or case_nos, not both")
    values = sorted({str(v) for v in (golden_ids if golden_ids is not None else case_nos)})
    parts = [
        _numbers(conn, *((chunk, None) if golden_ids is not None else (None, chunk)))
        for chunk in (values[i : i + CHUNK] for i in range(0, len(values), CHUNK))
    ]
    if not parts:
        return pd.DataFrame(columns=["case_no", "golden_case_id"])
    return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)


def _numbers(conn: sa.Connection, golden_ids: list[str] | None, case_nos: list[str] | None) -> pd.DataFrame:
    s, links, n = staged_cases.c, case_links.c, case_numbers.c
    joined = staged_cases.join(
        case_links,
        (links.source_system == s.source_system)
        & (links.partition_date == s.partition_date)
        & (links.record_key == s.record_key),
    )
    own = sa.select(s.case_no.label("case_no"), links.golden_case_id).select_from(joined).where(s.case_no.is_not(None))
    stored = sa.select(n.project_no.label("case_no"), links.golden_case_id).select_from(
        case_numbers.join(
            staged_cases, (s.source_system == n.source_system) & (s.source_record_id == n.source_record_id)
        ).join(
            case_links,
            (links.source_system == s.source_system)
            & (links.partition_date == s.partition_date)
            & (links.record_key == s.record_key),
        )
    )
    if golden_ids is not None:
        own, stored = (
            own.where(links.golden_case_id.in_(golden_ids)),
            stored.where(links.golden_case_id.in_(golden_ids)),
        )
    if case_nos is not None:
        own, stored = own.where(s.case_no.in_(case_nos)), stored.where(n.project_no.in_(case_nos))
    frame = pd.DataFrame(conn.execute(sa.union(own, stored)).all(), columns=["case_no", "golden_case_id"])
    return frame.drop_duplicates()


def newest_states(records: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluation (source_system, evaluation_id): its newest record (:func:`staging.feeds.newest`)."""
    return newest(records, "evaluation_id")


def link(evaluations: pd.DataFrame, numbers: pd.DataFrame) -> pd.DataFrame:
    """``evaluations`` with golden_case_id (NA: waits) and note (why it waits), by their case_no."""
    counts = numbers.groupby("case_no")["golden_case_id"].nunique()
    single = numbers[numbers["case_no"].map(counts) == 1].drop_duplicates("case_no").set_index("case_no")
    linked = evaluations.assign(golden_case_id=evaluations["case_no"].map(single["golden_case_id"]).astype("string"))
    several = linked["case_no"].map(counts).fillna(0).astype(int)
    note = pd.Series(pd.NA, index=linked.index, dtype="string")
    note = note.mask(several == 0, "no case with this 办件编号 has arrived yet")
    note = note.mask(several > 1, "the 办件编号 names " + several.astype(str) + " cases: left for review")
    return linked.assign(note=note.where(linked["golden_case_id"].isna()))


def standing(linked: pd.DataFrame) -> pd.Series:
    """True for the evaluation that stands for its golden case: the newest, an added one before a first one on
    the same second, then by id (aligned with ``linked``; False where it does not link)."""
    has_case = linked["golden_case_id"].notna()
    ranked = linked[has_case].assign(_round=linked["round"].map(ROUND_ORDER).fillna(1))
    ranked = ranked.sort_values(
        ["golden_case_id", "evaluated_at", "_round", "evaluation_id"], ascending=[True, False, True, False]
    )
    stands = pd.Series(False, index=linked.index)
    stands[ranked.drop_duplicates("golden_case_id").index] = True
    return stands


def evaluation_documents(golden_ids: pd.Series, linked: pd.DataFrame) -> pd.Series:
    """Per golden case (aligned with ``golden_ids``), the evaluation that stands for it as the payload carries it
    (``{"level", "channel", "evaluated_at"}`` JSON; NA for none)."""
    if linked.empty:
        return pd.Series(pd.NA, index=golden_ids.index, dtype="string")
    chosen = linked[standing(linked)]
    documents = {
        row.golden_case_id: json.dumps(
            {
                "level": row.level,
                "channel": row.channel,
                "evaluated_at": pd.Timestamp(row.evaluated_at).strftime("%Y-%m-%dT%H:%M:%S"),
            },
            ensure_ascii=False,
            sort_keys=True,
        )
        for row in chosen.itertuples()
    }
    return golden_ids.map(documents).astype("string")
