"""Runnable examples shown in the chapters (included verbatim, tested in tests/test_examples_*.py)."""
