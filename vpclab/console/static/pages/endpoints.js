// VPC > Endpoints (the consumer's side of PrivateLink): the list, Create endpoint (with
// Verify service, which asks DescribeVpcEndpointServices as the console does), an
// endpoint's details with its Subnets, Security Groups, Notifications and Tags, and Delete.
"use strict";

import {
  actionsMenu, attempt, aws, awsAll, button, confirmDialog, details, el, field, go, goWithSuccess, header,
  link, liveView, nameTag, page, radioGroup, selectField, showError, subheader, table, tabs, tagEditor,
  tagsTable, when,
} from "../lib.js";
import {breadcrumb, endpointStateBadge, notificationsTab, titled, zoneLabels} from "./vpcs.js";

const LIST = "#/vpc/endpoints";

async function describeEndpoint(id) {
  return (await aws("ec2", "DescribeVpcEndpoints", {VpcEndpointIds: [id]})).VpcEndpoints[0];
}

// ---- the list ---------------------------------------------------------------------------

const COLUMNS = [
  {title: "Name", value: (e) => nameTag(e.Tags) || "–"},
  {title: "VPC endpoint ID", value: (e) => link(`${LIST}/${e.VpcEndpointId}`, e.VpcEndpointId)},
  {title: "VPC ID", value: (e) => link(`#/vpc/vpcs/${e.VpcId}`, e.VpcId)},
  {title: "Service name", value: (e) => e.ServiceName},
  {title: "Endpoint type", value: (e) => e.VpcEndpointType},
  {title: "Status", value: (e) => endpointStateBadge(e.State)},
  {title: "Creation time", value: (e) => when(e.CreationTimestamp)},
];

page(LIST, async (root) => {
  const holder = el("div", {});
  root.append(holder);
  await liveView(holder, () => awsAll("ec2", "DescribeVpcEndpoints", {}, "VpcEndpoints"), (items) => [
    header("Endpoints", items.length, button("Create endpoint", () => go(`${LIST}/create`), {primary: true})),
    table("Endpoints", COLUMNS, items, {empty: "No endpoints found"})]);
});

// ---- Create endpoint ----------------------------------------------------------------------

const NLB_SERVICES = "nlb";

