"""The tests that share one stack with the demo data (tests/e2e/demo/conftest.py)."""
