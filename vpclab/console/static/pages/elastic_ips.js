// EC2 > Network & Security > Elastic IPs: the list, Allocate Elastic IP address, an
// address's details, Associate Elastic IP address (an instance or a network interface),
// Disassociate and Release, as DescribeAddresses and its actions have them.
"use strict";

import {
  actionsMenu, attempt, aws, awsAll, button, confirmDialog, details, el, field, go, goWithSuccess, header, link,
  nameTag, page, publicAddress, radioGroup, selectField, showSuccess, table, tabs, tagEditor, tagsTable,
} from "../lib.js";

const LIST = "#/ec2/elastic-ips";

async function describeAddresses(params) {
  return (await aws("ec2", "DescribeAddresses", params || {})).Addresses;
}

/** The list's columns (the owner account and border group are on the address's page). */
const COLUMNS = [
  {title: "Name", value: (a) => nameTag(a.Tags) || "–"},
  {title: "Allocated IPv4 address", value: (a) => link(`${LIST}/${a.AllocationId}`, a.PublicIp)},
  {title: "Type", value: () => "Public IP"},
  {title: "Allocation ID", value: (a) => a.AllocationId},
  {title: "Associated instance ID", value: (a) => (a.InstanceId ? link(`#/ec2/instances/${a.InstanceId}`, a.InstanceId) : "–")},
  {title: "Private IP address", value: (a) => a.PrivateIpAddress || "–"},
  {title: "Association ID", value: (a) => a.AssociationId || "–"},
  {title: "Network interface ID", value: (a) => a.NetworkInterfaceId || "–"},
];

/** Disassociate Elastic IP address, with the console's confirmation; true once done. */
async function disassociate(a) {
  const ok = await confirmDialog("Disassociate Elastic IP address?",
    `Are you sure you want to disassociate this Elastic IP address? ${a.PublicIp} (${a.AllocationId}) from ${a.InstanceId || a.NetworkInterfaceId}`,
    "Disassociate");
  if (!ok) { return false; }
  const out = await attempt(() => aws("ec2", "DisassociateAddress", {AssociationId: a.AssociationId}));
  if (out) { showSuccess("Elastic IP address disassociated successfully."); }
  return Boolean(out);
}

/** Release Elastic IP addresses, with the console's confirmation; true once done. */
async function release(a) {
  const ok = await confirmDialog("Release Elastic IP addresses",
    `Are you sure that you want to release the following Elastic IP address? ${a.PublicIp} (${a.AllocationId}). `
    + "After you release an Elastic IP address, it is released to the IP address pool and might be unavailable to you.",
    "Release");
  if (!ok) { return false; }
  const out = await attempt(() => aws("ec2", "ReleaseAddress", {AllocationId: a.AllocationId}));
  if (out) { showSuccess("Elastic IP addresses released successfully."); }
  return Boolean(out);
}

/** The Actions menu for the address `current()` returns; `after()` once an action went through. */
function addressActions(current, after) {
  return actionsMenu("Actions", [
    {label: "View details", disabled: () => !current(), onclick: () => go(`${LIST}/${current().AllocationId}`)},
    {label: "Release Elastic IP addresses", disabled: () => !current(), onclick: async () => {
      if (await release(current())) { await after(true); }
    }},
    {label: "Associate Elastic IP address", disabled: () => !current(),
      onclick: () => go(`${LIST}/${current().AllocationId}/associate`)},
    {label: "Disassociate Elastic IP address", disabled: () => !current() || !current().AssociationId, onclick: async () => {
      if (await disassociate(current())) { await after(false); }
    }},
  ]);
}

// ---- the list ---------------------------------------------------------------------------------

