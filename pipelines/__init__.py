"""The Dagster code location of the approval bridge."""

import gc
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


#: The collector's thresholds in a process of the bridge (Python's defaults: 700, 10, 10). Its steps allocate
#: millions of short-lived containers (a fetched row is a tuple, a payload a dict): at 700 a young collection ran
#: every few hundred rows, and a full one, walking every object the process holds, whenever a frame or a batch
#: survived a few; `benchmarks/year.py` counted 7 to 10 per cent of a week's CPU in collections (docs/operations.md).
COLLECTOR_THRESHOLDS = (50_000, 20, 100)


def settle_collector() -> None:
    """Once the definitions are loaded: what the imports made (modules, definitions, compiled statements: about
    226,000 objects) is moved out of the collector's walks for good (``gc.freeze``), and the thresholds raised.
    Garbage in cycles is still collected, later and in fewer passes."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
