"""Route tables through real boto3: every VPC's main table, the default VPC's route to its
gateway, tables, routes and associations with AWS's errors, filters, and another
account's view; and an old state directory's VPCs getting their tables at first use."""
from __future__ import annotations

import pytest

from tests.helpers.accounts import ACCOUNT_1
from tests.helpers.errors import error_of
from tests.helpers.server import ServerProcess, free_port
from tests.test_awscli import aws_json
from vpclab.model import KINDS
from vpclab.model.ec2 import InternetGateway, RouteTable
from vpclab.store import open_store

MISSING_RTB = "rtb-0123456789abcdef0"
MISSING_ASSOC = "rtbassoc-0123456789abcdef0"


@pytest.fixture
def vpc(ec2):
    vpc_id = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    yield vpc_id
    for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=s["SubnetId"])
    for t in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]:
        if not any(a["Main"] for a in t["Associations"]):
            for a in t["Associations"]:
                ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
            ec2.delete_route_table(RouteTableId=t["RouteTableId"])
    for g in ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]:
        ec2.detach_internet_gateway(InternetGatewayId=g["InternetGatewayId"], VpcId=vpc_id)
        ec2.delete_internet_gateway(InternetGatewayId=g["InternetGatewayId"])
    ec2.delete_vpc(VpcId=vpc_id)


@pytest.fixture
def subnet(ec2, vpc):
    return ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]


@pytest.fixture
def igw(ec2, vpc):
    igw_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc)
    return igw_id


def table(ec2, rtb: str) -> dict:
    return ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]


def main_of(ec2, vpc_id: str) -> dict:
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    assert len(tables) == 1
    return tables[0]


def routes(ec2, rtb: str) -> dict[str, dict]:
    return {r["DestinationCidrBlock"]: r for r in table(ec2, rtb)["Routes"]}


def test_default_vpc_main_table(ec2):
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    igw_id = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"][0]["InternetGatewayId"]
    main = main_of(ec2, vpc_id)
    assert main["RouteTableId"].startswith("rtb-") and len(main["RouteTableId"]) == 21
    assert main["OwnerId"] == ACCOUNT_1 and main["VpcId"] == vpc_id
    assert main["PropagatingVgws"] == []
    assert main["Routes"] == [
        {"DestinationCidrBlock": "172.31.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable",
         "State": "active"},
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw_id, "Origin": "CreateRoute", "State": "active"},
    ]
    [assoc] = main["Associations"]
    assert assoc["Main"] is True and "SubnetId" not in assoc
    assert assoc["RouteTableAssociationId"].startswith("rtbassoc-")
    assert assoc["RouteTableId"] == main["RouteTableId"]
    assert assoc["AssociationState"] == {"State": "associated"}
    # The only table of the default VPC: every default subnet uses it.
    assert len(ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]) == 1


def test_new_vpc_main_table(ec2, vpc):
    main = main_of(ec2, vpc)
    assert main["Routes"] == [{"DestinationCidrBlock": "10.30.0.0/16", "GatewayId": "local",
                               "Origin": "CreateRouteTable", "State": "active"}]
    assert error_of(ec2.delete_route_table, RouteTableId=main["RouteTableId"]) == {
        "Code": "DependencyViolation",
        "Message": f"The routeTable '{main['RouteTableId']}' has dependencies and cannot be deleted.",
    }
    assoc = main["Associations"][0]["RouteTableAssociationId"]
    assert error_of(ec2.disassociate_route_table, AssociationId=assoc) == {
        "Code": "InvalidParameterValue",
        "Message": f"cannot disassociate the main route table association {assoc}",
    }


