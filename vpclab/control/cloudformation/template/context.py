"""What evaluating a template needs from outside it: the stack, its parameters, its resources.

The engine builds a `Context` per evaluation; the callables reach the store through the
engine, so this package stays pure.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Context:
    account: str
    region: str
    stack_id: str
    stack_name: str
    #: Resolved parameter values (`resolve_parameters`): a string, or a list for list types.
    parameters: dict[str, Any]
    #: Each condition's value (`evaluate_conditions`; empty while evaluating them).
    conditions: dict[str, bool]
    #: A resource's Ref value (its physical id) by logical id.
    ref: Callable[[str], Any]
    #: A resource's attribute (`Fn::GetAtt`) by logical id and attribute name.
    get_att: Callable[[str, str], Any]
    #: The value another stack of the account and region exports under a name.
    import_value: Callable[[str], Any]
    #: The availability zones of a region, in order.
    azs: Callable[[str], list[str]]
    #: Names of NoEcho parameters (their values are masked wherever CloudFormation shows them).
    no_echo: set[str] = field(default_factory=set)
    #: The template's Mappings section (`Fn::FindInMap`).
    mappings: dict[str, Any] = field(default_factory=dict)
    #: Whether the template declares the AWS::LanguageExtensions transform.
    language_extensions: bool = False
    #: AWS::NotificationARNs.
    notification_arns: list[str] = field(default_factory=list)


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def url_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


#: Pseudo parameters other than AWS::NoValue (which `resolve` handles itself).
PSEUDO_PARAMETERS = ("AWS::AccountId", "AWS::NotificationARNs", "AWS::Partition", "AWS::Region",
                     "AWS::StackId", "AWS::StackName", "AWS::URLSuffix")
NO_VALUE = "AWS::NoValue"


def pseudo_parameter(name: str, ctx: Context) -> Any:
    values: dict[str, Callable[[], Any]] = {
        "AWS::AccountId": lambda: ctx.account,
        "AWS::NotificationARNs": lambda: list(ctx.notification_arns),
        "AWS::Partition": lambda: partition(ctx.region),
        "AWS::Region": lambda: ctx.region,
        "AWS::StackId": lambda: ctx.stack_id,
        "AWS::StackName": lambda: ctx.stack_name,
        "AWS::URLSuffix": lambda: url_suffix(ctx.region),
    }
    return values[name]()
