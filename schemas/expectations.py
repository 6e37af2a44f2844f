"""Great Expectations 1.x suite for staged cases, run by the pipeline's asset check (ephemeral context).

Staging already quarantines what breaks these rules; the suite is the independent second line that
fails loudly if a mapping change lets a bad record through.
"""

from __future__ import annotations

import os
import sys

import pandas as pd

from schemas.case import APPLICANT_TYPES, STATUSES, items
from schemas.identifiers import RIC_PATTERN, USCC_PATTERN

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _great_expectations():
    """``great_expectations``, without its PySpark integration: Great Expectations imports PySpark whenever it is
    installed (great_expectations.compatibility.pyspark, on its first import), and PySpark, installed for the
    Spark resolution backend, then warns about pandas on the terminal and prints a line of its own. The suite
    validates pandas frames only, so while Great Expectations is first imported ``pyspark`` is not importable
    (``sys.modules[name] = None``: Python raises ImportError, which Great Expectations takes for "not
    installed"); afterwards it is again, for the Spark backend. Where PySpark is already imported, nothing
    changes."""
    if "great_expectations" not in sys.modules and "pyspark" not in sys.modules:
        sys.modules["pyspark"] = None  # type: ignore[assignment]
        try:
            import great_expectations  # noqa: F401
        finally:
            if sys.modules.get("pyspark", False) is None:
                del sys.modules["pyspark"]
    import great_expectations as gx

    return gx


def staged_case_suite():
    gx = _great_expectations()
    from great_expectations import expectations as gxe

    return gx.ExpectationSuite(
        name="staged_cases",
        expectations=[
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["partition_date", "source_system", "record_key"]),
            *(
                gxe.ExpectColumnValuesToNotBeNull(column=c)
                for c in (
                    "source_system",
                    "source_record_id",
                    "applicant_name",
                    "item_code",
                    "submitted_at",
                    "status",
                )
            ),
            gxe.ExpectColumnValuesToBeInSet(column="item_code", value_set=items()["item_code"].tolist()),
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=list(STATUSES)),
            gxe.ExpectColumnValuesToBeInSet(column="applicant_type", value_set=list(APPLICANT_TYPES)),
            gxe.ExpectColumnValuesToMatchRegex(
                column="applicant_id", regex=f"(?:{USCC_PATTERN.pattern})|(?:{RIC_PATTERN.pattern})"
            ),
            gxe.ExpectColumnValuesToBeBetween(column="promised_days", min_value=0, max_value=60),
            gxe.ExpectColumnValuesToBeBetween(column="statutory_days", min_value=0, max_value=90),
        ],
    )


def validate_staged(frame: pd.DataFrame) -> tuple[bool, pd.DataFrame]:
    """Run the suite; returns (success, one row per expectation with its unexpected count)."""
    gx = _great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (
        context.data_sources.add_pandas("staged")
        .add_dataframe_asset("staged_cases")
        .add_batch_definition_whole_dataframe("partition")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    result = batch.validate(staged_case_suite())
    rows = []
    for item in result.results:
        config = item.expectation_config
        rows.append(
            {
                "expectation": config.type,
                "column": config.kwargs.get("column") or ",".join(config.kwargs.get("column_list", [])),
                "success": bool(item.success),
                "unexpected": int((item.result or {}).get("unexpected_count") or 0),
            }
        )
    return bool(result.success), pd.DataFrame(rows)