def test_create_describe_delete(ec2, vpc):
    created = ec2.create_route_table(VpcId=vpc, TagSpecifications=[
        {"ResourceType": "route-table", "Tags": [{"Key": "Name", "Value": "public"}]}])["RouteTable"]
    rtb = created["RouteTableId"]
    assert created["VpcId"] == vpc and created["OwnerId"] == ACCOUNT_1
    assert created["Associations"] == [] and created["PropagatingVgws"] == []
    assert created["Routes"] == [{"DestinationCidrBlock": "10.30.0.0/16", "GatewayId": "local",
                                  "Origin": "CreateRouteTable", "State": "active"}]
    assert created["Tags"] == [{"Key": "Name", "Value": "public"}]
    assert table(ec2, rtb) == created
    ec2.create_tags(Resources=[rtb], Tags=[{"Key": "tier", "Value": "web"}])
    assert [t["RouteTableId"] for t in ec2.describe_route_tables(
        Filters=[{"Name": "tag:tier", "Values": ["web"]}])["RouteTables"]] == [rtb]
    # A table other than the main one keeps the VPC.
    assert error_of(ec2.delete_vpc, VpcId=vpc)["Code"] == "DependencyViolation"
    ec2.delete_route_table(RouteTableId=rtb)
    assert error_of(ec2.describe_route_tables, RouteTableIds=[rtb]) == {
        "Code": "InvalidRouteTableID.NotFound", "Message": f"The routeTable ID '{rtb}' does not exist"}
    assert error_of(ec2.delete_route_table, RouteTableId=rtb)["Code"] == "InvalidRouteTableID.NotFound"
    assert error_of(ec2.delete_route_table, RouteTableId="rtb-bad") == {
        "Code": "InvalidRouteTableId.Malformed", "Message": 'Invalid id: "rtb-bad"'}
    assert error_of(ec2.create_route_table, VpcId="vpc-0123456789abcdef0")["Code"] == "InvalidVpcID.NotFound"


def test_delete_vpc_deletes_its_main_table(ec2):
    vpc_id = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    rtb = main_of(ec2, vpc_id)["RouteTableId"]
    ec2.delete_vpc(VpcId=vpc_id)
    assert error_of(ec2.describe_route_tables, RouteTableIds=[rtb])["Code"] == "InvalidRouteTableID.NotFound"


def test_routes_to_the_gateway(ec2, vpc, igw):
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    assert ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)["Return"] is True
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="203.0.113.0/24", GatewayId=igw)
    # Less specific than the VPC's CIDR is not inside it: allowed.
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="10.0.0.0/8", GatewayId=igw)
    got = routes(ec2, rtb)
    assert got["0.0.0.0/0"] == {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw,
                                "Origin": "CreateRoute", "State": "active"}
    assert set(got) == {"10.30.0.0/16", "0.0.0.0/0", "203.0.113.0/24", "10.0.0.0/8"}
    assert error_of(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw) == {
        "Code": "RouteAlreadyExists", "Message": "The route identified by 0.0.0.0/0 already exists."}
    assert error_of(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="10.30.0.0/16",
                    GatewayId=igw)["Code"] == "RouteAlreadyExists"
    ec2.delete_route(RouteTableId=rtb, DestinationCidrBlock="203.0.113.0/24")
    assert "203.0.113.0/24" not in routes(ec2, rtb)
    assert error_of(ec2.delete_route, RouteTableId=rtb, DestinationCidrBlock="203.0.113.0/24") == {
        "Code": "InvalidRoute.NotFound",
        "Message": f"no route with destination-cidr-block 203.0.113.0/24 in route table {rtb}",
    }
    # Detached, the gateway's routes are blackholes; attached again, active.
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert routes(ec2, rtb)["0.0.0.0/0"]["State"] == "blackhole"
    black = ec2.describe_route_tables(Filters=[{"Name": "route.state", "Values": ["blackhole"]}])["RouteTables"]
    assert rtb in [t["RouteTableId"] for t in black]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert routes(ec2, rtb)["0.0.0.0/0"]["State"] == "active"