page(`${LIST}/create`, async (root) => {
  const labels = await zoneLabels();
  const vpcs = await awsAll("ec2", "DescribeVpcs", {}, "Vpcs");
  const name = field("Name tag - optional", {hint: "Creates a tag with a key of 'Name' and a value that you specify."});
  const category = radioGroup("Service category", [
    ["aws", "AWS services", "Services provided by Amazon"],
    ["partner", "PrivateLink Ready partner services", "Services with an AWS Service Ready designation"],
    [NLB_SERVICES, "Endpoint services that use NLBs and GWLBs", "Find services shared with you by service name"],
  ], "aws", () => attempt(async () => { service = null; verdict.textContent = ""; await drawService(); await drawSubnets(); drawDns(); }));

  // Service settings: what the category offers.
  const serviceSection = el("section", {"aria-label": "Service settings"});
  const serviceName = field("Service name", {placeholder: "com.amazonaws.vpce.region.vpce-svc-…",
    hint: "Enter the name of the service shared with you."});
  const verdict = el("p", {role: "status"});
  let service = null; // the verified service's details (DescribeVpcEndpointServices)
  async function verify() {
    service = null;
    verdict.className = "";
    verdict.textContent = "";
    try {
      const out = await aws("ec2", "DescribeVpcEndpointServices", {ServiceNames: [serviceName.input.value.trim()]});
      service = out.ServiceDetails[0] || null;
    } catch (err) {
      service = null;
    }
    verdict.className = service ? "verified" : "not-verified";
    verdict.textContent = service ? "Service name verified." : "Service name could not be verified.";
    await drawSubnets();
    drawDns();
  }
  serviceName.input.addEventListener("input", () => {
    if (service) { service = null; verdict.textContent = ""; verdict.className = ""; drawSubnets(); drawDns(); }
  });
  async function drawService() {
    const which = category.value();
    if (which === NLB_SERVICES) {
      serviceSection.replaceChildren(el("h2", {}, "Service settings"),
        el("div", {class: "verify"}, serviceName.row, button("Verify service", () => verify())), verdict);
      return;
    }
    // AWS's own services (owner amazon): Interface entries are picked here, as on AWS's
    // console; a Gateway endpoint (S3, DynamoDB) needs route tables: the API makes it.
    const owned = which === "aws"
      ? (await awsAll("ec2", "DescribeVpcEndpointServices", {Filters: [{Name: "owner", Values: ["amazon"]},
        {Name: "service-type", Values: ["Interface"]}]}, "ServiceDetails"))
      : [];
    serviceSection.replaceChildren(el("h2", {}, `Services (${owned.length})`),
      owned.length ? table("Services", [
        {title: "Service Name", value: (s) => s.ServiceName},
        {title: "Owner", value: (s) => s.Owner},
        {title: "Type", value: (s) => s.ServiceType.map((t) => t.ServiceType).join(", ")},
      ], owned, {key: (s) => s.ServiceName, onSelect: (s) => attempt(async () => {
        service = s; await drawSubnets(); drawDns(); })})
        : el("p", {class: "hint"}, which === "aws" ? "No AWS services are offered in this Region."
          : "PrivateLink Ready partner services are not available in vpclab."));
  }


  // Network settings.
  const vpc = selectField("VPC", [["", "Select a VPC"], ...vpcs.map((v) => [v.VpcId,
    nameTag(v.Tags) ? `${v.VpcId} (${nameTag(v.Tags)})` : v.IsDefault ? `${v.VpcId} (default)` : v.VpcId])],
  {hint: "Select the VPC in which to create the endpoint."});
  const subnetHolder = el("div", {});
  const groupHolder = el("div", {});
  const dnsHolder = el("div", {});
  const zonePicks = []; // {zone, box, select}
  const groupPicks = []; // {group, box}
  async function drawSubnets() {
    zonePicks.length = 0;
    const vpcId = vpc.input.value;
    if (!vpcId || !service) {
      subnetHolder.replaceChildren(el("h3", {}, "Subnets"),
        el("p", {class: "hint"}, "Verify the service name and select a VPC to choose subnets."));
      return;
    }
    const subnets = await awsAll("ec2", "DescribeSubnets", {Filters: [{Name: "vpc-id", Values: [vpcId]}]}, "Subnets");
    const offered = new Set(service.AvailabilityZoneIds || []);
    const rows = labels.zones.flatMap((z) => {
      const here = subnets.filter((s) => s.AvailabilityZone === z.ZoneName);
      const usable = offered.has(z.ZoneId) && here.length > 0;
      const box = field(`${z.ZoneName} (${z.ZoneId})`, {type: "checkbox"});
      const select = selectField(`Subnet for ${z.ZoneName}`, here.map((s) => [s.SubnetId,
        nameTag(s.Tags) ? `${s.SubnetId} (${nameTag(s.Tags)})` : s.SubnetId]));
      box.input.disabled = !usable;
      select.input.disabled = !usable;
      if (usable) {
        zonePicks.push({zone: z, box: box.input, select: select.input});
        box.input.addEventListener("change", () => { count.textContent = countText(); });
      }
      const note = usable ? null : el("p", {class: "hint"},
        offered.has(z.ZoneId) ? "No subnet of this VPC is in this zone." : "The service is not available in this Availability Zone.");
      return [box.row, el("div", {}, select.row, note)];
    });
    const countText = () => `Subnets (${zonePicks.filter((p) => p.box.checked).length}/${zonePicks.length})`;
    const count = el("h3", {}, countText());
    subnetHolder.replaceChildren(count,
      el("p", {class: "hint"}, "Select one subnet in each Availability Zone the service is in."),
      el("div", {class: "zones"}, ...rows));
  }
  async function drawGroups() {
    groupPicks.length = 0;
    const vpcId = vpc.input.value;
    if (!vpcId) { groupHolder.replaceChildren(); return; }
    const groups = await awsAll("ec2", "DescribeSecurityGroups", {Filters: [{Name: "vpc-id", Values: [vpcId]}]}, "SecurityGroups");
    const boxes = groups.map((g) => {
      const box = field(`${g.GroupName} (${g.GroupId})`, {type: "checkbox"});
      groupPicks.push({group: g, box: box.input});
      return box.row;
    });
    groupHolder.replaceChildren(el("h3", {}, `Security groups (${groups.length})`),
      el("p", {class: "hint"}, "Without one, the endpoint gets the VPC's default security group."),
      el("div", {class: "checks"}, ...boxes));
  }
  let enableDns = null;
  function drawDns() {
    enableDns = null;
    if (!service || !service.PrivateDnsName) {
      dnsHolder.replaceChildren();
      return;
    }
    const verified = service.PrivateDnsNameVerificationState === "verified";
    enableDns = field("Enable DNS name", {type: "checkbox", checked: verified,
      hint: verified ? `Resolve ${service.PrivateDnsName} to the endpoint's addresses inside the VPC.`
        : `The service's private DNS name ${service.PrivateDnsName} is not verified yet.`});
    dnsHolder.replaceChildren(el("h3", {}, "Additional settings"), enableDns.row);
  }
  vpc.input.addEventListener("change", () => attempt(async () => { await drawSubnets(); await drawGroups(); }));
  const defaultVpc = vpcs.find((v) => v.IsDefault);
  if (defaultVpc) { vpc.input.value = defaultVpc.VpcId; }
  await drawService();
  await drawSubnets();
  await drawGroups();
  const tags = tagEditor();

  async function create() {
    const which = category.value();
    if (which === "partner" || (which === "aws" && !service)) {
      showError({Code: "InvalidServiceName", Message: which === "aws" ? "Select a service."
        : "PrivateLink Ready partner services are not available in vpclab."});
      return;
    }
    const tagList = tags.tags();
    const nameValue = name.input.value.trim();
    if (nameValue && !tagList.some((t) => t.Key === "Name")) { tagList.unshift({Key: "Name", Value: nameValue}); }
    const params = {
      VpcEndpointType: "Interface",
      VpcId: vpc.input.value,
      ServiceName: which === "aws" ? service.ServiceName : serviceName.input.value.trim(),
      SubnetIds: zonePicks.filter((p) => p.box.checked).map((p) => p.select.value),
    };
    const groups = groupPicks.filter((p) => p.box.checked).map((p) => p.group.GroupId);
    if (groups.length) { params.SecurityGroupIds = groups; }
    if (enableDns) { params.PrivateDnsEnabled = enableDns.input.checked; }
    if (tagList.length) { params.TagSpecifications = [{ResourceType: "vpc-endpoint", Tags: tagList}]; }
    const out = await attempt(() => aws("ec2", "CreateVpcEndpoint", params));
    if (!out) { return; }
    const id = out.VpcEndpoint.VpcEndpointId;
    goWithSuccess(`${LIST}/${id}`, `Successfully created VPC endpoint ${id}.`);
  }

  root.append(
    breadcrumb("Endpoints", LIST, "Create endpoint"),
    header("Create endpoint"),
    el("form", {class: "wizard", "aria-label": "Create endpoint", onsubmit: (ev) => ev.preventDefault()},
      el("section", {"aria-label": "Endpoint settings"}, el("h2", {}, "Endpoint settings"), name.row, category.row),
      serviceSection,
      el("section", {"aria-label": "Network settings"}, el("h2", {}, "Network settings"), vpc.row, subnetHolder, groupHolder, dnsHolder),
      tags.row,
      el("div", {class: "form-actions"}, button("Cancel", () => go(LIST)), button("Create endpoint", () => create(), {primary: true}))));
});

