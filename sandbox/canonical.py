"""The sandbox's cases as canonical rows (values left as each system wrote them), with the ground truth.

This is the input shape of ``approval-bridge dedup`` and of the resolution benchmark.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from sandbox.generator import SOURCES, Dataset
from schemas.case import CASE_COLUMNS, DEDUP_COLUMNS
from staging.mappings import mapping as declared_mapping


def canonical_cases(data: Dataset) -> pd.DataFrame:
    frames = []
    for source in SOURCES:
        rows = pd.DataFrame(data.records(source))
        if rows.empty:
            continue
        mapping = declared_mapping(source)
        frame = pd.DataFrame(index=rows.index)
        for column in CASE_COLUMNS:
            field = mapping.fields.get(column)
            values = rows[field] if field in rows else pd.Series(pd.NA, index=rows.index)
            if values.map(lambda v: isinstance(v, dt.datetime)).any():
                values = pd.to_datetime(values).dt.strftime("%Y-%m-%d %H:%M:%S")
            frame[column] = values.astype("string")
        frame["source_system"] = source
        frame["status"] = frame["status"].map(mapping.statuses).fillna(frame["status"])
        frames.append(frame[list(DEDUP_COLUMNS)])
    cases = pd.concat(frames, ignore_index=True)
    truth = pd.DataFrame(data.truth, columns=["source_system", "source_record_id", "true_case_id"])
    return cases.merge(truth, on=["source_system", "source_record_id"], how="left")
