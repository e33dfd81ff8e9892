// VPC > Internet gateways: the list, Create internet gateway, a gateway's details, and
// Actions: Attach to VPC, Detach from VPC, Delete internet gateway — as
// DescribeInternetGateways and its actions have them.
"use strict";

import {
  actionsMenu, attempt, aws, awsAll, button, confirmDialog, details, el, field, go, goWithSuccess, header, link,
  nameTag, page, selectField, showSuccess, stateBadge, table, tabs, tagEditor, tagsTable,
} from "../lib.js";
import {breadcrumb, titled} from "./vpcs.js";

const LIST = "#/vpc/internet-gateways";

/** The console's State of a gateway: Attached while its attachment is available, else Detached. */
function gatewayState(g) {
  const att = (g.Attachments || [])[0];
  if (!att) { return "Detached"; }
  return {available: "Attached", attached: "Attached", attaching: "Attaching", detaching: "Detaching"}[att.State] || att.State;
}

function stateOf(g) {
  const badge = stateBadge({Attached: "available", Detached: "unused"}[gatewayState(g)] || "pending");
  badge.textContent = gatewayState(g);
  return badge;
}

function attachedVpc(g) {
  const att = (g.Attachments || [])[0];
  return att ? att.VpcId : "";
}

async function describeGateways(params) {
  return awsAll("ec2", "DescribeInternetGateways", params || {}, "InternetGateways");
}

async function findGateway(id) {
  return (await describeGateways({InternetGatewayIds: [id]}))[0];
}

const COLUMNS = [
  {title: "Name", value: (g) => nameTag(g.Tags) || "–"},
  {title: "Internet gateway ID", value: (g) => link(`${LIST}/${g.InternetGatewayId}`, g.InternetGatewayId)},
  {title: "State", value: stateOf},
  {title: "VPC ID", value: (g) => (attachedVpc(g) ? link(`#/vpc/vpcs/${attachedVpc(g)}`, attachedVpc(g)) : "–")},
  {title: "Owner", value: (g) => g.OwnerId || "–"},
];

/** Detach from VPC, confirmed by typing "detach" as the console asks; true once done. */
async function detach(g) {
  const vpc = attachedVpc(g);
  const ok = await confirmDialog("Detach from VPC",
    `Are you sure you want to detach the internet gateway ${g.InternetGatewayId} from the VPC ${vpc}?`,
    "Detach internet gateway", "detach");
  if (!ok) { return false; }
  const out = await attempt(() => aws("ec2", "DetachInternetGateway", {InternetGatewayId: g.InternetGatewayId, VpcId: vpc}));
  if (out) { showSuccess(`Internet gateway ${g.InternetGatewayId} successfully detached from ${vpc}`); }
  return Boolean(out);
}

/** Delete internet gateway, confirmed by typing "delete"; true once done. */
async function remove(g) {
  const ok = await confirmDialog("Delete internet gateway",
    `Are you sure you want to delete the internet gateway ${titled(g.InternetGatewayId, g.Tags)}?`,
    "Delete internet gateway", "delete");
  if (!ok) { return false; }
  const out = await attempt(() => aws("ec2", "DeleteInternetGateway", {InternetGatewayId: g.InternetGatewayId}));
  if (out) { showSuccess(`Successfully deleted internet gateway ${g.InternetGatewayId}`); }
  return Boolean(out);
}

/** The Actions menu for the gateway `current()` returns; `after(deleted)` once an action went through. */
function gatewayActions(current, after) {
  return actionsMenu("Actions", [
    {label: "View details", disabled: () => !current(), onclick: () => go(`${LIST}/${current().InternetGatewayId}`)},
    {label: "Attach to VPC", disabled: () => !current() || Boolean(attachedVpc(current())),
      onclick: () => go(`${LIST}/${current().InternetGatewayId}/attach`)},
    {label: "Detach from VPC", disabled: () => !current() || !attachedVpc(current()), onclick: async () => {
      if (await detach(current())) { await after(false); }
    }},
    {label: "Delete internet gateway", disabled: () => !current(), onclick: async () => {
      if (await remove(current())) { await after(true); }
    }},
  ]);
}

// ---- the list ---------------------------------------------------------------------------------

page(LIST, async (root) => {
  let items = await describeGateways();
  let chosen;
  const current = () => items.find((g) => g.InternetGatewayId === chosen);
  const head = el("div");
  const body = el("div");
  const menu = gatewayActions(current, async () => { items = await describeGateways(); render(); });
  const create = button("Create internet gateway", () => go(`${LIST}/create`), {primary: true});
  function render() {
    head.replaceChildren(header("Internet gateways", items.length, menu, create));
    const t = table("Internet gateways", COLUMNS, items, {
      key: (g) => g.InternetGatewayId, onSelect: (g) => { chosen = g.InternetGatewayId; },
      empty: "No internet gateways found",
    });
    const radio = current() && t.querySelector(`input[type="radio"][aria-label="Select ${CSS.escape(chosen)}"]`);
    if (radio) { radio.checked = true; } else { chosen = undefined; }
    body.replaceChildren(t);
  }
  render();
  root.append(head, body);
});