def test_route_errors(ec2, vpc, igw):
    rtb = main_of(ec2, vpc)["RouteTableId"]
    assert error_of(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="10.30.5.0/24", GatewayId=igw) == {
        "Code": "InvalidParameterValue",
        "Message": "Route target is not supported. This route only supports interface and instance targets.",
    }
    assert error_of(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                    GatewayId="igw-0123456789abcdef0") == {
        "Code": "InvalidGatewayID.NotFound", "Message": "The gateway ID 'igw-0123456789abcdef0' does not exist"}
    assert error_of(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                    GatewayId="nat-0123456789abcdef0")["Code"] == "InvalidGatewayID.NotFound"
    assert error_of(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                    NatGatewayId="nat-0123456789abcdef0")["Code"] == "InvalidNatGatewayID.NotFound"
    assert error_of(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="300.0.0.0/0", GatewayId=igw) == {
        "Code": "InvalidParameterValue",
        "Message": "Value (300.0.0.0/0) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.",
    }
    assert error_of(ec2.create_route, RouteTableId=rtb, GatewayId=igw)["Code"] == "MissingParameter"
    assert error_of(ec2.create_route, RouteTableId=MISSING_RTB, DestinationCidrBlock="0.0.0.0/0",
                    GatewayId=igw)["Code"] == "InvalidRouteTableID.NotFound"
    # A gateway not attached to the table's VPC (detached, or another VPC's).
    loose = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    try:
        assert error_of(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=loose) == {
            "Code": "InvalidParameterValue",
            "Message": f"route table {rtb} and network gateway {loose} belong to different networks",
        }
    finally:
        ec2.delete_internet_gateway(InternetGatewayId=loose)
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    default_igw = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [default_vpc]}])["InternetGateways"][0]["InternetGatewayId"]
    assert error_of(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                    GatewayId=default_igw)["Code"] == "InvalidParameterValue"
    # The local route stays.
    assert error_of(ec2.delete_route, RouteTableId=rtb, DestinationCidrBlock="10.30.0.0/16") == {
        "Code": "InvalidParameterValue",
        "Message": f"cannot remove local route 10.30.0.0/16 in route table {rtb}",
    }
    assert error_of(ec2.replace_route, RouteTableId=rtb, DestinationCidrBlock="10.30.0.0/16",
                    GatewayId=igw)["Code"] == "InvalidParameterValue"
    ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock="10.30.0.0/16", LocalTarget=True)
    assert routes(ec2, rtb)["10.30.0.0/16"]["GatewayId"] == "local"
    assert routes(ec2, rtb)["10.30.0.0/16"]["Origin"] == "CreateRouteTable"


def test_replace_route(ec2, vpc, igw, subnet):
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    assert error_of(ec2.replace_route, RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw) == {
        "Code": "InvalidParameterValue",
        "Message": "There is no route defined for '0.0.0.0/0' in the route table. Use CreateRoute instead.",
    }
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    try:
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", NetworkInterfaceId=eni)
        got = routes(ec2, rtb)["0.0.0.0/0"]
        assert got == {"DestinationCidrBlock": "0.0.0.0/0", "NetworkInterfaceId": eni,
                       "Origin": "CreateRoute", "State": "active"}
        ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        assert routes(ec2, rtb)["0.0.0.0/0"] == {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw,
                                                 "Origin": "CreateRoute", "State": "active"}
        # A route more specific than local may go to an interface of the VPC (stored, not realized).
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="10.30.9.0/24", NetworkInterfaceId=eni)
        assert routes(ec2, rtb)["10.30.9.0/24"]["NetworkInterfaceId"] == eni
        ec2.delete_route(RouteTableId=rtb, DestinationCidrBlock="10.30.9.0/24")
        assert error_of(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="192.0.2.0/24",
                        NetworkInterfaceId="eni-0123456789abcdef0")["Code"] == "InvalidNetworkInterfaceID.NotFound"
        assert error_of(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="192.0.2.0/24",
                        InstanceId="i-0123456789abcdef0")["Code"] == "InvalidInstanceID.NotFound"
    finally:
        ec2.delete_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0")
        ec2.delete_network_interface(NetworkInterfaceId=eni)


