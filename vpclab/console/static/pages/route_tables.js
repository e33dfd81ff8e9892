// VPC > Route tables: the list, Create route table, a table's details (Routes, Subnet
// associations, Tags), Edit routes, Edit subnet associations and Delete route table —
// as DescribeRouteTables and its actions have them. A route's Status is the API's State.
"use strict";

import {
  actionsMenu, attempt, aws, awsAll, button, confirmDialog, details, el, field, go, goWithSuccess, header, link,
  nameTag, page, selectField, showSuccess, stateBadge, subheader, table, tabs, tagEditor, tagsTable,
} from "../lib.js";
import {breadcrumb, titled} from "./vpcs.js";

const LIST = "#/vpc/route-tables";

const yesNo = (v) => (v ? "Yes" : "No");

async function describeTables(params) {
  return awsAll("ec2", "DescribeRouteTables", params || {}, "RouteTables");
}

async function findTable(id) {
  return (await describeTables({RouteTableIds: [id]}))[0];
}

function isMain(t) { return (t.Associations || []).some((a) => a.Main); }

function explicitSubnets(t) {
  return (t.Associations || []).filter((a) => a.SubnetId && !a.Main);
}

function edgeAssociations(t) { return (t.Associations || []).filter((a) => a.GatewayId); }

/** "subnet-1, subnet-2", "–" without any (the list's "Explicit subnet associations"). */
function subnetList(t) {
  const ids = explicitSubnets(t).map((a) => a.SubnetId);
  return ids.length ? ids.join(", ") : "–";
}

/** A route's target as the console shows it (the one target the route has). */
function routeTarget(r) {
  return r.GatewayId || r.NatGatewayId || r.NetworkInterfaceId || r.InstanceId || r.VpcPeeringConnectionId
    || r.TransitGatewayId || r.LocalGatewayId || r.CarrierGatewayId || r.EgressOnlyInternetGatewayId || "–";
}

function routeDestination(r) {
  return r.DestinationCidrBlock || r.DestinationIpv6CidrBlock || r.DestinationPrefixListId || "–";
}

/** The API's route state (active | blackhole) in the console's words. */
function routeStatus(r) {
  const badge = stateBadge(r.State === "active" ? "active" : r.State === "blackhole" ? "failed" : r.State);
  badge.textContent = {active: "Active", blackhole: "Blackhole"}[r.State] || r.State || "–";
  return badge;
}

const COLUMNS = [
  {title: "Name", value: (t) => nameTag(t.Tags) || "–"},
  {title: "Route table ID", value: (t) => link(`${LIST}/${t.RouteTableId}`, t.RouteTableId)},
  {title: "Explicit subnet associations", value: subnetList},
  {title: "Edge associations", value: (t) => edgeAssociations(t).map((a) => a.GatewayId).join(", ") || "–"},
  {title: "Main", value: (t) => yesNo(isMain(t))},
  {title: "VPC", value: (t) => link(`#/vpc/vpcs/${t.VpcId}`, `${t.VpcId}`)},
  {title: "Owner ID", value: (t) => t.OwnerId || "–"},
];

/** Delete route table, confirmed by typing "delete"; true once done. */
async function remove(t) {
  const ok = await confirmDialog("Delete route table",
    `Are you sure you want to delete the route table ${titled(t.RouteTableId, t.Tags)}?`, "Delete", "delete");
  if (!ok) { return false; }
  const out = await attempt(() => aws("ec2", "DeleteRouteTable", {RouteTableId: t.RouteTableId}));
  return Boolean(out);
}

function tableActions(current, after) {
  return actionsMenu("Actions", [
    {label: "View details", disabled: () => !current(), onclick: () => go(`${LIST}/${current().RouteTableId}`)},
    {label: "Edit subnet associations", disabled: () => !current(),
      onclick: () => go(`${LIST}/${current().RouteTableId}/subnet-associations`)},
    {label: "Edit routes", disabled: () => !current(), onclick: () => go(`${LIST}/${current().RouteTableId}/routes`)},
    {label: "Delete route table", disabled: () => !current(), onclick: async () => {
      const t = current();
      if (await remove(t)) { await after(t); }
    }},
  ]);
}