// ---- Create internet gateway -------------------------------------------------------------------

page(`${LIST}/create`, async (root) => {
  const name = field("Name tag", {hint: "Creates a tag with a key of 'Name' and a value that you specify.",
    placeholder: "my-internet-gateway-01"});
  const tags = tagEditor();
  async function create() {
    const list = tags.tags();
    const n = name.input.value.trim();
    if (n && !list.some((t) => t.Key === "Name")) { list.unshift({Key: "Name", Value: n}); }
    const params = list.length ? {TagSpecifications: [{ResourceType: "internet-gateway", Tags: list}]} : {};
    const out = await attempt(() => aws("ec2", "CreateInternetGateway", params));
    if (!out) { return; }
    const id = out.InternetGateway.InternetGatewayId;
    goWithSuccess(`${LIST}/${id}`, `The following internet gateway was created: ${id}. `
      + "You can now attach to a VPC to enable the VPC to communicate with the internet.");
  }
  root.append(
    breadcrumb("Internet gateways", LIST, "Create internet gateway"),
    header("Create internet gateway", null),
    el("p", {class: "hint"}, "An internet gateway is a virtual router that connects a VPC to the internet. "
      + "To create a new internet gateway specify the name for the gateway below."),
    el("section", {class: "panel", "aria-label": "Internet gateway settings"},
      el("h2", {}, "Internet gateway settings"), name.row),
    tags.row,
    el("div", {class: "wizard-actions"}, button("Cancel", () => go(LIST)),
      button("Create internet gateway", create, {primary: true})));
});

// ---- a gateway's details -------------------------------------------------------------------------

page(`${LIST}/:id`, async (root, {id}) => {
  let g = await findGateway(id);
  const summary = el("div");
  function render() {
    summary.replaceChildren(details("Details", [
      ["Internet gateway ID", g.InternetGatewayId],
      ["State", stateOf(g)],
      ["VPC ID", attachedVpc(g) ? link(`#/vpc/vpcs/${attachedVpc(g)}`, attachedVpc(g)) : "–"],
      ["Owner", g.OwnerId || "–"],
    ]));
  }
  const menu = gatewayActions(() => g, async (deleted) => {
    if (deleted) { go(LIST); return; }
    g = await findGateway(id);
    render();
    attach.hidden = Boolean(attachedVpc(g));
  });
  const attach = button("Attach to a VPC", () => go(`${LIST}/${id}/attach`), {primary: true});
  attach.hidden = Boolean(attachedVpc(g));
  render();
  root.append(
    breadcrumb("Internet gateways", LIST, id),
    header(titled(id, g.Tags), null, menu, attach),
    summary,
    tabs("Internet gateway", [{title: "Tags", render: async (panel) => { panel.append(tagsTable(g.Tags)); }}]));
});

// ---- Attach to VPC ------------------------------------------------------------------------------

page(`${LIST}/:id/attach`, async (root, {id}) => {
  const [vpcs, gateways] = await Promise.all([awsAll("ec2", "DescribeVpcs", {}, "Vpcs"), describeGateways()]);
  // Available VPCs: those no internet gateway is attached to (the console lists only those).
  const taken = new Set(gateways.map(attachedVpc).filter(Boolean));
  const free = vpcs.filter((v) => !taken.has(v.VpcId));
  const vpc = selectField("Available VPCs", [["", "Select a VPC"], ...free.map((v) =>
    [v.VpcId, `${v.VpcId}${nameTag(v.Tags) ? ` (${nameTag(v.Tags)})` : ""}`])],
  {hint: "Attach the internet gateway to this VPC."});
  async function attach() {
    const out = await attempt(() => aws("ec2", "AttachInternetGateway", {InternetGatewayId: id, VpcId: vpc.input.value}));
    if (!out) { return; }
    goWithSuccess(`${LIST}/${id}`, `Internet gateway ${id} successfully attached to ${vpc.input.value}`);
  }
  root.append(
    breadcrumb("Internet gateways", LIST, id),
    header(`Attach to VPC (${id})`, null),
    el("section", {class: "panel", "aria-label": "VPC"}, el("h2", {}, "VPC"),
      el("p", {class: "hint"}, "Attach an internet gateway to a VPC to enable the VPC to communicate with the internet. "
        + "Specify the VPC to attach below."), vpc.row),
    el("div", {class: "wizard-actions"}, button("Cancel", () => go(`${LIST}/${id}`)),
      button("Attach internet gateway", attach, {primary: true})));
});