// ---- an endpoint's details ------------------------------------------------------------------

function endpointDetails(ep) {
  const dnsNames = el("ul", {class: "dns-names", "aria-label": "DNS names"},
    ...(ep.DnsEntries || []).map((d) => el("li", {}, d.DnsName)));
  return details("Details", [
    ["Endpoint ID", ep.VpcEndpointId],
    ["Status", endpointStateBadge(ep.State)],
    ["Creation time", when(ep.CreationTimestamp)],
    ["Endpoint type", ep.VpcEndpointType],
    ["VPC ID", link(`#/vpc/vpcs/${ep.VpcId}`, ep.VpcId)],
    ["Status message", ep.LastError ? ep.LastError.Message : "–"],
    ["Service name", ep.ServiceName],
    ["Private DNS names enabled", ep.PrivateDnsEnabled ? "Yes" : "No"],
    ["DNS record IP type", (ep.DnsOptions && ep.DnsOptions.DnsRecordIpType) || "–"],
    ["IP address type", ep.IpAddressType || "–"],
    ["DNS names", dnsNames],
  ]);
}

page(`${LIST}/:id`, async (root, {id}) => {
  let ep = await describeEndpoint(id);
  const detailHolder = el("div", {});
  await liveView(detailHolder, async () => { ep = await describeEndpoint(id); return ep; }, endpointDetails);
  async function remove() {
    const ok = await confirmDialog("Delete VPC endpoint",
      `Are you sure you want to delete the VPC endpoint ${id}?`, "Delete", "delete");
    if (!ok) { return; }
    const out = await attempt(() => aws("ec2", "DeleteVpcEndpoints", {VpcEndpointIds: [id]}));
    if (!out) { return; }
    if (out.Unsuccessful && out.Unsuccessful.length) { showError(out.Unsuccessful[0].Error); return; }
    goWithSuccess(LIST, `Successfully deleted VPC endpoint ${id}.`);
  }
  root.append(
    breadcrumb("Endpoints", LIST, id),
    header(titled(id, ep.Tags), undefined, actionsMenu("Actions", [{label: "Delete VPC endpoint", onclick: remove}])),
    detailHolder,
    tabs("Endpoint", [
      {title: "Subnets", render: async (panel) => {
        const enis = ep.NetworkInterfaceIds && ep.NetworkInterfaceIds.length
          ? (await aws("ec2", "DescribeNetworkInterfaces", {NetworkInterfaceIds: ep.NetworkInterfaceIds})).NetworkInterfaces : [];
        enis.sort((a, b) => a.AvailabilityZone.localeCompare(b.AvailabilityZone));
        const labels = await zoneLabels();
        panel.append(subheader("Subnets", enis.length), table("Subnets", [
          {title: "Subnet ID", value: (n) => link(`#/vpc/subnets/${n.SubnetId}`, n.SubnetId)},
          {title: "Availability Zone", value: (n) => labels.byName[n.AvailabilityZone] || n.AvailabilityZone},
          {title: "Network interface ID", value: (n) => n.NetworkInterfaceId},
          {title: "IPv4 address", value: (n) => n.PrivateIpAddress},
        ], enis, {empty: "No subnets"}));
      }},
      {title: "Security Groups", render: async (panel) => {
        panel.append(subheader("Security Groups", (ep.Groups || []).length), table("Security Groups", [
          {title: "Group ID", value: (g) => g.GroupId},
          {title: "Group name", value: (g) => g.GroupName || "–"},
        ], ep.Groups || [], {empty: "No security groups"}));
      }},
      {title: "Notifications", render: (panel) => notificationsTab(panel, {VpcEndpointId: id})},
      {title: "Tags", render: async (panel) => { panel.append(tagsTable(ep.Tags)); }},
    ]));
});
