"""Fixtures of the batch engine tests: one Spark session for the whole run (it takes
seconds to start). Without pyspark (the ``spark`` extra) the Spark tests skip locally and
fail in CI, where ``make test`` installs it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[Any]:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("pyspark is not installed: in CI the Spark tests must run (make test)")
        pytest.skip("pyspark is not installed (pip install -e '.[spark]')")
    from trustledger.batch import engine

    eng = engine("spark", master="local[2]", shuffle_partitions=2, driver_memory="1g")
    try:
        yield eng
    finally:
        eng.close()
