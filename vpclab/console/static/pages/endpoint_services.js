// VPC > Endpoint services (the provider's side of PrivateLink): the list, Create endpoint
// service, a service's details with its Load balancers, Allow principals, Endpoint
// connections (accept / reject), Notifications and Tags, and Delete endpoint service.
"use strict";

import {
  actionsMenu, attempt, aws, awsAll, button, confirmDialog, details, el, field, go, goWithSuccess, header,
  link, liveView, nameTag, page, radioGroup, showError, showSuccess, stateBadge, subheader, table, tabs,
  tagEditor, tagsTable, when,
} from "../lib.js";
import {breadcrumb, endpointStateBadge, notificationsTab, titled, zoneLabels} from "./vpcs.js";

const LIST = "#/vpc/endpoint-services";

/** The load balancers of the account by ARN (names and zones for the service's pages). */
async function loadBalancersByArn() {
  const lbs = await awsAll("elbv2", "DescribeLoadBalancers", {}, "LoadBalancers", "Marker", "NextMarker");
  return Object.fromEntries(lbs.map((lb) => [lb.LoadBalancerArn, lb]));
}

function lbArns(svc) { return [...(svc.NetworkLoadBalancerArns || []), ...(svc.GatewayLoadBalancerArns || [])]; }

function lbType(svc) {
  return (svc.GatewayLoadBalancerArns || []).length ? "Gateway" : "Network";
}

async function describeService(id) {
  const out = await aws("ec2", "DescribeVpcEndpointServiceConfigurations", {ServiceIds: [id]});
  return out.ServiceConfigurations[0];
}

// ---- the list ---------------------------------------------------------------------------

page(LIST, async (root) => {
  const [services, lbs] = await Promise.all([
    awsAll("ec2", "DescribeVpcEndpointServiceConfigurations", {}, "ServiceConfigurations"),
    loadBalancersByArn(),
  ]);
  const columns = [
    {title: "Name", value: (s) => nameTag(s.Tags) || "–"},
    {title: "Service ID", value: (s) => link(`${LIST}/${s.ServiceId}`, s.ServiceId)},
    {title: "Service name", value: (s) => s.ServiceName},
    {title: "Service type", value: (s) => s.ServiceType.map((t) => t.ServiceType).join(", ")},
    {title: "State", value: (s) => stateBadge(s.ServiceState)},
    {title: "Load balancers", value: (s) => lbArns(s).map((a) => (lbs[a] ? lbs[a].LoadBalancerName : a)).join(", ")},
    {title: "Type", value: (s) => lbType(s)},
  ];
  root.append(
    header("Endpoint services", services.length,
      button("Create endpoint service", () => go(`${LIST}/create`), {primary: true})),
    table("Endpoint services", columns, services, {empty: "No endpoint services found"}));
});

// ---- Create endpoint service ----------------------------------------------------------------

