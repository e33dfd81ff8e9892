"""The AWS-managed prefix lists of the Gateway services: DescribePrefixLists,
DescribeManagedPrefixLists and GetManagedPrefixListEntries.

Each Gateway service of the catalog (`model.aws_services`: S3, DynamoDB) has one list
per region, named by its service name (`com.amazonaws.<region>.s3`), with a `pl-` id
that is the same in every call and state directory, owned by `AWS`, holding the fixed
ranges the catalog documents. A Gateway endpoint's routes name it. Nothing is stored:
vpclab has no customer-managed prefix lists.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...model import aws_services
from ...protocol.dispatch import RequestContext, operation
from ..common.filters import by_ids, filter_and_page
from ..common.lookup import IdKind

#: AWS spells the two codes differently: InvalidPrefixListID.NotFound, InvalidPrefixListId.Malformed.
PREFIX_LIST = IdKind("pl", "InvalidPrefixListID", "prefix list ID", malformed_stem="InvalidPrefixListId", expecting=True)
#: OwnerId of the AWS-managed lists in DescribeManagedPrefixLists.
AWS_OWNER = "AWS"


@dataclass(frozen=True)
class PrefixList:
    id: str
    name: str
    cidrs: tuple[str, ...]
    region: str


def prefix_lists(region: str, ids: list[str] | None = None) -> list[PrefixList]:
    """The region's AWS-managed lists, in the catalog's (service-name) order; only those
    `ids` names if given (`.Malformed` / `.NotFound` as for any id)."""
    lists = [PrefixList(s.prefix_list_id(region), s.prefix_list_name(region), tuple(s.prefix_list_cidrs()), region)
             for s in aws_services.gateway_services()]
    for pid in ids or ():
        PREFIX_LIST.check(pid)
    return by_ids(lists, ids, lambda p: p.id, PREFIX_LIST.not_found)


FILTERS = {
    "prefix-list-id": lambda p: p.id,
    "prefix-list-name": lambda p: p.name,
}


@operation("ec2", "DescribePrefixLists")
def describe_prefix_lists(ctx: RequestContext, req: dict) -> dict:
    lists = prefix_lists(ctx.region, req.get("PrefixListIds"))
    page, token = filter_and_page(lists, req.get("Filters"), FILTERS,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {
        "PrefixLists": [{"PrefixListId": p.id, "PrefixListName": p.name, "Cidrs": list(p.cidrs)} for p in page],
        "NextToken": token,
    }


MANAGED_FILTERS = {**FILTERS, "owner-id": lambda p: AWS_OWNER}


def render_managed(p: PrefixList) -> dict:
    return {
        "PrefixListId": p.id,
        "AddressFamily": "IPv4",
        "State": "create-complete",
        "PrefixListArn": f"arn:aws:ec2:{p.region}:aws:prefix-list/{p.id}",
        "PrefixListName": p.name,
        "Tags": [],
        "OwnerId": AWS_OWNER,
    }


@operation("ec2", "DescribeManagedPrefixLists")
def describe_managed_prefix_lists(ctx: RequestContext, req: dict) -> dict:
    """The AWS-managed lists (AWS lists them with the caller's own, which vpclab has none of)."""
    lists = prefix_lists(ctx.region, req.get("PrefixListIds"))
    page, token = filter_and_page(lists, req.get("Filters"), MANAGED_FILTERS,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"PrefixLists": [render_managed(p) for p in page], "NextToken": token}


@operation("ec2", "GetManagedPrefixListEntries")
def get_managed_prefix_list_entries(ctx: RequestContext, req: dict) -> dict:
    (found,) = prefix_lists(ctx.region, [req["PrefixListId"]])
    page, token = filter_and_page([{"Cidr": c} for c in found.cidrs], None, {},
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"Entries": page, "NextToken": token}
