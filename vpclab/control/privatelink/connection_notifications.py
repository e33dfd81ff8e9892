"""Connection notifications: Create/Describe/Modify/DeleteVpcEndpointConnectionNotification[s].

A notification is attached either to an endpoint service (the provider hears of every
endpoint that connects to it) or to an interface endpoint (the consumer hears of its own),
and names an SNS topic and the events it wants: Connect, Accept, Reject, Delete.

vpclab has no SNS. Each event is delivered as the SNS envelope a topic subscriber would
receive, one JSON object a line, appended to `<state_dir>/notifications.log`, only after
the transaction that made the event has committed (`deliver`). The envelope:

    {"Type": "Notification", "MessageId": <uuid>, "TopicArn": <topic>,
     "Subject": "VPC Endpoint Connection Notification", "Message": <JSON text>,
     "Timestamp": "2024-02-28T11:35:33.000Z"}

and `Message`, whose exact fields AWS does not document, carries (vpclab's choice):

    {"connectionNotificationId": "vpce-nfn-…", "connectionEvent": "Connect",
     "serviceId": "vpce-svc-…", "vpcEndpointId": "vpce-…", "vpcEndpointOwner": "2222…",
     "vpcEndpointState": "pendingAcceptance", "region": "ap-south-1"}
"""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from ...model.privatelink import ConnectionNotification, Endpoint, EndpointService
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameter, MissingParameter
from ...protocol.serializer import format_timestamp
from ...store import Transaction
from ..common.filters import filter_and_page
from ..common.ids import new_id
from ..common.lookup import ENDPOINT, SERVICE, find_owned, get_owned

EVENTS = ("Connect", "Accept", "Reject", "Delete")
LOG_NAME = "notifications.log"
SUBJECT = "VPC Endpoint Connection Notification"

_TOPIC = re.compile(r"arn:aws:sns:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):([A-Za-z0-9_-]{1,256})")


class InvalidConnectionNotification(AwsError):
    code = "InvalidConnectionNotification"


def not_found(nid: str) -> AwsError:
    return InvalidConnectionNotification(f"The connection notification Id '{nid}' does not exist")


def check_topic(arn: str | None) -> str:
    if not arn:
        raise MissingParameter("The request must contain the parameter ConnectionNotificationArn")
    if _TOPIC.fullmatch(arn) is None:
        raise InvalidParameter(f"Invalid SNS topic ARN: '{arn}'")
    return arn


def check_events(events: list[str] | None) -> list[str]:
    if not events:
        raise MissingParameter("The request must contain the parameter ConnectionEvents")
    for event in events:
        if event not in EVENTS:
            raise InvalidParameter(
                f"Invalid connection event '{event}'. Valid events: {', '.join(EVENTS)}"
            )
    return list(dict.fromkeys(events))


def render(n: ConnectionNotification) -> dict:
    return {
        "ConnectionNotificationId": n.id,
        "ServiceId": n.service_id,
        "VpcEndpointId": n.vpc_endpoint_id,
        "ConnectionNotificationType": n.notification_type,
        "ConnectionNotificationArn": n.arn,
        "ConnectionEvents": n.events,
        "ConnectionNotificationState": n.state,
    }


@operation("ec2", "CreateVpcEndpointConnectionNotification")
def create_notification(ctx: RequestContext, req: dict) -> dict:
    service_id: str | None = req.get("ServiceId")
    endpoint_id: str | None = req.get("VpcEndpointId")
    if bool(service_id) == bool(endpoint_id):
        raise InvalidParameter("Exactly one of ServiceId or VpcEndpointId must be specified.")
    arn = check_topic(req.get("ConnectionNotificationArn"))
    events = check_events(req.get("ConnectionEvents"))
    token = req.get("ClientToken")
    with ctx.write() as tx:
        if token:
            for old in tx.list(ConnectionNotification, ctx.account, ctx.region):
                if old.client_token == token:
                    return {"ConnectionNotification": render(old), "ClientToken": token}
        if service_id:
            get_owned(tx, ctx, EndpointService, service_id, SERVICE)
        elif endpoint_id:  # exactly one of the two is given
            endpoint = get_owned(tx, ctx, Endpoint, endpoint_id, ENDPOINT)
            if endpoint.endpoint_type != "Interface":
                raise InvalidParameter("Connection notifications are supported for interface endpoints only.")
        n = ConnectionNotification(
            id=new_id("vpce-nfn"),
            account=ctx.account,
            region=ctx.region,
            created=ctx.now.timestamp(),
            service_id=service_id,
            vpc_endpoint_id=endpoint_id,
            arn=arn,
            events=events,
            client_token=token or "",
        )
        tx.put(n)
    return {"ConnectionNotification": render(n), "ClientToken": token}