page(`${LIST}/create`, async (root) => {
  const labels = await zoneLabels();
  const name = field("Name tag - optional", {hint: "Creates a tag with a key of 'Name' and a value that you specify."});
  const type = radioGroup("Load balancer type", [
    ["network", "Network", "Use a Network Load Balancer for your endpoint service."],
    ["gateway", "Gateway", "Use a Gateway Load Balancer for your endpoint service."],
  ], "network", () => attempt(listLoadBalancers));
  const lbHolder = el("div", {});
  const chosen = new Set();
  async function listLoadBalancers() {
    chosen.clear();
    const lbs = await awsAll("elbv2", "DescribeLoadBalancers", {}, "LoadBalancers", "Marker", "NextMarker");
    const mine = lbs.filter((lb) => lb.Type === type.value());
    const pick = (lb) => {
      const box = el("input", {type: "checkbox", "aria-label": lb.LoadBalancerName});
      box.addEventListener("change", () => { if (box.checked) { chosen.add(lb.LoadBalancerArn); } else { chosen.delete(lb.LoadBalancerArn); } });
      return box;
    };
    lbHolder.replaceChildren(
      el("h3", {}, `Available load balancers (${mine.length})`),
      table("Available load balancers", [
        {title: el("span", {class: "sr-only"}, "Select"), value: pick},
        {title: "Name", value: (lb) => lb.LoadBalancerName},
        {title: "State", value: (lb) => stateBadge(lb.State.Code)},
        {title: "Scheme", value: (lb) => lb.Scheme},
        {title: "Availability Zones", value: (lb) => lb.AvailabilityZones.map((z) => labels.byName[z.ZoneName] || z.ZoneName).join(", ")},
      ], mine, {empty: `No ${type.value() === "network" ? "Network" : "Gateway"} Load Balancers found`}));
  }
  await listLoadBalancers();

  const acceptance = field("Acceptance required", {type: "checkbox", checked: true});
  const privateDns = field("Associate a private DNS name with the service", {type: "checkbox"});
  const dnsName = field("Private DNS name", {placeholder: "example.com"});
  dnsName.row.hidden = true;
  privateDns.input.addEventListener("change", () => { dnsName.row.hidden = !privateDns.input.checked; });
  const ipv4 = field("IPv4", {type: "checkbox", checked: true});
  const ipv6 = field("IPv6", {type: "checkbox"});
  const tags = tagEditor();

  async function create() {
    const tagList = tags.tags();
    const nameValue = name.input.value.trim();
    if (nameValue && !tagList.some((t) => t.Key === "Name")) { tagList.unshift({Key: "Name", Value: nameValue}); }
    const types = [ipv4.input.checked && "ipv4", ipv6.input.checked && "ipv6"].filter(Boolean);
    const arns = [...chosen];
    const params = {AcceptanceRequired: acceptance.input.checked, SupportedIpAddressTypes: types};
    params[type.value() === "gateway" ? "GatewayLoadBalancerArns" : "NetworkLoadBalancerArns"] = arns;
    if (privateDns.input.checked && dnsName.input.value.trim()) { params.PrivateDnsName = dnsName.input.value.trim(); }
    if (tagList.length) { params.TagSpecifications = [{ResourceType: "vpc-endpoint-service", Tags: tagList}]; }
    const out = await attempt(() => aws("ec2", "CreateVpcEndpointServiceConfiguration", params));
    if (!out) { return; }
    const id = out.ServiceConfiguration.ServiceId;
    goWithSuccess(`${LIST}/${id}`, `Successfully created endpoint service ${id}.`);
  }

  root.append(
    breadcrumb("Endpoint services", LIST, "Create endpoint service"),
    header("Create endpoint service"),
    el("form", {class: "wizard", "aria-label": "Create endpoint service", onsubmit: (ev) => ev.preventDefault()},
      el("section", {"aria-label": "Endpoint service settings"}, el("h2", {}, "Endpoint service settings"), name.row),
      el("section", {"aria-label": "Load balancer type"}, el("h2", {}, "Available load balancers"), type.row, lbHolder),
      el("section", {"aria-label": "Additional settings"}, el("h2", {}, "Additional settings"),
        el("fieldset", {class: "field"}, el("legend", {}, "Require acceptance for endpoint"),
          el("p", {class: "hint"}, "Specify whether requests from service consumers to connect to your service through an endpoint must be accepted."),
          acceptance.row),
        el("fieldset", {class: "field"}, el("legend", {}, "Enable private DNS name"),
          el("p", {class: "hint"}, "This option allows users of endpoints to use the specified private DNS name to access the service from their VPCs."),
          privateDns.row, dnsName.row),
        el("fieldset", {class: "field"}, el("legend", {}, "Supported IP address types"), ipv4.row, ipv6.row)),
      tags.row,
      el("div", {class: "form-actions"}, button("Cancel", () => go(LIST)), button("Create", () => create(), {primary: true}))));
});

// ---- Allow principals ---------------------------------------------------------------------

page(`${LIST}/:id/allow-principals`, async (root, {id}) => {
  const svc = await describeService(id);
  const arns = el("div", {class: "checks"});
  let count = 0;
  function addArn() {
    count += 1;
    const f = field(count === 1 ? "ARN" : `ARN ${count}`, {placeholder: "arn:aws:iam::accountID:root"});
    arns.append(f.row);
  }
  addArn();
  async function allow() {
    const principals = [...arns.querySelectorAll("input")].map((i) => i.value.trim()).filter(Boolean);
    const out = await attempt(() => aws("ec2", "ModifyVpcEndpointServicePermissions",
      {ServiceId: id, AddAllowedPrincipals: principals}));
    if (!out) { return; }
    openTab = "Allow principals";
    goWithSuccess(`${LIST}/${id}`, `Successfully allowed ${principals.length} principal${principals.length === 1 ? "" : "s"}.`);
  }
  root.append(
    breadcrumb("Endpoint services", LIST, id),
    header("Allow principals"),
    details("Summary", [
      ["Endpoint service ID", svc.ServiceId], ["Endpoint service name tag", nameTag(svc.Tags) || "–"],
      ["Endpoint service name", svc.ServiceName],
    ]),
    el("section", {class: "panel", "aria-label": "Principals to add"}, el("h2", {}, "Principals to add"), arns,
      button("Add principal", () => addArn())),
    el("div", {class: "form-actions"}, button("Cancel", () => go(`${LIST}/${id}`)),
      button("Allow principals", () => allow(), {primary: true})));
});

