"""``approval-bridge dedup``: resolve a CSV of canonical cases into clusters, for IT staff.

Input: CSV with the canonical columns (blanks allowed, values as messy as re-entry makes them), in UTF-8 or
GBK/GB18030 as department exports are. Unreadable input (NUL bytes, an undecodable file, a row with more or fewer
fields than the header, no header, missing columns) stops with one line naming the problem.
Output: one row per input row, in input order, with ``cluster_id`` and why the row joined its cluster; cells that
would start a formula in Excel are written as text.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as arrow_csv

from core.exports import write_csv
from resolution.engine import make_engine
from resolution.features import prepare
from resolution.golden import golden_id_for
from schemas.case import DEDUP_COLUMNS

REQUIRED = ("source_system", "source_record_id")
ENCODINGS = ["utf-8", "gb18030"]  # as the department drops: gb18030 is the strict superset of GBK


class InputError(ValueError):
    """The input file cannot be used; the message names the file and the problem, in one line."""


def read_cases(path: Path) -> pd.DataFrame:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    cases = _read_utf8(raw)
    if cases is None:  # not plain UTF-8, or something to report: the careful reading says what
        cases = _read_checked(path, raw)
    missing = [c for c in REQUIRED if c not in cases.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(DEDUP_COLUMNS)}")
    for column in DEDUP_COLUMNS:
        if column not in cases.columns:
            cases[column] = ""
    return cases


def _read_utf8(raw: bytes) -> pd.DataFrame | None:
    """A well-formed UTF-8 export parsed from its bytes by Arrow (every value a string, blanks kept blank), as
    :func:`_read_checked` would read it; None for anything else (another encoding, NUL bytes, a ragged row, no
    header, duplicate column names), which :func:`_read_checked` reads or reports."""
    if b"\x00" in raw:
        return None
    data = memoryview(raw)[3:] if raw.startswith(b"\xef\xbb\xbf") else memoryview(raw)
    first = bytes(data[: 1 << 16]).split(b"\n", 1)[0]
    try:
        header = next(csv.reader([first.decode("utf-8").rstrip("\r")]), [])
    except UnicodeDecodeError:
        return None
    if not header or not any(h.strip() for h in header) or len(set(header)) != len(header) or b'"' in first:
        return None
    try:
        table = arrow_csv.read_csv(
            pa.py_buffer(data),
            read_options=arrow_csv.ReadOptions(use_threads=False),
            parse_options=arrow_csv.ParseOptions(newlines_in_values=True),
            convert_options=arrow_csv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False, check_utf8=True
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    if table.column_names != header:
        return None
    text = pd.StringDtype("pyarrow", na_value=float("nan"))
    return table.to_pandas(types_mapper=lambda t: text if t == pa.string() else None)


def _read_checked(path: Path, raw: bytes) -> pd.DataFrame:
    """Decoded in Python (UTF-8, else GB18030), every row's fields counted, then parsed; one line if unreadable."""
    # The connectors (SQLAlchemy, sqlglot, pydantic, httpx: about 0.5 s of imports) only when the careful reading
    # is needed, not on every dedup of a plain UTF-8 export.
    from connectors.sources import Unreadable, check_fields, decode_export

    try:
        text, _ = decode_export(raw, ENCODINGS)
        check_fields(text)
    except Unreadable as exc:
        raise InputError(f"{path}: {exc}") from None
    if not text.strip():
        raise InputError(f"{path}: empty; expected a header line with {', '.join(REQUIRED)} and the case columns")
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def cluster_ids(cases: pd.DataFrame, component) -> pd.Series:
    """Each cluster is named after its first record (by source and id), so reruns give the same ids."""
    keys = pa.table({"source": cases["source_system"], "record": cases["source_record_id"]})
    # A stable sort (Arrow's, by UTF-8 bytes: the order of the characters' code points, as Python's strings sort)
    order = pc.sort_indices(keys, sort_keys=[("source", "ascending"), ("record", "ascending")]).to_numpy()
    component = np.asarray(component)
    components, first = np.unique(component[order], return_index=True)
    founders = order[first]
    names = golden_id_for(cases["source_system"].iloc[founders], cases["source_record_id"].iloc[founders]).to_numpy()
    return pd.Series(names[np.searchsorted(components, component)])


def run(input_path: Path, output_path: Path, *, backend: str | None = None, log=print) -> dict:
    started = time.perf_counter()
    cases = read_cases(input_path)
    keys = cases[list(REQUIRED)].copy()
    engine = make_engine(backend=backend)
    prepared_at = time.perf_counter()
    prepared = prepare(cases)
    del cases  # a million rows of text need not be held twice while the backend loads the features
    # Arrow's allocator keeps what was freed for reuse; handed back, the backend's memory comes on top of less.
    pa.default_memory_pool().release_unused()
    engine.seconds["prepare"] = time.perf_counter() - prepared_at
    engine.load_prepared(prepared)
    del prepared  # the features live in the backend now
    pa.default_memory_pool().release_unused()
    try:
        result = engine.resolve(close_backend=True)
    finally:
        engine.close()
    clusters = cluster_ids(keys, result.cluster)
    best = (
        pd.concat(
            [
                result.links[["uid_l", "match_probability"]].rename(columns={"uid_l": "uid"}),
                result.links[["uid_r", "match_probability"]].rename(columns={"uid_r": "uid"}),
            ]
        )
        .groupby("uid")["match_probability"]
        .max()
    )
    in_review = pd.Index(pd.concat([result.review["uid_l"], result.review["uid_r"]]).unique())
    output = pd.DataFrame(
        {
            "source_system": keys["source_system"],
            "source_record_id": keys["source_record_id"],
            "cluster_id": clusters.to_numpy(),
            "best_match_probability": best.reindex(range(len(keys))).round(6).to_numpy(),
            "in_review": pd.RangeIndex(len(keys)).isin(in_review),
        }
    )
    write_csv(output, output_path)
    summary = {
        "records": len(keys),
        "clusters": int(clusters.nunique()),
        "pairs_linked": len(result.links),
        "pairs_to_review": len(result.review),
        "links_split": len(result.splits),
        "seconds": round(time.perf_counter() - started, 1),
    }
    log(
        f"{summary['records']} records → {summary['clusters']} clusters; {summary['pairs_linked']} pairs linked, "
        f"{summary['pairs_to_review']} sent to review ({summary['links_split']} of them links a cannot-link "
        f"constraint kept apart); {summary['seconds']}s "
        f"(features {result.seconds['features']:.1f}s, scoring {result.seconds['predict']:.1f}s, "
        f"clustering {result.seconds['cluster']:.1f}s)"
    )
    if len(result.review):
        review_path = output_path.with_name(output_path.stem + "_review.csv")
        write_csv(result.review, review_path)
        log(f"uncertain pairs with their per-field match weights: {review_path}")
    return summary
