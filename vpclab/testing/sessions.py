"""A boto3 Session whose clients and resources talk to one vpclab server."""
from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

#: One attempt per call: a test should see the lab's answer, not a retry's.
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


class LabSession(boto3.Session):
    """`boto3.Session` for one account of a lab: `client()` and `resource()` get the
    lab's endpoint unless the call names another, and no retries unless a `config`
    says otherwise. Code under test that takes a session works with it unchanged."""

    def __init__(self, endpoint_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint_url = endpoint_url

    def client(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        kwargs.setdefault("config", NO_RETRIES)
        return super().client(*args, **kwargs)

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        kwargs.setdefault("config", NO_RETRIES)
        return super().resource(*args, **kwargs)
