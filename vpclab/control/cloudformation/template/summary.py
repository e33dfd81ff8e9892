"""What ValidateTemplate and GetTemplateSummary answer about a template, as boto3 returns it.

Both are the template's alone; GetTemplateSummary's parts that need the store (a stack's
own template, ResourceIdentifierSummaries from the schemas) are the API handler's.
"""
from __future__ import annotations

import json
from typing import Any

from .structure import ParameterSpec, Template
from .validation import transforms

#: Properties that give an IAM resource a name (CAPABILITY_NAMED_IAM rather than CAPABILITY_IAM).
_IAM_NAMES = ("RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName")


def capabilities(tpl: Template) -> tuple[list[str], str | None]:
    """The capabilities CreateStack needs for this template, and CloudFormation's reason."""
    iam = [r for r in tpl.resources.values() if r.type.startswith("AWS::IAM::")]
    needed: list[str] = []
    reason = None
    if iam:
        named = any(name in r.properties for r in iam for name in _IAM_NAMES)
        needed.append("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
        types = ", ".join(dict.fromkeys(r.type for r in iam))
        reason = f"The following resource(s) require capabilities: [{types}]"
    if any(t != "AWS::LanguageExtensions" for t in transforms(tpl)):
        needed.append("CAPABILITY_AUTO_EXPAND")
    return needed, reason


def _parameter(spec: ParameterSpec, typed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"ParameterKey": spec.name}
    if spec.default is not None:
        out["DefaultValue"] = spec.default
    if typed:
        out["ParameterType"] = spec.type
    out["NoEcho"] = spec.no_echo
    if spec.description is not None:
        out["Description"] = spec.description
    if typed:
        out["ParameterConstraints"] = (
            {"AllowedValues": list(spec.allowed_values)} if spec.allowed_values is not None else {})
    return out


def validation_result(tpl: Template) -> dict[str, Any]:
    """ValidateTemplate's output."""
    needed, reason = capabilities(tpl)
    out: dict[str, Any] = {"Parameters": [_parameter(p, typed=False) for p in tpl.parameters.values()]}
    if tpl.description is not None:
        out["Description"] = tpl.description
    out["Capabilities"] = needed
    if reason is not None:
        out["CapabilitiesReason"] = reason
    out["DeclaredTransforms"] = transforms(tpl)
    return out


def summary(tpl: Template) -> dict[str, Any]:
    """GetTemplateSummary's output, less what needs the store."""
    needed, reason = capabilities(tpl)
    out: dict[str, Any] = {"Parameters": [_parameter(p, typed=True) for p in tpl.parameters.values()]}
    if tpl.description is not None:
        out["Description"] = tpl.description
    out["Capabilities"] = needed
    if reason is not None:
        out["CapabilitiesReason"] = reason
    out["ResourceTypes"] = list(dict.fromkeys(r.type for r in tpl.resources.values()))
    out["Version"] = tpl.format_version or "2010-09-09"
    if "Metadata" in tpl.raw:
        out["Metadata"] = json.dumps(tpl.raw["Metadata"])
    out["DeclaredTransforms"] = transforms(tpl)
    return out
