"""The one error the template language raises: CloudFormation's `ValidationError`.

CloudFormation answers every problem with a template, its parameters or an intrinsic
function with code `ValidationError` (status 400); only the message tells them apart.
Messages about the document's shape start "Template format error: ", those found while
evaluating functions "Template error: ", parameter problems name the parameter.
"""
from __future__ import annotations

from ....protocol.errors import AwsError


class TemplateError(AwsError):
    code = "ValidationError"
    status = 400


def format_error(message: str) -> TemplateError:
    """A problem with the document's structure (found before anything is evaluated)."""
    return TemplateError(f"Template format error: {message}")


def template_error(message: str) -> TemplateError:
    """A problem found while evaluating an intrinsic function."""
    return TemplateError(f"Template error: {message}")