def test_interface_of_another_vpc_refused(ec2, vpc):
    rtb = main_of(ec2, vpc)["RouteTableId"]
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    sub = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default_vpc]}])["Subnets"][0]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=sub)["NetworkInterface"]["NetworkInterfaceId"]
    try:
        assert error_of(ec2.create_route, RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                        NetworkInterfaceId=eni) == {
            "Code": "InvalidParameterValue",
            "Message": f"route table {rtb} and interface {eni} belong to different networks",
        }
    finally:
        ec2.delete_network_interface(NetworkInterfaceId=eni)


def test_associations(ec2, vpc, subnet):
    main = main_of(ec2, vpc)
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    out = ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)
    assoc = out["AssociationId"]
    assert assoc.startswith("rtbassoc-") and out["AssociationState"] == {"State": "associated"}
    assert table(ec2, rtb)["Associations"] == [{
        "Main": False, "RouteTableAssociationId": assoc, "RouteTableId": rtb, "SubnetId": subnet,
        "AssociationState": {"State": "associated"}}]
    got = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["RouteTables"]
    assert [t["RouteTableId"] for t in got] == [rtb]
    got = ec2.describe_route_tables(
        Filters=[{"Name": "association.route-table-association-id", "Values": [assoc]}])["RouteTables"]
    assert [t["RouteTableId"] for t in got] == [rtb]
    # A subnet has one explicit association.
    assert error_of(ec2.associate_route_table, RouteTableId=main["RouteTableId"], SubnetId=subnet) == {
        "Code": "Resource.AlreadyAssociated",
        "Message": f"the specified association for route table {main['RouteTableId']} conflicts with an "
                   "existing association",
    }
    assert error_of(ec2.associate_route_table, RouteTableId=rtb, SubnetId=subnet)["Code"] == \
        "Resource.AlreadyAssociated"
    # An associated table cannot be deleted.
    assert error_of(ec2.delete_route_table, RouteTableId=rtb)["Code"] == "DependencyViolation"
    # A subnet of another VPC.
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    other = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default_vpc]}])["Subnets"][0]["SubnetId"]
    assert error_of(ec2.associate_route_table, RouteTableId=rtb, SubnetId=other) == {
        "Code": "InvalidParameterValue",
        "Message": f"Route table {rtb} and subnet {other} belong to different networks",
    }
    assert error_of(ec2.associate_route_table, RouteTableId=rtb,
                    SubnetId="subnet-0123456789abcdef0")["Code"] == "InvalidSubnetID.NotFound"
    # Moving the subnet's association gives it a new id.
    moved = ec2.replace_route_table_association(AssociationId=assoc, RouteTableId=main["RouteTableId"])
    new_assoc = moved["NewAssociationId"]
    assert new_assoc != assoc and moved["AssociationState"] == {"State": "associated"}
    assert table(ec2, rtb)["Associations"] == []
    assert {a["RouteTableAssociationId"]: a.get("SubnetId") for a in table(ec2, main["RouteTableId"])["Associations"]} \
        == {main["Associations"][0]["RouteTableAssociationId"]: None, new_assoc: subnet}
    assert error_of(ec2.disassociate_route_table, AssociationId=assoc) == {
        "Code": "InvalidAssociationID.NotFound", "Message": f"The association ID '{assoc}' does not exist"}
    ec2.disassociate_route_table(AssociationId=new_assoc)
    assert len(table(ec2, main["RouteTableId"])["Associations"]) == 1
    assert error_of(ec2.disassociate_route_table, AssociationId=MISSING_ASSOC)["Code"] == \
        "InvalidAssociationID.NotFound"


def test_delete_subnet_drops_its_association(ec2, vpc):
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.2.0/24")["Subnet"]["SubnetId"]
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=rtb, SubnetId=sub)
    ec2.delete_subnet(SubnetId=sub)
    assert table(ec2, rtb)["Associations"] == []
    ec2.delete_route_table(RouteTableId=rtb)


