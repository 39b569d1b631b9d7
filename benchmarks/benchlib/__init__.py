"""The machinery of the benchmark runner (``benchmarks/run.py``)."""
