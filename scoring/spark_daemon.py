"""The Python worker daemon of the Spark engine (``spark.python.daemon.module``).

PySpark's own daemon (``pyspark.daemon``), started after the scoring core is imported: every
Python worker it forks then starts with pandas, pyarrow, LightGBM and the core already in
memory (pages shared copy-on-write with the daemon) instead of importing them again, which
costs each worker seconds of CPU and its own copy of the modules. Nothing runs at import but
imports: no thread pool exists before the fork.
"""

from __future__ import annotations

import pyarrow  # noqa: F401  (the Arrow batches' library)

import scoring.portfolio_spark  # noqa: F401  (the scorer: model, features, LightGBM, pandas)

if __name__ == "__main__":
    from pyspark.daemon import manager

    manager()
