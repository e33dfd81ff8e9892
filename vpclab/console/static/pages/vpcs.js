// VPC > Your VPCs and Subnets: the lists and each one's details, as DescribeVpcs and
// DescribeSubnets return them for the signed-in account.
"use strict";

import {
  attempt, aws, awsAll, button, details, el, field, header, link, nameTag, page, showSuccess, stateBadge, subheader,
  table, tabs, tagsTable,
} from "../lib.js";

// What the VPC pages share (vpcs, endpoint_services and endpoints import it from here):
// titles, breadcrumbs, zone labels, endpoint states, the Notifications tab.

const yesNo = (v) => (v ? "Yes" : "No");

const VPC_COLUMNS = [
  {title: "Name", value: (v) => nameTag(v.Tags) || "–"},
  {title: "VPC ID", value: (v) => link(`#/vpc/vpcs/${v.VpcId}`, v.VpcId)},
  {title: "State", value: (v) => stateBadge(v.State)},
  {title: "IPv4 CIDR", value: (v) => v.CidrBlock},
  {title: "DHCP option set", value: (v) => v.DhcpOptionsId || "–"},
  {title: "Default VPC", value: (v) => yesNo(v.IsDefault)},
  {title: "Owner ID", value: (v) => v.OwnerId},
];

const SUBNET_COLUMNS = [
  {title: "Name", value: (s) => nameTag(s.Tags) || "–"},
  {title: "Subnet ID", value: (s) => link(`#/vpc/subnets/${s.SubnetId}`, s.SubnetId)},
  {title: "State", value: (s) => stateBadge(s.State)},
  {title: "VPC", value: (s) => link(`#/vpc/vpcs/${s.VpcId}`, s.VpcId)},
  {title: "IPv4 CIDR", value: (s) => s.CidrBlock},
  {title: "Available IPv4 addresses", value: (s) => String(s.AvailableIpAddressCount)},
  {title: "Availability Zone", value: (s) => s.AvailabilityZone},
  {title: "Availability Zone ID", value: (s) => s.AvailabilityZoneId},
  {title: "Default subnet", value: (s) => yesNo(s.DefaultForAz)},
  {title: "Auto-assign public IPv4 address", value: (s) => yesNo(s.MapPublicIpOnLaunch)},
];

/** The console's title of a resource: "<id> / <Name tag>" (just the id without one). */
export function titled(id, tags) {
  const name = nameTag(tags);
  return name ? `${id} / ${name}` : id;
}

page("#/vpc/vpcs", async (root) => {
  const vpcs = await awsAll("ec2", "DescribeVpcs", {}, "Vpcs");
  root.append(header("Your VPCs", vpcs.length), table("Your VPCs", VPC_COLUMNS, vpcs, {empty: "No VPCs found"}));
});

page("#/vpc/vpcs/:id", async (root, {id}) => {
  const [vpc] = (await aws("ec2", "DescribeVpcs", {VpcIds: [id]})).Vpcs;
  const [dnsHostnames, dnsSupport] = await Promise.all([
    aws("ec2", "DescribeVpcAttribute", {VpcId: id, Attribute: "enableDnsHostnames"}),
    aws("ec2", "DescribeVpcAttribute", {VpcId: id, Attribute: "enableDnsSupport"}),
  ]);
  root.append(
    breadcrumb("Your VPCs", "#/vpc/vpcs", id),
    header(titled(id, vpc.Tags)),
    details("Details", [
      ["VPC ID", vpc.VpcId], ["State", stateBadge(vpc.State)],
      ["DNS hostnames", dnsHostnames.EnableDnsHostnames.Value ? "Enabled" : "Disabled"],
      ["DNS resolution", dnsSupport.EnableDnsSupport.Value ? "Enabled" : "Disabled"],
      ["Tenancy", vpc.InstanceTenancy], ["DHCP option set", vpc.DhcpOptionsId || "–"],
      ["Default VPC", yesNo(vpc.IsDefault)], ["IPv4 CIDR", vpc.CidrBlock], ["Owner ID", vpc.OwnerId],
    ]),
    tabs("VPC", [
      {title: "Subnets", render: async (panel) => {
        const subnets = await awsAll("ec2", "DescribeSubnets", {Filters: [{Name: "vpc-id", Values: [id]}]}, "Subnets");
        panel.append(subheader("Subnets", subnets.length), table("Subnets", SUBNET_COLUMNS, subnets, {empty: "No subnets found"}));
      }},
      {title: "CIDRs", render: async (panel) => {
        const cidrs = vpc.CidrBlockAssociationSet || [];
        panel.append(table("CIDRs", [
          {title: "Address type", value: () => "IPv4"},
          {title: "CIDR", value: (c) => c.CidrBlock},
          {title: "Status", value: (c) => stateBadge(c.CidrBlockState && c.CidrBlockState.State)},
        ], cidrs));
      }},
      {title: "Tags", render: async (panel) => { panel.append(tagsTable(vpc.Tags)); }},
    ]));
});