def test_replace_main_association(ec2, vpc):
    """Terraform's aws_main_route_table_association: the main association moves to
    another table of the VPC, and back."""
    old_main = main_of(ec2, vpc)
    old_assoc = old_main["Associations"][0]["RouteTableAssociationId"]
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    new_assoc = ec2.replace_route_table_association(AssociationId=old_assoc, RouteTableId=rtb)["NewAssociationId"]
    now_main = main_of(ec2, vpc)
    assert now_main["RouteTableId"] == rtb
    assert now_main["Associations"] == [{"Main": True, "RouteTableAssociationId": new_assoc, "RouteTableId": rtb,
                                         "AssociationState": {"State": "associated"}}]
    assert table(ec2, old_main["RouteTableId"])["Associations"] == []
    # The old main table is an ordinary one now: it can go, the new main cannot.
    assert error_of(ec2.delete_route_table, RouteTableId=rtb)["Code"] == "DependencyViolation"
    back = ec2.replace_route_table_association(AssociationId=new_assoc,
                                               RouteTableId=old_main["RouteTableId"])["NewAssociationId"]
    assert main_of(ec2, vpc)["RouteTableId"] == old_main["RouteTableId"]
    assert main_of(ec2, vpc)["Associations"][0]["RouteTableAssociationId"] == back
    # Into another VPC's table: refused.
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    other = main_of(ec2, default_vpc)["RouteTableId"]
    assert error_of(ec2.replace_route_table_association, AssociationId=back,
                    RouteTableId=other)["Code"] == "InvalidParameterValue"


def test_filters_and_paging(ec2, vpc, igw, subnet):
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)
    main = main_of(ec2, vpc)["RouteTableId"]

    def ids(*filters: tuple[str, list[str]]) -> set[str]:
        got = ec2.describe_route_tables(Filters=[{"Name": n, "Values": v} for n, v in filters])
        return {t["RouteTableId"] for t in got["RouteTables"]}

    assert ids(("vpc-id", [vpc])) == {rtb, main}
    assert ids(("vpc-id", [vpc]), ("route-table-id", [rtb])) == {rtb}
    assert ids(("vpc-id", [vpc]), ("association.main", ["false"])) == {rtb}
    assert ids(("vpc-id", [vpc]), ("association.main", ["true"])) == {main}
    assert ids(("route.gateway-id", [igw])) == {rtb}
    assert ids(("vpc-id", [vpc]), ("route.gateway-id", ["local"])) == {rtb, main}
    assert ids(("vpc-id", [vpc]), ("route.destination-cidr-block", ["0.0.0.0/0"])) == {rtb}
    assert ids(("vpc-id", [vpc]), ("route.origin", ["CreateRoute"])) == {rtb}
    assert ids(("vpc-id", [vpc]), ("route.state", ["active"])) == {rtb, main}
    assert ids(("vpc-id", [vpc]), ("owner-id", [ACCOUNT_1])) == {rtb, main}
    assert ids(("vpc-id", [vpc]), ("association.route-table-id", [rtb])) == {rtb}
    assert error_of(ec2.describe_route_tables, RouteTableIds=[rtb, MISSING_RTB]) == {
        "Code": "InvalidRouteTableID.NotFound", "Message": f"The routeTable ID '{MISSING_RTB}' does not exist"}
    assert error_of(ec2.describe_route_tables, Filters=[{"Name": "bogus", "Values": ["x"]}])["Code"] == \
        "InvalidParameterValue"
    extra = [ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for _ in range(4)]
    seen: list[str] = []
    kwargs: dict = {"MaxResults": 5, "Filters": [{"Name": "vpc-id", "Values": [vpc]}]}
    while True:
        page = ec2.describe_route_tables(**kwargs)
        assert len(page["RouteTables"]) <= 5
        seen += [t["RouteTableId"] for t in page["RouteTables"]]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    assert sorted(seen) == sorted([rtb, main, *extra])


