"""Benchmarks of the VideoCanvas pack (run as modules: `python -m benchmarks.<name>`)."""
