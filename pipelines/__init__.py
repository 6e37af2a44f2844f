"""The Dagster code location of the approval bridge."""

import warnings

from dagster import PreviewWarning

# Partitioned asset checks are a preview in Dagster 1.13; this code location uses them on purpose.
warnings.filterwarnings("ignore", category=PreviewWarning)