def test_dry_run(ec2, vpc, igw):
    rtb = main_of(ec2, vpc)["RouteTableId"]
    for call, kw in ((ec2.create_route_table, {"VpcId": vpc}),
                     (ec2.create_route, {"RouteTableId": rtb, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw}),
                     (ec2.describe_route_tables, {})):
        assert error_of(call, DryRun=True, **kw)["Code"] == "DryRunOperation"
    assert len(ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]) == 1
    assert "0.0.0.0/0" not in routes(ec2, rtb)


def test_other_account_sees_none(ec2, ec2_2, vpc):
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    mine = {t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"]}
    theirs = {t["RouteTableId"] for t in ec2_2.describe_route_tables()["RouteTables"]}
    assert rtb in mine and not mine & theirs
    assert len(theirs) == 1  # its own default VPC's main table
    assert error_of(ec2_2.describe_route_tables, RouteTableIds=[rtb])["Code"] == "InvalidRouteTableID.NotFound"
    assert error_of(ec2_2.delete_route_table, RouteTableId=rtb)["Code"] == "InvalidRouteTableID.NotFound"
    assert error_of(ec2_2.create_route, RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                    GatewayId="igw-0123456789abcdef0")["Code"] == "InvalidRouteTableID.NotFound"
    assert error_of(ec2_2.create_route_table, VpcId=vpc)["Code"] == "InvalidVpcID.NotFound"
    own_assoc = main_of(ec2, vpc)["Associations"][0]["RouteTableAssociationId"]
    assert error_of(ec2_2.disassociate_route_table, AssociationId=own_assoc)["Code"] == \
        "InvalidAssociationID.NotFound"


def test_aws_cli_shape(shared_server, ec2, vpc, igw):
    rtb = main_of(ec2, vpc)["RouteTableId"]
    aws_json(shared_server, "ec2", "create-route", "--route-table-id", rtb,
             "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", igw)
    got = aws_json(shared_server, "ec2", "describe-route-tables", "--route-table-ids", rtb)["RouteTables"][0]
    assert got["Routes"] == [
        {"DestinationCidrBlock": "10.30.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw, "Origin": "CreateRoute", "State": "active"},
    ]
    assert got["PropagatingVgws"] == [] and got["Associations"][0]["Main"] is True
    ec2.delete_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0")


def test_old_state_directory_gets_its_tables_once(tmp_path):
    """VPCs stored before route tables existed get a main table (the default VPC also its
    gateway and route) at first use, and a gateway the user then deletes stays deleted."""
    state = tmp_path / "state"
    srv = ServerProcess(state, free_port()).start()
    try:
        ec2 = srv.client("ec2")
        default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        vpc_id = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    finally:
        srv.stop()
    store = open_store(state, KINDS)
    try:
        with store.write() as tx:  # what an older version stored: no tables, no gateways
            for obj in [*tx.list(RouteTable), *tx.list(InternetGateway)]:
                tx.delete(obj)
    finally:
        store.close()
    srv = ServerProcess(state, srv.port).start()
    try:
        ec2 = srv.client("ec2")
        [igw] = ec2.describe_internet_gateways()["InternetGateways"]
        assert igw["Attachments"] == [{"State": "available", "VpcId": default_vpc}]
        assert [r["GatewayId"] for r in main_of(ec2, default_vpc)["Routes"]] == ["local", igw["InternetGatewayId"]]
        assert [r["GatewayId"] for r in main_of(ec2, vpc_id)["Routes"]] == ["local"]
        assert len(ec2.describe_route_tables()["RouteTables"]) == 2
        ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=default_vpc)
        ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    finally:
        srv.stop()
    srv = ServerProcess(state, srv.port).start()
    try:
        ec2 = srv.client("ec2")
        assert ec2.describe_internet_gateways()["InternetGateways"] == []
        assert routes(ec2, main_of(ec2, default_vpc)["RouteTableId"])["0.0.0.0/0"]["State"] == "blackhole"
        assert len(ec2.describe_route_tables()["RouteTables"]) == 2
    finally:
        srv.stop()