function deletedFlash(t) { return `Route table ${t.RouteTableId} was deleted successfully.`; }

// ---- the list ---------------------------------------------------------------------------------

page(LIST, async (root) => {
  let items = await describeTables();
  let chosen;
  const current = () => items.find((t) => t.RouteTableId === chosen);
  const head = el("div");
  const body = el("div");
  const menu = tableActions(current, async (gone) => {
    items = await describeTables();
    render();
    showSuccess(deletedFlash(gone));
  });
  const create = button("Create route table", () => go(`${LIST}/create`), {primary: true});
  function render() {
    head.replaceChildren(header("Route tables", items.length, menu, create));
    const t = table("Route tables", COLUMNS, items, {
      key: (x) => x.RouteTableId, onSelect: (x) => { chosen = x.RouteTableId; }, empty: "No route tables found",
    });
    const radio = current() && t.querySelector(`input[type="radio"][aria-label="Select ${CSS.escape(chosen)}"]`);
    if (radio) { radio.checked = true; } else { chosen = undefined; }
    body.replaceChildren(t);
  }
  render();
  root.append(head, body);
});

// ---- Create route table -----------------------------------------------------------------------

page(`${LIST}/create`, async (root) => {
  const vpcs = await awsAll("ec2", "DescribeVpcs", {}, "Vpcs");
  const name = field("Name - optional", {hint: "Create a tag with a key of 'Name' and a value that you specify.",
    placeholder: "my-route-table-01"});
  const vpc = selectField("VPC", vpcs.map((v) => [v.VpcId, `${v.VpcId}${nameTag(v.Tags) ? ` (${nameTag(v.Tags)})` : ""}`]),
    {hint: "The VPC to use for this route table."});
  const tags = tagEditor();
  async function create() {
    const list = tags.tags();
    const n = name.input.value.trim();
    if (n && !list.some((t) => t.Key === "Name")) { list.unshift({Key: "Name", Value: n}); }
    const params = {VpcId: vpc.input.value};
    if (list.length) { params.TagSpecifications = [{ResourceType: "route-table", Tags: list}]; }
    const out = await attempt(() => aws("ec2", "CreateRouteTable", params));
    if (!out) { return; }
    const id = out.RouteTable.RouteTableId;
    goWithSuccess(`${LIST}/${id}`, `Route table ${titled(id, out.RouteTable.Tags).replace(" / ", " | ")} was created successfully.`);
  }
  root.append(
    breadcrumb("Route tables", LIST, "Create route table"),
    header("Create route table", null),
    el("p", {class: "hint"}, "A route table specifies how packets are forwarded between the subnets within your VPC, "
      + "the internet, and your VPN connection."),
    el("section", {class: "panel", "aria-label": "Route table settings"},
      el("h2", {}, "Route table settings"), name.row, vpc.row),
    tags.row,
    el("div", {class: "wizard-actions"}, button("Cancel", () => go(LIST)),
      button("Create route table", create, {primary: true})));
});

// ---- a route table's details ------------------------------------------------------------------

function routesTable(routes) {
  return table("Routes", [
    {title: "Destination", value: routeDestination},
    {title: "Target", value: (r) => {
      const target = routeTarget(r);
      return target.startsWith("igw-") ? link(`#/vpc/internet-gateways/${target}`, target) : target;
    }},
    {title: "Status", value: routeStatus},
    {title: "Propagated", value: (r) => (r.Origin === "EnableVgwRoutePropagation" ? "Yes" : "No")},
  ], routes, {empty: "No routes"});
}