page("#/vpc/subnets", async (root) => {
  const subnets = await awsAll("ec2", "DescribeSubnets", {}, "Subnets");
  subnets.sort((a, b) => a.VpcId.localeCompare(b.VpcId) || a.AvailabilityZone.localeCompare(b.AvailabilityZone));
  root.append(header("Subnets", subnets.length), table("Subnets", SUBNET_COLUMNS, subnets, {empty: "No subnets found"}));
});

page("#/vpc/subnets/:id", async (root, {id}) => {
  const [s] = (await aws("ec2", "DescribeSubnets", {SubnetIds: [id]})).Subnets;
  root.append(
    breadcrumb("Subnets", "#/vpc/subnets", id),
    header(titled(id, s.Tags)),
    details("Details", [
      ["Subnet ID", s.SubnetId], ["Subnet ARN", s.SubnetArn || "–"], ["State", stateBadge(s.State)],
      ["IPv4 CIDR", s.CidrBlock], ["Available IPv4 addresses", String(s.AvailableIpAddressCount)],
      ["Availability Zone", s.AvailabilityZone], ["Availability Zone ID", s.AvailabilityZoneId],
      ["VPC", link(`#/vpc/vpcs/${s.VpcId}`, s.VpcId)], ["Default subnet", yesNo(s.DefaultForAz)],
      ["Auto-assign public IPv4 address", yesNo(s.MapPublicIpOnLaunch)], ["Owner", s.OwnerId],
    ]),
    tabs("Subnet", [{title: "Tags", render: async (panel) => { panel.append(tagsTable(s.Tags)); }}]));
});

/** The console's breadcrumb above a details page: "VPC > <list> > <id>". */
export function breadcrumb(list, hash, id) {
  return el("nav", {class: "breadcrumb", "aria-label": "Breadcrumb"}, "VPC › ", link(hash, list), ` › ${id}`);
}

/** "ap-south-1a (aps1-az1)" for each zone name of the region, as the console labels zones. */
export async function zoneLabels() {
  const zones = (await aws("ec2", "DescribeAvailabilityZones", {})).AvailabilityZones;
  return {
    zones,
    byName: Object.fromEntries(zones.map((z) => [z.ZoneName, `${z.ZoneName} (${z.ZoneId})`])),
  };
}

/** An endpoint's state as the console words it ("Pending acceptance"), coloured by the API's state. */
const STATE_WORDS = {
  pendingAcceptance: "Pending acceptance", pending: "Pending", available: "Available", deleting: "Deleting",
  deleted: "Deleted", rejected: "Rejected", failed: "Failed", expired: "Expired", partial: "Partial",
};

export function endpointStateBadge(state) {
  const badge = stateBadge(state);
  badge.textContent = STATE_WORDS[state] || state || "–";
  return badge;
}

/**
 * The Notifications tab of a service (provider) or an endpoint (consumer): its connection
 * notifications, and "Create notification" (an SNS topic ARN and the events it hears of).
 * owner: {ServiceId} or {VpcEndpointId}, as CreateVpcEndpointConnectionNotification takes it.
 */
export async function notificationsTab(panel, owner) {
  const filter = owner.ServiceId ? {Name: "service-id", Values: [owner.ServiceId]}
    : {Name: "vpc-endpoint-id", Values: [owner.VpcEndpointId]};
  const items = await awsAll("ec2", "DescribeVpcEndpointConnectionNotifications", {Filters: [filter]},
    "ConnectionNotificationSet");
  const topic = field("SNS topic ARN", {placeholder: "arn:aws:sns:region:account:topic"});
  const events = ["Connect", "Accept", "Reject", "Delete"].map((e) => [e, field(e, {type: "checkbox", checked: true})]);
  const form = el("section", {class: "panel", "aria-label": "Create notification", hidden: true},
    el("h3", {}, "Create notification"), topic.row,
    el("fieldset", {class: "field"}, el("legend", {}, "Events"), ...events.map(([, f]) => f.row)),
    el("div", {class: "form-actions"}, button("Cancel", () => { form.hidden = true; }),
      button("Create notification", () => create(), {primary: true})));
  async function create() {
    const params = Object.assign({ConnectionNotificationArn: topic.input.value.trim(),
      ConnectionEvents: events.filter(([, f]) => f.input.checked).map(([e]) => e)}, owner);
    const out = await attempt(() => aws("ec2", "CreateVpcEndpointConnectionNotification", params));
    if (!out) { return; }
    showSuccess(`Successfully created notification ${out.ConnectionNotification.ConnectionNotificationId}.`);
    panel.replaceChildren();
    await notificationsTab(panel, owner);
  }
  panel.append(
    subheader("Notifications", items.length, button("Create notification", () => { form.hidden = false; topic.input.focus(); })),
    form,
    table("Notifications", [
      {title: "Notification ID", value: (n) => n.ConnectionNotificationId},
      {title: "SNS topic ARN", value: (n) => n.ConnectionNotificationArn},
      {title: "Events", value: (n) => (n.ConnectionEvents || []).join(", ")},
      {title: "Type", value: (n) => n.ConnectionNotificationType},
      {title: "State", value: (n) => stateBadge(n.ConnectionNotificationState)},
    ], items, {empty: "No notifications"}));
}