// ---- a service's details ------------------------------------------------------------------

/** The tab to open when the details page is next shown (after Allow principals). */
let openTab = "";

function serviceDetails(svc, lbs, labels) {
  const dns = svc.PrivateDnsNameConfiguration || {};
  const arnList = (arns) => (arns && arns.length ? el("div", {}, ...arns.map((a) => el("div", {}, a))) : "–");
  return details("Details", [
    ["Service ID", svc.ServiceId],
    ["Types", svc.ServiceType.map((t) => t.ServiceType).join(", ")],
    ["Service name", svc.ServiceName],
    ["Network Load Balancers ARNs", arnList(svc.NetworkLoadBalancerArns)],
    ["Gateway Load Balancers ARNs", arnList(svc.GatewayLoadBalancerArns)],
    ["Availability Zones", el("div", {}, ...(svc.AvailabilityZones || []).map((z) => el("div", {}, labels.byName[z] || z)))],
    ["DNS names", el("div", {}, ...(svc.BaseEndpointDnsNames || []).map((d) => el("div", {}, d)))],
    ["Private DNS name", svc.PrivateDnsName || "–"],
    ["Domain verification status", dns.State || "–"],
    ["Domain verification type", dns.Type || "–"],
    ["Domain verification name", dns.Name || "–"],
    ["Domain verification value", dns.Value || "–"],
    ["State", stateBadge(svc.ServiceState)],
    ["Acceptance required", svc.AcceptanceRequired ? "Yes" : "No"],
    ["Supported IP address types", (svc.SupportedIpAddressTypes || []).map((t) => (t === "ipv4" ? "IPv4" : "IPv6")).join(", ")],
  ]);
}

page(`${LIST}/:id`, async (root, {id}) => {
  const [first, lbs, labels] = await Promise.all([describeService(id), loadBalancersByArn(), zoneLabels()]);
  let svc = first;
  const detailHolder = el("div", {});
  await liveView(detailHolder, async () => { svc = await describeService(id); return svc; },
    (s) => serviceDetails(s, lbs, labels));

  async function remove() {
    const ok = await confirmDialog("Delete endpoint service",
      `Are you sure you want to delete the endpoint service ${id}? Endpoints that connect to it can no longer reach it.`,
      "Delete", "delete");
    if (!ok) { return; }
    const out = await attempt(() => aws("ec2", "DeleteVpcEndpointServiceConfigurations", {ServiceIds: [id]}));
    if (!out) { return; }
    if (out.Unsuccessful && out.Unsuccessful.length) { showError(out.Unsuccessful[0].Error); return; }
    goWithSuccess(LIST, `Successfully deleted endpoint service ${id}.`);
  }
  async function verifyDomain() {
    const out = await attempt(() => aws("ec2", "StartVpcEndpointServicePrivateDnsVerification", {ServiceId: id}));
    if (out) { showSuccess(`Domain ownership verification started for ${svc.PrivateDnsName}.`); }
  }

  const view = tabs("Endpoint service", [
    {title: "Load balancers", render: async (panel) => { loadBalancersTab(panel, svc, lbs, labels); }},
    {title: "Allow principals", render: (panel) => principalsTab(panel, id)},
    {title: "Endpoint connections", render: (panel) => connectionsTab(panel, id)},
    {title: "Notifications", render: (panel) => notificationsTab(panel, {ServiceId: id})},
    {title: "Tags", render: async (panel) => { panel.append(tagsTable(svc.Tags)); }},
  ]);
  root.append(
    breadcrumb("Endpoint services", LIST, id),
    header(titled(id, svc.Tags), undefined, actionsMenu("Actions", [
      {label: "Verify domain ownership for private DNS name", onclick: verifyDomain, disabled: () => !svc.PrivateDnsName},
      {label: "Delete endpoint service", onclick: remove},
    ])),
    detailHolder, view);
  if (openTab) {
    const wanted = openTab;
    openTab = "";
    const tab = [...view.querySelectorAll('[role="tab"]')].find((t) => t.textContent === wanted);
    if (tab) { tab.click(); }
  }
});