async function subnetAssociationsTab(panel, t) {
  const subnets = await awsAll("ec2", "DescribeSubnets", {Filters: [{Name: "vpc-id", Values: [t.VpcId]}]}, "Subnets");
  const explicit = new Set(explicitSubnets(t).map((a) => a.SubnetId));
  // Subnets of the VPC with an explicit association to any table (the rest use the main one).
  const all = await describeTables({Filters: [{Name: "vpc-id", Values: [t.VpcId]}]});
  const associatedAnywhere = new Set(all.flatMap(explicitSubnets).map((a) => a.SubnetId));
  const columns = [
    {title: "Name", value: (s) => nameTag(s.Tags) || "–"},
    {title: "Subnet ID", value: (s) => link(`#/vpc/subnets/${s.SubnetId}`, s.SubnetId)},
    {title: "IPv4 CIDR", value: (s) => s.CidrBlock},
    {title: "IPv6 CIDR", value: (s) => ((s.Ipv6CidrBlockAssociationSet || [])[0] || {}).Ipv6CidrBlock || "–"},
  ];
  const mine = subnets.filter((s) => explicit.has(s.SubnetId));
  const without = subnets.filter((s) => !associatedAnywhere.has(s.SubnetId));
  panel.append(
    subheader("Explicit subnet associations", mine.length,
      button("Edit subnet associations", () => go(`${LIST}/${t.RouteTableId}/subnet-associations`))),
    table("Explicit subnet associations", columns, mine, {empty: "No subnet associations"}),
    subheader("Subnets without explicit associations", without.length),
    el("p", {class: "hint"}, "The following subnets have not been explicitly associated with any route tables "
      + "and are therefore associated with the main route table."),
    table("Subnets without explicit associations", columns, without, {empty: "No subnets"}));
}

page(`${LIST}/:id`, async (root, {id}) => {
  const t = await findTable(id);
  if (!t) { throw {Code: "InvalidRouteTableID.NotFound", Message: `The routeTable ID '${id}' does not exist`}; }
  const menu = tableActions(() => t, async (gone) => { goWithSuccess(LIST, deletedFlash(gone)); });
  root.append(
    breadcrumb("Route tables", LIST, id),
    header(titled(id, t.Tags), null, menu),
    details("Details", [
      ["Route table ID", t.RouteTableId],
      ["Main", yesNo(isMain(t))],
      ["Explicit subnet associations", subnetList(t)],
      ["Edge associations", edgeAssociations(t).map((a) => a.GatewayId).join(", ") || "–"],
      ["VPC", link(`#/vpc/vpcs/${t.VpcId}`, t.VpcId)],
      ["Owner ID", t.OwnerId || "–"],
    ]),
    tabs("Route table", [
      {title: "Routes", render: async (panel) => {
        panel.append(subheader("Routes", (t.Routes || []).length,
          button("Edit routes", () => go(`${LIST}/${id}/routes`))), routesTable(t.Routes || []));
      }},
      {title: "Subnet associations", render: (panel) => subnetAssociationsTab(panel, t)},
      {title: "Tags", render: async (panel) => { panel.append(tagsTable(t.Tags)); }},
    ]));
});

// ---- Edit routes --------------------------------------------------------------------------------

/** The targets a route of `vpcId` may have, by the console's target types: [[type, label, [[id, text]]]]. */
async function targetChoices(vpcId) {
  const vpcFilter = [{Name: "vpc-id", Values: [vpcId]}];
  const [gateways, enis, reservations] = await Promise.all([
    awsAll("ec2", "DescribeInternetGateways", {}, "InternetGateways"),
    awsAll("ec2", "DescribeNetworkInterfaces", {Filters: vpcFilter}, "NetworkInterfaces"),
    awsAll("ec2", "DescribeInstances", {Filters: vpcFilter}, "Reservations"),
  ]);
  const named = (id, tags) => (nameTag(tags) ? `${id} (${nameTag(tags)})` : id);
  return [
    ["igw", "Internet Gateway", gateways.map((g) => [g.InternetGatewayId, named(g.InternetGatewayId, g.Tags)])],
    ["eni", "Network Interface", enis.map((n) => [n.NetworkInterfaceId, named(n.NetworkInterfaceId, n.TagSet)])],
    ["instance", "Instance", reservations.flatMap((r) => r.Instances).map((i) => [i.InstanceId, named(i.InstanceId, i.Tags)])],
  ];
}

