"""Benchmarks of the VideoCanvas pack (run as modules: `python -m benchmarks.<name>`), and the README's
main job (demo.py, run by scripts/demo.sh)."""
