"""Tasks: what `run.py task=<name>` runs. Each takes the composed config and returns its metrics."""