/** The route parameter a target id goes in (CreateRoute / ReplaceRoute take one of them). */
function targetParam(target) {
  if (target.startsWith("eni-")) { return "NetworkInterfaceId"; }
  if (target.startsWith("i-")) { return "InstanceId"; }
  return "GatewayId";
}

function typeOf(target) {
  if (target.startsWith("eni-")) { return "eni"; }
  if (target.startsWith("i-")) { return "instance"; }
  return "igw";
}

page(`${LIST}/:id/routes`, async (root, {id}) => {
  const t = await findTable(id);
  const choices = await targetChoices(t.VpcId);
  const rows = el("div", {class: "route-rows"});
  const before = new Map();  // destination -> target, of the editable routes as they were
  const renumber = () => [...rows.children].forEach((g, i) => g.setAttribute("aria-label", `Route ${i + 1}`));

  function addRow(route) {
    const group = el("div", {role: "group", class: "route-row"});
    if (route && routeTarget(route) === "local") {
      // The local route stays: the console shows it, greyed, and cannot remove it.
      group.append(el("div", {class: "field"}, el("span", {class: "label"}, "Destination"), routeDestination(route)),
        el("div", {class: "field"}, el("span", {class: "label"}, "Target"), "local"),
        el("div", {class: "field"}, el("span", {class: "label"}, "Status"), routeStatus(route)));
      group._route = () => null;
      rows.append(group);
      renumber();
      return;
    }
    const destination = field("Destination", {placeholder: "0.0.0.0/0", value: route ? routeDestination(route) : ""});
    const type = selectField("Target", choices.map(([v, label]) => [v, label]));
    const target = selectField("Target ID", []);
    const fill = () => {
      const [, , ids] = choices.find(([v]) => v === type.input.value);
      target.input.replaceChildren(el("option", {value: ""}, "Select a target"),
        ...ids.map(([v, text]) => el("option", {value: v}, text)));
    };
    type.input.addEventListener("change", fill);
    const was = route ? routeTarget(route) : "";
    if (was) { type.input.value = typeOf(was); }
    fill();
    if (was) {
      if (![...target.input.options].some((o) => o.value === was)) { target.input.append(el("option", {value: was}, was)); }
      target.input.value = was;
    }
    group.append(destination.row, type.row, target.row,
      route ? el("div", {class: "field"}, el("span", {class: "label"}, "Status"), routeStatus(route)) : null,
      button("Remove", () => { group.remove(); renumber(); }));
    group._route = () => ({destination: destination.input.value.trim(), target: target.input.value});
    rows.append(group);
    renumber();
    if (!route) { destination.input.focus(); }
  }

  for (const r of t.Routes || []) {
    if (routeTarget(r) !== "local" && r.DestinationCidrBlock) { before.set(r.DestinationCidrBlock, routeTarget(r)); }
    addRow(r);
  }

  /** The console's calls: DeleteRoute for routes gone, ReplaceRoute for a new target, CreateRoute for new ones. */
  async function save() {
    const wanted = [...rows.children].map((g) => g._route()).filter(Boolean);
    const after = new Map(wanted.filter((w) => w.destination).map((w) => [w.destination, w.target]));
    for (const [dest] of before) {
      if (!after.has(dest)) { await aws("ec2", "DeleteRoute", {RouteTableId: id, DestinationCidrBlock: dest}); }
    }
    for (const w of wanted) {
      const params = {RouteTableId: id, DestinationCidrBlock: w.destination};
      if (w.target) { params[targetParam(w.target)] = w.target; }
      if (!before.has(w.destination)) {
        await aws("ec2", "CreateRoute", params);
      } else if (before.get(w.destination) !== w.target) {
        await aws("ec2", "ReplaceRoute", params);
      }
    }
    goWithSuccess(`${LIST}/${id}`, `Updated routes for ${id} successfully`);
  }

  root.append(
    breadcrumb("Route tables", LIST, id),
    header("Edit routes", null),
    el("section", {class: "panel", "aria-label": "Routes"}, rows, button("Add route", () => addRow(null))),
    el("div", {class: "wizard-actions"}, button("Cancel", () => go(`${LIST}/${id}`)),
      button("Save changes", () => attempt(save), {primary: true})));
});

