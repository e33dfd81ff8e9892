"""What the test modules share; no test module imports another (tests/README.md)."""
