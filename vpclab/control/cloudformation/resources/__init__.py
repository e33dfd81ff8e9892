"""CloudFormation's resource types that vpclab makes, each through the AWS operations a
user would call (`Api`), with the provider schemas cfn-lint ships (`schema`) deciding
property names, what replaces and what GetAtt takes.

`provider(type_name)` is None for a type vpclab does not make: the engine reports it as
an unrecognized resource type.
"""
from __future__ import annotations

from . import ec2, elbv2, privatelink  # noqa: F401  (each registers its providers)
from .api import Api, ApiError
from .provider import (
           Outcome,
           Props,
           Provider,
           ResourceFailed,
           StackRef,
           provided_types,
           provider,
)
from .schemas import Schema, schema

__all__ = ["Api", "ApiError", "Outcome", "Props", "Provider", "ResourceFailed", "Schema", "StackRef",
           "provided_types", "provider", "schema"]
