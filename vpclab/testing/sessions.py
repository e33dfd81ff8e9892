"""A boto3 Session whose clients and resources talk to one vpclab server.

Sessions of a lab share one botocore loader: a new boto3 Session otherwise reads and
parses the service model's JSON again for its first client (about 0.2 s for EC2), and a
test suite makes sessions for many accounts. The loader only caches files botocore
ships; credentials and configuration stay each session's own.
"""
from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

#: One attempt per call: a test should see the lab's answer, not a retry's.
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})

_loader: Loader | None = None
_loader_lock = threading.Lock()


def shared_loader() -> Loader:
    global _loader
    with _loader_lock:
        if _loader is None:
            _loader = botocore.session.get_session().get_component("data_loader")
        return _loader


class LabSession(boto3.Session):
    """`boto3.Session` for one account of a lab: `client()` and `resource()` get the
    lab's endpoint unless the call names another, and no retries unless a `config`
    says otherwise. Code under test that takes a session works with it unchanged."""

    def __init__(self, endpoint_url: str, **kwargs: Any) -> None:
        core = botocore.session.get_session()
        core.register_component("data_loader", shared_loader())
        super().__init__(botocore_session=core, **kwargs)
        self.endpoint_url = endpoint_url

    def _setup_loader(self) -> None:
        """boto3 adds its resource models' directory to the loader's search path for
        each new Session; on the shared loader, once is enough."""
        loader = self._session.get_component("data_loader")
        before = list(loader.search_paths)
        super()._setup_loader()
        if len(loader.search_paths) > len(before) and loader.search_paths[-1] in before:
            loader.search_paths.pop()
        self._loader = loader

    def client(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        kwargs.setdefault("config", NO_RETRIES)
        return super().client(*args, **kwargs)

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        kwargs.setdefault("config", NO_RETRIES)
        return super().resource(*args, **kwargs)