FILTERS = {
    "connection-notification-arn": lambda n: n.arn,
    "connection-notification-id": lambda n: n.id,
    "connection-notification-state": lambda n: n.state,
    "connection-notification-type": lambda n: n.notification_type,
    "service-id": lambda n: n.service_id,
    "vpc-endpoint-id": lambda n: n.vpc_endpoint_id,
}


@operation("ec2", "DescribeVpcEndpointConnectionNotifications")
def describe_notifications(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        items = tx.list(ConnectionNotification, ctx.account, ctx.region)
    wanted = req.get("ConnectionNotificationId")
    if wanted:
        items = [n for n in items if n.id == wanted]
        if not items:
            raise not_found(wanted)
    page, token = filter_and_page(items, req.get("Filters"), FILTERS,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"ConnectionNotificationSet": [render(n) for n in page], "NextToken": token}


@operation("ec2", "ModifyVpcEndpointConnectionNotification")
def modify_notification(ctx: RequestContext, req: dict) -> dict:
    nid = req["ConnectionNotificationId"]
    with ctx.write() as tx:
        n = find_owned(tx, ctx, ConnectionNotification, nid)
        if n is None:
            raise not_found(nid)
        if req.get("ConnectionNotificationArn") is not None:
            n.arn = check_topic(req["ConnectionNotificationArn"])
        if req.get("ConnectionEvents") is not None:
            n.events = check_events(req["ConnectionEvents"])
        tx.put(n)
    return {"ReturnValue": True}


@operation("ec2", "DeleteVpcEndpointConnectionNotifications")
def delete_notifications(ctx: RequestContext, req: dict) -> dict:
    unsuccessful = []
    with ctx.write() as tx:
        for nid in req["ConnectionNotificationIds"]:
            n = find_owned(tx, ctx, ConnectionNotification, nid)
            if n is None:
                err = not_found(nid)
                unsuccessful.append({"ResourceId": nid, "Error": {"Code": err.code, "Message": err.message}})
                continue
            tx.delete(n)
    return {"Unsuccessful": unsuccessful}


# Events --------------------------------------------------------------------------------

def collect(tx: Transaction, endpoint: Endpoint, event: str, now: float) -> list[dict]:
    """The messages an event of `endpoint` sends: to its service's and its own notifications.

    Call inside the transaction that makes the event; hand the result to `deliver` after
    it commits.
    """
    targets = [
        n for n in tx.list(ConnectionNotification, region=endpoint.region)
        if n.state == "Enabled" and event in n.events and (
            (n.service_id == endpoint.service_id and n.account == endpoint.service_account)
            or (n.vpc_endpoint_id == endpoint.id and n.account == endpoint.account)
        )
    ]
    messages = []
    for n in targets:
        body = {
            "connectionNotificationId": n.id,
            "connectionEvent": event,
            "serviceId": endpoint.service_id,
            "vpcEndpointId": endpoint.id,
            "vpcEndpointOwner": endpoint.account,
            "vpcEndpointState": endpoint.state,
            "region": endpoint.region,
        }
        messages.append({
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": n.arn,
            "Subject": SUBJECT,
            "Message": json.dumps(body, separators=(",", ":")),
            "Timestamp": format_timestamp(now),
        })
    return messages


def deliver(ctx: RequestContext, messages: list[dict]) -> None:
    """Append committed events to `<state_dir>/notifications.log` (nothing without a state dir)."""
    state_dir = ctx.extras.get("state_dir")
    if not messages or state_dir is None:
        return
    path = Path(state_dir) / LOG_NAME
    with path.open("a", encoding="utf-8") as out:
        for message in messages:
            out.write(json.dumps(message, separators=(",", ":")) + "\n")


def delete_attached(tx: Transaction, *, service_id: str | None = None, endpoint_id: str | None = None) -> None:
    """Remove the notifications of a service or endpoint that is going away."""
    for n in tx.list(ConnectionNotification):
        if (service_id and n.service_id == service_id) or (endpoint_id and n.vpc_endpoint_id == endpoint_id):
            tx.delete(n)


def read_notifications(state_dir: str | Path) -> list[dict]:
    """Every delivered notification envelope, oldest first, with `Message` left as text."""
    path = Path(state_dir) / LOG_NAME
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash mid-write
    return out
