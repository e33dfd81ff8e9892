"""vpclab in a test suite: `lab()`, a vpclab of one's own for a block of code, and the
pytest plugin (`plugin.py`) that gives a test run one lab and each test its own account.

    from vpclab.testing import lab

    with lab() as running:
        ec2 = running.client("ec2", account=running.new_account())
"""
from .lab import CurlFailed, Lab, LabError, lab

__all__ = ["CurlFailed", "Lab", "LabError", "lab"]
