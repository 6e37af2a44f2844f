"""The Dagster code location of the approval bridge."""

import sys
import warnings

from dagster import BetaWarning, PreviewWarning

# Partitioned asset checks (preview) and backfill policies (beta) in Dagster 1.13: this code location uses them
# on purpose.
warnings.filterwarnings("ignore", category=PreviewWarning)
warnings.filterwarnings("ignore", category=BetaWarning)

# Dagster starts some run workers with `python -c`, whose __main__ has neither a spec nor a file. PySpark (imported
# there by the Spark resolution backend; Great Expectations no longer imports it: schemas/expectations.py) takes such
# a process for its own doctest runner and calls sys.exit(0) (pyspark.sql.connect.utils.check_dependencies): name the
# module so the check does not fire.
_main = sys.modules.get("__main__")
if _main is not None and getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<run worker>"
