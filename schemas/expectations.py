"""Great Expectations 1.x suite for staged cases, run by the pipeline's asset check (ephemeral context).

Staging already quarantines what breaks these rules; the suite is the independent second line that
fails loudly if a mapping change lets a bad record through.
"""

from __future__ import annotations

import os

import pandas as pd

from schemas.case import APPLICANT_TYPES, STATUSES, items
from schemas.identifiers import RIC_PATTERN, USCC_PATTERN

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def staged_case_suite():
    import great_expectations as gx
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
    import great_expectations as gx
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
