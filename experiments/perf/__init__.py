"""The speed benchmark, `python -m experiments.perf` (experiments/perf/cli.py says what it measures)."""