page(LIST, async (root) => {
  let items = await describeAddresses();
  let chosen;
  const current = () => items.find((a) => a.AllocationId === chosen);
  const head = el("div");
  const body = el("div");
  const menu = addressActions(current, async () => { items = await describeAddresses(); render(); });
  const allocate = button("Allocate Elastic IP address", () => go(`${LIST}/allocate`), {primary: true});
  function render() {
    head.replaceChildren(header("Elastic IP addresses", items.length, menu, allocate));
    const t = table("Elastic IP addresses", COLUMNS, items, {
      key: (a) => a.PublicIp, onSelect: (a) => { chosen = a.AllocationId; },
      empty: "No Elastic IP addresses found in this Region",
    });
    const a = current();
    const radio = a && t.querySelector(`input[type="radio"][aria-label="Select ${CSS.escape(a.PublicIp)}"]`);
    if (radio) { radio.checked = true; } else { chosen = undefined; }
    body.replaceChildren(t);
  }
  render();
  root.append(head, body);
});

// ---- Allocate Elastic IP address -----------------------------------------------------------

page(`${LIST}/allocate`, async (root) => {
  const zones = (await aws("ec2", "DescribeAvailabilityZones", {})).AvailabilityZones;
  const groups = [...new Set(zones.map((z) => z.NetworkBorderGroup || z.RegionName))];
  const border = selectField("Network border group", groups.map((g) => [g, g]));
  const pool = radioGroup("Public IPv4 address pool", [
    ["amazon", "Amazon's pool of IPv4 addresses"],
  ], "amazon");
  const tags = tagEditor();
  async function allocate() {
    const params = {Domain: "vpc", NetworkBorderGroup: border.input.value};
    const list = tags.tags();
    if (list.length) { params.TagSpecifications = [{ResourceType: "elastic-ip", Tags: list}]; }
    const out = await attempt(() => aws("ec2", "AllocateAddress", params));
    if (!out) { return; }
    goWithSuccess(LIST, `Elastic IP address allocated successfully. Elastic IP address ${out.PublicIp}`);
  }
  root.append(
    header("Allocate Elastic IP address", null),
    el("p", {class: "hint"}, "Allocate an Elastic IP address by selecting the public IPv4 address pool from which the public IP address is to be allocated."),
    el("section", {class: "panel", "aria-label": "Elastic IP address settings"},
      el("h2", {}, "Elastic IP address settings"), border.row, pool.row),
    tags.row,
    el("div", {class: "wizard-actions"}, button("Cancel", () => go(LIST)), button("Allocate", allocate, {primary: true})));
});

// ---- an address's details --------------------------------------------------------------------

async function findAddress(id) {
  const [a] = await describeAddresses({AllocationIds: [id]});
  return a;
}

page(`${LIST}/:id`, async (root, {id}) => {
  let a = await findAddress(id);
  const summary = el("div");
  function render() {
    summary.replaceChildren(details("Summary", [
      ["Allocated IPv4 address", publicAddress(a.PublicIp)],
      ["Type", "Public IP"],
      ["Allocation ID", a.AllocationId],
      ["Associated instance ID", a.InstanceId ? link(`#/ec2/instances/${a.InstanceId}`, a.InstanceId) : "–"],
      ["Private IP address", a.PrivateIpAddress || "–"],
      ["Association ID", a.AssociationId || "–"],
      ["Network interface ID", a.NetworkInterfaceId || "–"],
      ["Network interface owner account ID", a.NetworkInterfaceOwnerId || "–"],
      ["Public IPv4 pool", a.PublicIpv4Pool || "amazon"],
      ["Network border group", a.NetworkBorderGroup || "–"],
      ["Domain", a.Domain || "vpc"],
    ]));
  }
  const menu = addressActions(() => a, async (released) => {
    if (released) { go(LIST); return; }
    a = await findAddress(id);
    render();
  });
  render();
  root.append(
    el("nav", {class: "crumbs", "aria-label": "Breadcrumbs"}, link(LIST, "Elastic IP addresses"), ` > ${a.PublicIp}`),
    header(a.PublicIp, null, menu,
      button("Associate Elastic IP address", () => go(`${LIST}/${id}/associate`), {primary: true})),
    summary,
    tabs("Elastic IP address", [{title: "Tags", render: async (panel) => { panel.append(tagsTable(a.Tags)); }}]));
});