// ---- Edit subnet associations ------------------------------------------------------------------

page(`${LIST}/:id/subnet-associations`, async (root, {id}) => {
  const t = await findTable(id);
  const [subnets, all] = await Promise.all([
    awsAll("ec2", "DescribeSubnets", {Filters: [{Name: "vpc-id", Values: [t.VpcId]}]}, "Subnets"),
    describeTables({Filters: [{Name: "vpc-id", Values: [t.VpcId]}]}),
  ]);
  // Which table each subnet is explicitly associated with now (the "Route table ID" column).
  const tableOf = new Map();
  for (const other of all) {
    for (const a of explicitSubnets(other)) { tableOf.set(a.SubnetId, {table: other.RouteTableId, association: a.RouteTableAssociationId}); }
  }
  const chosen = new Set(explicitSubnets(t).map((a) => a.SubnetId));
  const count = el("span");
  const selectedList = el("ul", {class: "plain", "aria-label": "Selected subnets"});
  const refresh = () => {
    count.textContent = `Available subnets (${chosen.size}/${subnets.length})`;
    selectedList.replaceChildren(...[...chosen].map((s) => el("li", {}, s)));
  };
  const pick = (s) => {
    const box = el("input", {type: "checkbox", "aria-label": s.SubnetId});
    box.checked = chosen.has(s.SubnetId);
    box.addEventListener("change", () => { if (box.checked) { chosen.add(s.SubnetId); } else { chosen.delete(s.SubnetId); } refresh(); });
    return box;
  };
  const mainId = (all.find(isMain) || {}).RouteTableId || "";
  const columns = [
    {title: el("span", {class: "sr-only"}, "Select"), value: pick},
    {title: "Name", value: (s) => nameTag(s.Tags) || "–"},
    {title: "Subnet ID", value: (s) => s.SubnetId},
    {title: "IPv4 CIDR", value: (s) => s.CidrBlock},
    {title: "Route table ID", value: (s) => (tableOf.get(s.SubnetId) || {table: `Main (${mainId})`}).table},
  ];
  refresh();

  /** AssociateRouteTable for subnets added, DisassociateRouteTable for subnets taken off. */
  async function save() {
    for (const s of subnets) {
      const now = tableOf.get(s.SubnetId);
      const mineNow = now && now.table === id;
      if (chosen.has(s.SubnetId) && !mineNow) {
        if (now) {
          await aws("ec2", "ReplaceRouteTableAssociation", {AssociationId: now.association, RouteTableId: id});
        } else {
          await aws("ec2", "AssociateRouteTable", {RouteTableId: id, SubnetId: s.SubnetId});
        }
      } else if (!chosen.has(s.SubnetId) && mineNow) {
        await aws("ec2", "DisassociateRouteTable", {AssociationId: now.association});
      }
    }
    goWithSuccess(`${LIST}/${id}`, `You have successfully updated subnet associations for ${id}.`);
  }

  root.append(
    breadcrumb("Route tables", LIST, id),
    header("Edit subnet associations", null),
    el("p", {class: "hint"}, "Change which subnets are associated with this route table."),
    el("section", {class: "panel", "aria-label": "Available subnets"}, el("h2", {}, count),
      table("Available subnets", columns, subnets, {empty: "No subnets found"})),
    el("section", {class: "panel", "aria-label": "Selected subnets"}, el("h2", {}, "Selected subnets"), selectedList),
    el("div", {class: "wizard-actions"}, button("Cancel", () => go(`${LIST}/${id}`)),
      button("Save associations", () => attempt(save), {primary: true})));
});
