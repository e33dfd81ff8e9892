"""Stacks, their resources, events and change sets as the CloudFormation API shows them
(botocore's member names). NoEcho parameter values are shown as `****`."""
from __future__ import annotations

import json
from typing import Any

from ...model.cloudformation import ChangeSet, Stack, StackEvent, StackParameter, StackResource
from . import template


def parameters(params: list[StackParameter]) -> list[dict]:
    return [{"ParameterKey": p.key, "ParameterValue": template.MASK if p.no_echo else p.value} for p in params]


def stack(s: Stack) -> dict[str, Any]:
    out: dict[str, Any] = {
        "StackId": s.id,
        "StackName": s.name,
        "ChangeSetId": s.change_set_id,
        "Description": s.description,
        "Parameters": parameters(s.parameters),
        "CreationTime": s.creation_time,
        "DeletionTime": s.deletion_time,
        "LastUpdatedTime": s.last_updated_time,
        "RollbackConfiguration": {},
        "StackStatus": s.status,
        "StackStatusReason": s.status_reason,
        "DisableRollback": s.disable_rollback,
        "NotificationARNs": list(s.notification_arns),
        "TimeoutInMinutes": s.timeout_in_minutes,
        "Capabilities": list(s.capabilities),
        "Outputs": [{"OutputKey": o.key, "OutputValue": o.value, "Description": o.description,
                     "ExportName": o.export_name} for o in s.outputs],
        "RoleARN": s.role_arn,
        "Tags": list(s.tags),
        "EnableTerminationProtection": s.termination_protection,
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }
    return {k: v for k, v in out.items() if v is not None}


def summary(s: Stack) -> dict[str, Any]:
    out: dict[str, Any] = {
        "StackId": s.id,
        "StackName": s.name,
        "TemplateDescription": s.description,
        "CreationTime": s.creation_time,
        "LastUpdatedTime": s.last_updated_time,
        "DeletionTime": s.deletion_time,
        "StackStatus": s.status,
        "StackStatusReason": s.status_reason,
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }
    return {k: v for k, v in out.items() if v is not None}


def event(e: StackEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "StackId": e.stack_id,
        "EventId": e.id,
        "StackName": e.stack_name,
        "LogicalResourceId": e.logical_id,
        "PhysicalResourceId": e.physical_id,
        "ResourceType": e.resource_type,
        "Timestamp": e.timestamp,
        "ResourceStatus": e.status,
        "ResourceStatusReason": e.reason,
        "ResourceProperties": e.properties,
        "ClientRequestToken": e.client_request_token,
    }
    return {k: v for k, v in out.items() if v is not None}


def _resource_common(r: StackResource) -> dict[str, Any]:
    return {
        "LogicalResourceId": r.logical_id,
        "PhysicalResourceId": r.physical_id or None,
        "ResourceType": r.type,
        "ResourceStatus": r.status,
        "ResourceStatusReason": r.reason,
        "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
    }


def resource(s: Stack, r: StackResource) -> dict[str, Any]:
    """StackResource (DescribeStackResources)."""
    out = {"StackName": s.name, "StackId": s.id, **_resource_common(r), "Timestamp": r.timestamp,
           "Description": r.description}
    return {k: v for k, v in out.items() if v is not None}


def resource_detail(s: Stack, r: StackResource) -> dict[str, Any]:
    """StackResourceDetail (DescribeStackResource)."""
    out = {"StackName": s.name, "StackId": s.id, **_resource_common(r), "LastUpdatedTimestamp": r.timestamp,
           "Description": r.description, "Metadata": json.dumps(r.metadata) if r.metadata else None}
    return {k: v for k, v in out.items() if v is not None}


def resource_summary(r: StackResource) -> dict[str, Any]:
    out = {**_resource_common(r), "LastUpdatedTimestamp": r.timestamp}
    return {k: v for k, v in out.items() if v is not None}


def change_set(cs: ChangeSet) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ChangeSetName": cs.name,
        "ChangeSetId": cs.id,
        "StackId": cs.stack_id,
        "StackName": cs.stack_name,
        "Description": cs.description,
        "Parameters": parameters(cs.parameters),
        "CreationTime": cs.creation_time,
        "ExecutionStatus": cs.execution_status,
        "Status": cs.status,
        "StatusReason": cs.status_reason,
        "NotificationARNs": list(cs.notification_arns),
        "RollbackConfiguration": {},
        "Capabilities": list(cs.capabilities),
        "Tags": list(cs.tags),
        "Changes": list(cs.changes),
        "IncludeNestedStacks": False,
        "OnStackFailure": cs.on_stack_failure,
    }
    return {k: v for k, v in out.items() if v is not None}


def change_set_summary(cs: ChangeSet) -> dict[str, Any]:
    out: dict[str, Any] = {
        "StackId": cs.stack_id,
        "StackName": cs.stack_name,
        "ChangeSetId": cs.id,
        "ChangeSetName": cs.name,
        "ExecutionStatus": cs.execution_status,
        "Status": cs.status,
        "StatusReason": cs.status_reason,
        "CreationTime": cs.creation_time,
        "Description": cs.description,
        "IncludeNestedStacks": False,
    }
    return {k: v for k, v in out.items() if v is not None}