// ---- Associate Elastic IP address ------------------------------------------------------------

page(`${LIST}/:id/associate`, async (root, {id}) => {
  const a = await findAddress(id);
  const [reservations, enis] = await Promise.all([
    awsAll("ec2", "DescribeInstances", {Filters: [{Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"]}]},
      "Reservations"),
    awsAll("ec2", "DescribeNetworkInterfaces", {}, "NetworkInterfaces"),
  ]);
  const instances = reservations.flatMap((r) => r.Instances);
  const instance = selectField("Instance", [["", "Choose an instance"], ...instances.map((i) =>
    [i.InstanceId, `${i.InstanceId}${nameTag(i.Tags) ? ` (${nameTag(i.Tags)})` : ""} - ${i.State.Name}`])]);
  const eni = selectField("Network interface", [["", "Choose a network interface"], ...enis.map((n) =>
    [n.NetworkInterfaceId, `${n.NetworkInterfaceId}${n.Description ? ` (${n.Description})` : ""}`])]);
  const privateIp = selectField("Private IP address", [["", "Choose a private IP address"]],
    {hint: "The private IP address with which to associate the Elastic IP address."});
  const reassociate = field("Allow this Elastic IP address to be reassociated", {type: "checkbox"});
  const kind = radioGroup("Resource type", [
    ["instance", "Instance"], ["network-interface", "Network interface"],
  ], "instance", (v) => { instance.row.hidden = v !== "instance"; eni.row.hidden = v === "instance"; fillPrivate(); });
  eni.row.hidden = true;
  // The private addresses of the chosen instance's or interface's primary interface.
  function fillPrivate() {
    let addresses = [];
    if (kind.value() === "instance") {
      const i = instances.find((x) => x.InstanceId === instance.input.value);
      addresses = i ? (i.NetworkInterfaces || []).flatMap((n) => (n.PrivateIpAddresses || []).map((p) => p.PrivateIpAddress)) : [];
      if (i && !addresses.length && i.PrivateIpAddress) { addresses = [i.PrivateIpAddress]; }
    } else {
      const n = enis.find((x) => x.NetworkInterfaceId === eni.input.value);
      addresses = n ? (n.PrivateIpAddresses || []).map((p) => p.PrivateIpAddress) : [];
    }
    privateIp.input.replaceChildren(el("option", {value: ""}, "Choose a private IP address"),
      ...addresses.map((ip) => el("option", {value: ip}, ip)));
    if (addresses.length) { privateIp.input.value = addresses[0]; }
  }
  instance.input.addEventListener("change", fillPrivate);
  eni.input.addEventListener("change", fillPrivate);
  async function associate() {
    const params = {AllocationId: a.AllocationId, AllowReassociation: reassociate.input.checked};
    if (kind.value() === "instance") {
      if (instance.input.value) { params.InstanceId = instance.input.value; }
    } else if (eni.input.value) { params.NetworkInterfaceId = eni.input.value; }
    if (privateIp.input.value) { params.PrivateIpAddress = privateIp.input.value; }
    const out = await attempt(() => aws("ec2", "AssociateAddress", params));
    if (!out) { return; }
    goWithSuccess(`${LIST}/${a.AllocationId}`, "Elastic IP address associated successfully.");
  }
  root.append(
    header("Associate Elastic IP address", null),
    el("p", {class: "hint"}, "Choose the instance or network interface to associate to this Elastic IP address "
      + `(${a.PublicIp})`),
    el("section", {class: "panel", "aria-label": "Elastic IP address"},
      el("h2", {}, `Elastic IP address: ${a.PublicIp}`), kind.row, instance.row, eni.row, privateIp.row,
      el("h3", {}, "Reassociation"),
      el("p", {class: "hint"}, "Specify whether the Elastic IP address can be reassociated with a different resource if it already associated with a resource."),
      reassociate.row),
    el("div", {class: "wizard-actions"}, button("Cancel", () => go(`${LIST}/${id}`)),
      button("Associate", associate, {primary: true})));
});
