"""Parameter values: the given, previous or default value of each, checked and typed.

A `Number` stays a string (as `Ref` gives it); list types (`List<...>`,
`CommaDelimitedList`) become lists of strings split at commas. The AWS-specific types
(`AWS::EC2::VPC::Id`, ...) are strings here: whether the id exists is the engine's
question, which has the store. `AWS::SSM::Parameter::Value<...>` needs Parameter Store,
which vpclab does not have.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from .errors import TemplateError, format_error
from .structure import ParameterSpec, Template

MASK = "****"

AWS_SPECIFIC_TYPES = (
    "AWS::EC2::AvailabilityZone::Name", "AWS::EC2::Image::Id", "AWS::EC2::Instance::Id",
    "AWS::EC2::KeyPair::KeyName", "AWS::EC2::SecurityGroup::GroupName", "AWS::EC2::SecurityGroup::Id",
    "AWS::EC2::Subnet::Id", "AWS::EC2::Volume::Id", "AWS::EC2::VPC::Id", "AWS::Route53::HostedZone::Id",
)
LIST_OF_AWS_SPECIFIC = tuple(f"List<{t}>" for t in AWS_SPECIFIC_TYPES if t != "AWS::EC2::KeyPair::KeyName")
SSM_NAME = "AWS::SSM::Parameter::Name"
_SSM_VALUE = re.compile(r"AWS::SSM::Parameter::Value<(.+)>")
PLAIN_TYPES = ("String", "Number", "List<Number>", "CommaDelimitedList")


def known_parameter_type(type_name: str) -> bool:
    if type_name in PLAIN_TYPES or type_name in AWS_SPECIFIC_TYPES or type_name in LIST_OF_AWS_SPECIFIC:
        return True
    if type_name == SSM_NAME:
        return True
    match = _SSM_VALUE.fullmatch(type_name)
    return match is not None and known_parameter_type(match.group(1))


def is_list_type(type_name: str) -> bool:
    return type_name.startswith("List<") or type_name == "CommaDelimitedList"


def check_types(tpl: Template) -> None:
    for spec in tpl.parameters.values():
        if not known_parameter_type(spec.type):
            raise format_error(f"Unrecognized parameter type: {spec.type}")


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip() == value and value != ""


def _bound(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)


def _check(spec: ParameterSpec, value: str) -> None:
    """One value (one item of a list) against the parameter's constraints."""
    def failed(message: str) -> TemplateError:
        if spec.constraint_description:
            return TemplateError(f"Parameter '{spec.name}' failed to satisfy constraint: {spec.constraint_description}")
        return TemplateError(f"Parameter '{spec.name}' {message}")
    numeric = spec.type in ("Number", "List<Number>")
    if numeric and not _is_number(value):
        raise TemplateError(f"Parameter '{spec.name}' must be a number.")
    if spec.allowed_values is not None and value not in spec.allowed_values:
        raise failed("must be one of AllowedValues")
    if spec.allowed_pattern is not None and not re.fullmatch(spec.allowed_pattern, value):
        raise failed(f"must match pattern {spec.allowed_pattern}")
    if spec.min_length is not None and len(value) < spec.min_length:
        raise failed(f"must contain at least {spec.min_length} characters")
    if spec.max_length is not None and len(value) > spec.max_length:
        raise failed(f"must contain at most {spec.max_length} characters")
    if numeric and spec.min_value is not None and float(value) < spec.min_value:
        raise failed(f"must be a number not less than {_bound(spec.min_value)}")
    if numeric and spec.max_value is not None and float(value) > spec.max_value:
        raise failed(f"must be a number not greater than {_bound(spec.max_value)}")


def _typed(spec: ParameterSpec, value: str) -> Any:
    ssm = _SSM_VALUE.fullmatch(spec.type)
    if ssm:
        raise TemplateError(
            f"Parameter '{spec.name}' is of type {spec.type}: vpclab has no SSM Parameter Store "
            "yet, so its value cannot be resolved; use a String parameter instead")
    if is_list_type(spec.type):
        items = value.split(",") if value != "" else []
        for item in items:
            _check(spec, item)
        return items
    _check(spec, value)
    return value


def resolve_parameters(tpl: Template, given: Mapping[str, str],
                       previous: Mapping[str, str] | None = None,
                       use_previous: AbstractSet[str] = frozenset()) -> dict[str, Any]:
    """Each template parameter's typed value; CloudFormation's ValidationError for a parameter
    that is unknown, missing, or fails its type or constraints."""
    unknown = [name for name in [*given, *use_previous] if name not in tpl.parameters]
    if unknown:
        raise TemplateError(f"Parameters: [{', '.join(dict.fromkeys(unknown))}] do not exist in the template")
    values: dict[str, str] = {}
    missing: list[str] = []
    for name, spec in tpl.parameters.items():
        if name in use_previous:
            if previous is None or name not in previous:
                raise TemplateError(
                    f"Invalid input for parameter key {name}. Cannot specify usePreviousValue as "
                    "true for a parameter key not in the previous template")
            values[name] = previous[name]
        elif name in given:
            values[name] = given[name]
        elif spec.default is not None:
            values[name] = spec.default
        else:
            missing.append(name)
    if missing:
        raise TemplateError(f"Parameters: [{', '.join(missing)}] must have values")
    return {name: _typed(tpl.parameters[name], value) for name, value in values.items()}


def no_echo(tpl: Template) -> set[str]:
    return {name for name, spec in tpl.parameters.items() if spec.no_echo}


def displayed(tpl: Template, resolved: Mapping[str, Any]) -> dict[str, str]:
    """Parameter values as DescribeStacks shows them: lists joined, NoEcho ones masked."""
    return {name: MASK if tpl.parameters[name].no_echo else (",".join(value) if isinstance(value, list) else value)
            for name, value in resolved.items()}
