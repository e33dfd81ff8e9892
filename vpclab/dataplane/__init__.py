"""Data plane, the AWS-aware half: see README.md."""