function loadBalancersTab(panel, svc, lbs, labels) {
  // One row per zone, naming the service's load balancers there (as the console lists them).
  const rows = new Map();
  for (const arn of lbArns(svc)) {
    const lb = lbs[arn];
    for (const z of (lb ? lb.AvailabilityZones : [])) {
      if (!rows.has(z.ZoneName)) { rows.set(z.ZoneName, []); }
      rows.get(z.ZoneName).push(lb.LoadBalancerName);
    }
  }
  const items = [...rows.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  panel.append(subheader("Load balancers", items.length),
    table("Load balancers", [
      {title: "Availability Zone", value: ([z]) => labels.byName[z] || z},
      {title: "Load balancer names", value: ([, names]) => names.join(", ")},
    ], items, {empty: "No load balancers"}));
}

async function principalsTab(panel, id) {
  const principals = await awsAll("ec2", "DescribeVpcEndpointServicePermissions", {ServiceId: id}, "AllowedPrincipals");
  let picked = null;
  async function remove() {
    const ok = await confirmDialog("Delete allow principals",
      `Are you sure you want to delete ${picked.Principal} from the allow principals of ${id}?`, "Delete");
    if (!ok) { return; }
    const out = await attempt(() => aws("ec2", "ModifyVpcEndpointServicePermissions",
      {ServiceId: id, RemoveAllowedPrincipals: [picked.Principal]}));
    if (!out) { return; }
    showSuccess(`Successfully deleted ${picked.Principal}.`);
    panel.replaceChildren();
    await principalsTab(panel, id);
  }
  panel.append(
    subheader("Allow principals", principals.length,
      actionsMenu("Actions", [{label: "Delete", onclick: remove, disabled: () => !picked}]),
      button("Allow principals", () => go(`${LIST}/${id}/allow-principals`), {primary: true})),
    table("Allow principals", [
      {title: "ARN", value: (p) => p.Principal},
      {title: "Type", value: (p) => p.PrincipalType},
      {title: "Service permission ID", value: (p) => p.ServicePermissionId},
    ], principals, {onSelect: (p) => { picked = p; }, key: (p) => p.Principal,
      empty: "You do not have any allow principals in this Region."}));
}

async function connectionsTab(panel, id) {
  const query = {Filters: [{Name: "service-id", Values: [id]}]};
  let picked = "";
  const holder = el("div", {});
  const actions = actionsMenu("Actions", [
    {label: "Accept endpoint connection request", onclick: () => decide("accept"), disabled: () => !picked},
    {label: "Reject endpoint connection request", onclick: () => decide("reject"), disabled: () => !picked},
  ]);
  const render = (items) => {
    const t = table("Endpoint connections", [
      {title: "Endpoint ID", value: (c) => c.VpcEndpointId},
      {title: "Owner", value: (c) => c.VpcEndpointOwner},
      {title: "State", value: (c) => endpointStateBadge(c.VpcEndpointState)},
      {title: "Creation time", value: (c) => when(c.CreationTimestamp)},
      {title: "IP address type", value: (c) => c.IpAddressType || "–"},
      {title: "Connection ID", value: (c) => c.VpcEndpointConnectionId || "–"},
    ], items, {onSelect: (c) => { picked = c.VpcEndpointId; }, key: (c) => c.VpcEndpointId,
      empty: "No endpoint connections"});
    const radio = picked && [...t.querySelectorAll('input[type="radio"]')].find((r) => r.getAttribute("aria-label") === `Select ${picked}`);
    if (radio) { radio.checked = true; }
    // The same Actions node each time, so an open menu stays open while the list moves.
    return [subheader("Endpoint connections", items.length, actions), t];
  };
  const load = () => awsAll("ec2", "DescribeVpcEndpointConnections", query, "VpcEndpointConnections");
  async function decide(verb) {
    const Verb = verb === "accept" ? "Accept" : "Reject";
    const ok = await confirmDialog(`${Verb} endpoint connection request`,
      `Are you sure you want to ${verb} the endpoint connection request from ${picked}?`, Verb, verb);
    if (!ok) { return; }
    const out = await attempt(() => aws("ec2", `${Verb}VpcEndpointConnections`, {ServiceId: id, VpcEndpointIds: [picked]}));
    if (!out) { return; }
    if (out.Unsuccessful && out.Unsuccessful.length) { showError(out.Unsuccessful[0].Error); return; }
    showSuccess(`Successfully ${verb}ed the endpoint connection request from ${picked}.`);
  }
  panel.append(holder);
  await liveView(holder, load, render);
}
