"""Agents: long-lived helpers that follow the store beside the kernel (see README.md)."""
