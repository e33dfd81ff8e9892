"""The AWS error a call got, as botocore reads it: the one place tests take it apart."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.exceptions
import botocore.parsers
import pytest

from vpclab.protocol import models


def code_of(err: pytest.ExceptionInfo) -> str:
    """The AWS error code of a `pytest.raises(ClientError)` result."""
    return err.value.response["Error"]["Code"]


def message_of(err: pytest.ExceptionInfo) -> str:
    return err.value.response["Error"]["Message"]


def error_of(call: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, str]:
    """Call `call`, which must fail with an AWS error, and return that error (`Code`,
    `Message`, ...)."""
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(*args, **kwargs)
    return err.value.response["Error"]


def wire_error(service: str, resp: Any) -> dict[str, str]:
    """The error botocore reads from a raw HTTP response (`requests`' Response) of `service`."""
    protocol = models.service(service).protocol
    parsed = botocore.parsers.create_parser(protocol).parse(
        {"body": resp.content, "headers": dict(resp.headers), "status_code": resp.status_code}, None)
    return parsed["Error"]
