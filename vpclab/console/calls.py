"""The console's calls: operations as boto3 would make them, in-process
(`protocol.in_process`), limited to the services the console's pages use.

So the console can never disagree with the API: it is one more client of it.
"""
from __future__ import annotations

from ..protocol.in_process import CallResult, InProcessClient, to_json

__all__ = ["SERVICES", "CallResult", "ConsoleCalls", "to_json"]

#: The services the console may call, by botocore name.
SERVICES = ("ec2", "elbv2", "sts")

#: The console's client: the in-process one (the routes check a page's service is in `SERVICES`).
ConsoleCalls = InProcessClient
