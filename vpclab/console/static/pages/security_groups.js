// EC2 > Security Groups: the list, a group's details (Inbound rules, Outbound rules, Tags),
// Edit inbound rules, and Create security group. The rules tables are exported for the
// instance details' Security tab.
"use strict";

import {
  attempt, aws, awsAll, button, details, el, field, goWithSuccess, header, link, nameTag,
  page, selectField, table, tabs,
} from "../lib.js";

// ---- rule types, as the console's Type menu names them ---------------------------------

/**
 * The console's rule types: a name for a protocol and a port range, which fills the
 * Protocol and Port range columns when chosen. `port: null` means the port is typed.
 */
export const RULE_TYPES = [
  {name: "Custom TCP", protocol: "tcp", port: null},
  {name: "Custom UDP", protocol: "udp", port: null},
  {name: "All TCP", protocol: "tcp", port: [0, 65535]},
  {name: "All UDP", protocol: "udp", port: [0, 65535]},
  {name: "All ICMP - IPv4", protocol: "icmp", port: [-1, -1]},
  {name: "All traffic", protocol: "-1", port: [-1, -1]},
  {name: "SSH", protocol: "tcp", port: [22, 22]},
  {name: "SMTP", protocol: "tcp", port: [25, 25]},
  {name: "DNS (UDP)", protocol: "udp", port: [53, 53]},
  {name: "DNS (TCP)", protocol: "tcp", port: [53, 53]},
  {name: "HTTP", protocol: "tcp", port: [80, 80]},
  {name: "POP3", protocol: "tcp", port: [110, 110]},
  {name: "IMAP", protocol: "tcp", port: [143, 143]},
  {name: "LDAP", protocol: "tcp", port: [389, 389]},
  {name: "HTTPS", protocol: "tcp", port: [443, 443]},
  {name: "SMB", protocol: "tcp", port: [445, 445]},
  {name: "NFS", protocol: "tcp", port: [2049, 2049]},
  {name: "MYSQL/Aurora", protocol: "tcp", port: [3306, 3306]},
  {name: "RDP", protocol: "tcp", port: [3389, 3389]},
  {name: "PostgreSQL", protocol: "tcp", port: [5432, 5432]},
];

const PROTOCOL_NAMES = {"tcp": "TCP", "udp": "UDP", "icmp": "ICMP", "icmpv6": "ICMPv6", "-1": "All"};

/** The console's Type of a rule (its protocol and ports), e.g. "HTTP" for TCP 80. */
export function ruleType(rule) {
  const named = RULE_TYPES.find((t) => t.port && t.protocol === rule.IpProtocol
    && t.port[0] === rule.FromPort && t.port[1] === rule.ToPort);
  if (named) { return named; }
  return RULE_TYPES.find((t) => t.port === null && t.protocol === rule.IpProtocol)
    || {name: `Custom protocol (${rule.IpProtocol})`, protocol: rule.IpProtocol, port: [rule.FromPort, rule.ToPort]};
}

export function portRange(rule) {
  if (rule.IpProtocol === "-1" || rule.FromPort === -1 || rule.FromPort === undefined) { return "All"; }
  return rule.FromPort === rule.ToPort ? String(rule.FromPort) : `${rule.FromPort} - ${rule.ToPort}`;
}

/** A rule's Source (inbound) or Destination (outbound): a CIDR, a prefix list or a group. */
export function peer(rule) {
  if (rule.ReferencedGroupInfo && rule.ReferencedGroupInfo.GroupId) { return rule.ReferencedGroupInfo.GroupId; }
  return rule.CidrIpv4 || rule.CidrIpv6 || rule.PrefixListId || "–";
}

/** The rules of some groups (DescribeSecurityGroupRules), inbound or outbound. */
export async function groupRules(groupIds, egress) {
  if (!groupIds.length) { return []; }
  const rules = await awsAll("ec2", "DescribeSecurityGroupRules",
    {Filters: [{Name: "group-id", Values: groupIds}]}, "SecurityGroupRules");
  return rules.filter((r) => r.IsEgress === egress);
}

/** The console's rules table: "Inbound rules" / "Outbound rules". */
export function rulesTable(title, rules, egress, opts = {}) {
  const columns = [
    {title: "Name", value: (r) => nameTag(r.Tags) || "–"},
    {title: "Security group rule ID", value: (r) => r.SecurityGroupRuleId},
    {title: "IP version", value: (r) => r.CidrIpv4 ? "IPv4" : r.CidrIpv6 ? "IPv6" : "–"},
    {title: "Type", value: (r) => ruleType(r).name},
    {title: "Protocol", value: (r) => PROTOCOL_NAMES[r.IpProtocol] || r.IpProtocol},
    {title: "Port range", value: (r) => portRange(r)},
    {title: egress ? "Destination" : "Source", value: (r) => peer(r)},
    {title: "Description", value: (r) => r.Description || "–"},
  ];
  if (opts.withGroup) {
    columns.splice(2, 0, {title: "Security groups", value: (r) => link(`#/ec2/security-groups/${r.GroupId}`, r.GroupId)});
  }
  return table(title, columns, rules, {empty: egress ? "No outbound rules" : "No inbound rules"});
}

/** The count the list shows: one permission entry per peer of each permission. */
function entries(permissions) {
  const n = (permissions || []).reduce((sum, p) => sum + (p.IpRanges || []).length + (p.Ipv6Ranges || []).length
    + (p.PrefixListIds || []).length + (p.UserIdGroupPairs || []).length, 0);
  return n === 1 ? "1 Permission entry" : `${n} Permission entries`;
}

/** A tab's own heading "<title> (<n>)" with its buttons (the page's h1 is the group's). */
function panelHeader(title, count, ...actions) {
  return el("div", {class: "page-header"}, el("h2", {}, `${title} (${count})`), el("div", {class: "actions"}, ...actions));
}

async function findGroup(id) {
  const out = await aws("ec2", "DescribeSecurityGroups", {GroupIds: [id]});
  return out.SecurityGroups[0];
}

// ---- the list ------------------------------------------------------------------------

const COLUMNS = [
  {title: "Name", value: (g) => nameTag(g.Tags) || "–"},
  {title: "Security group ID", value: (g) => link(`#/ec2/security-groups/${g.GroupId}`, g.GroupId)},
  {title: "Security group name", value: (g) => g.GroupName},
  {title: "VPC ID", value: (g) => (g.VpcId ? link(`#/vpc/vpcs/${g.VpcId}`, g.VpcId) : "–")},
  {title: "Description", value: (g) => g.Description},
  {title: "Owner", value: (g) => g.OwnerId},
  {title: "Inbound rules count", value: (g) => entries(g.IpPermissions)},
  {title: "Outbound rules count", value: (g) => entries(g.IpPermissionsEgress)},
];

page("#/ec2/security-groups", async (root) => {
  const groups = await awsAll("ec2", "DescribeSecurityGroups", {}, "SecurityGroups");
  root.append(
    header("Security Groups", groups.length,
      button("Create security group", () => { location.hash = "#/ec2/security-groups/create"; }, {primary: true})),
    table("Security Groups", COLUMNS, groups));
});

// ---- create ---------------------------------------------------------------------------

page("#/ec2/security-groups/create", async (root) => {
  const vpcs = await awsAll("ec2", "DescribeVpcs", {}, "Vpcs");
  const name = field("Security group name", {hint: "Name cannot be edited after creation."});
  const description = field("Description", {hint: "A description of the security group."});
  const fallback = vpcs.find((v) => v.IsDefault) || vpcs[0];
  const vpc = selectField("VPC", vpcs.map((v) => [v.VpcId, nameTag(v.Tags) ? `${v.VpcId} (${nameTag(v.Tags)})` : v.VpcId]),
    {value: fallback && fallback.VpcId});
  const create = button("Create security group", () => attempt(async () => {
    const out = await aws("ec2", "CreateSecurityGroup",
      {GroupName: name.input.value, Description: description.input.value, VpcId: vpc.input.value});
    goWithSuccess(`#/ec2/security-groups/${out.GroupId}`,
      `Security group (${out.GroupId} | ${name.input.value}) was created successfully`);
  }), {primary: true});
  root.append(header("Create security group", null),
    el("form", {class: "wizard", "aria-label": "Create security group"},
      el("section", {}, el("h2", {}, "Basic details"), name.row, description.row, vpc.row),
      el("div", {class: "actions end"}, button("Cancel", () => { location.hash = "#/ec2/security-groups"; }), create)));
});

// ---- details ----------------------------------------------------------------------------

page("#/ec2/security-groups/:id", async (root, {id}) => {
  const g = await findGroup(id);
  root.append(
    header(`${g.GroupId} - ${g.GroupName}`, null),
    details("Details", [
      ["Security group name", g.GroupName],
      ["Security group ID", g.GroupId],
      ["Description", g.Description],
      ["VPC ID", g.VpcId ? link(`#/vpc/vpcs/${g.VpcId}`, g.VpcId) : "–"],
      ["Owner", g.OwnerId],
      ["Inbound rules count", entries(g.IpPermissions)],
      ["Outbound rules count", entries(g.IpPermissionsEgress)],
    ]),
    tabs("Security group", [
      {title: "Inbound rules", render: async (panel) => {
        const rules = await groupRules([id], false);
        panel.append(panelHeader("Inbound rules", rules.length,
          button("Edit inbound rules", () => { location.hash = `#/ec2/security-groups/${id}/edit-inbound`; })),
        rulesTable("Inbound rules", rules, false));
      }},
      {title: "Outbound rules", render: async (panel) => {
        const rules = await groupRules([id], true);
        panel.append(panelHeader("Outbound rules", rules.length), rulesTable("Outbound rules", rules, true));
      }},
      {title: "Tags", render: async (panel) => {
        panel.append(table("Tags", [{title: "Key", value: (t) => t.Key}, {title: "Value", value: (t) => t.Value}],
          g.Tags || [], {empty: "No tags"}));
      }},
    ]));
});

// ---- Edit inbound rules -------------------------------------------------------------------

const SOURCES = [["custom", "Custom"], ["anywhere-ipv4", "Anywhere-IPv4"], ["anywhere-ipv6", "Anywhere-IPv6"]];
const ANYWHERE = {"anywhere-ipv4": "0.0.0.0/0", "anywhere-ipv6": "::/0"};

/** One row of the editor: its inputs, and the rule it started from (none for a new row). */
function ruleRow(rule, number, onDelete) {
  const type = rule ? ruleType(rule) : RULE_TYPES.find((t) => t.name === "Custom TCP");
  const typeSelect = el("select", {"aria-label": "Type"},
    ...RULE_TYPES.map((t) => el("option", {value: t.name}, t.name)));
  if (!RULE_TYPES.includes(type)) { typeSelect.append(el("option", {value: type.name}, type.name)); }
  typeSelect.value = type.name;
  const protocol = el("input", {type: "text", "aria-label": "Protocol", readonly: true});
  const ports = el("input", {type: "text", "aria-label": "Port range", placeholder: "0"});
  const source = peer(rule || {});
  const sourceKind = el("select", {"aria-label": "Source type"}, ...SOURCES.map(([v, t]) => el("option", {value: v}, t)));
  sourceKind.value = source === "0.0.0.0/0" ? "anywhere-ipv4" : source === "::/0" ? "anywhere-ipv6" : "custom";
  const sourceInput = el("input", {type: "text", "aria-label": "Source", placeholder: "CIDR blocks or security group",
    value: source === "–" ? "" : source});
  const description = el("input", {type: "text", "aria-label": "Description - optional", value: (rule && rule.Description) || ""});

  function chosenType() { return RULE_TYPES.find((t) => t.name === typeSelect.value) || type; }
  function fill(first) {
    const t = chosenType();
    protocol.value = PROTOCOL_NAMES[t.protocol] || t.protocol;
    ports.readOnly = t.port !== null;
    if (t.port !== null) { ports.value = portRange({IpProtocol: t.protocol, FromPort: t.port[0], ToPort: t.port[1]}); }
    else if (first && rule) { ports.value = portRange(rule); }
    else if (!first) { ports.value = ""; }
  }
  typeSelect.addEventListener("change", () => fill(false));
  sourceKind.addEventListener("change", () => {
    if (ANYWHERE[sourceKind.value]) { sourceInput.value = ANYWHERE[sourceKind.value]; }
  });
  fill(true);

  const node = el("div", {class: "rule-row", role: "group", "aria-label": `Inbound rule ${number}`},
    el("span", {class: "rule-id"}, rule ? rule.SecurityGroupRuleId : "–"),
    typeSelect, protocol, ports, sourceKind, sourceInput, description,
    button("Delete", () => onDelete(row)));
  const row = {rule, node, permission};

  /** The rule this row describes, as IpPermissions take it. */
  function permission() {
    const t = chosenType();
    let [from, to] = t.port || [];
    if (t.port === null) {
      const m = /^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?$/.exec(ports.value);
      from = m ? Number(m[1]) : undefined;
      to = m ? Number(m[2] === undefined ? m[1] : m[2]) : undefined;
    }
    const p = {IpProtocol: t.protocol};
    if (t.protocol !== "-1") { p.FromPort = from; p.ToPort = to; }
    const value = sourceInput.value.trim();
    const desc = description.value.trim() || undefined;
    if (/^sg-/.test(value)) { p.UserIdGroupPairs = [{GroupId: value, Description: desc}]; }
    else if (/^pl-/.test(value)) { p.PrefixListIds = [{PrefixListId: value, Description: desc}]; }
    else if (value.includes(":")) { p.Ipv6Ranges = [{CidrIpv6: value, Description: desc}]; }
    else { p.IpRanges = [{CidrIp: value, Description: desc}]; }
    return p;
  }
  return row;
}

/** The SecurityGroupRuleRequest of ModifySecurityGroupRules for a permission of one peer. */
function ruleRequest(p) {
  const r = {IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort};
  if (p.UserIdGroupPairs) { r.ReferencedGroupId = p.UserIdGroupPairs[0].GroupId; r.Description = p.UserIdGroupPairs[0].Description; }
  else if (p.PrefixListIds) { r.PrefixListId = p.PrefixListIds[0].PrefixListId; r.Description = p.PrefixListIds[0].Description; }
  else if (p.Ipv6Ranges) { r.CidrIpv6 = p.Ipv6Ranges[0].CidrIpv6; r.Description = p.Ipv6Ranges[0].Description; }
  else { r.CidrIpv4 = p.IpRanges[0].CidrIp; r.Description = p.IpRanges[0].Description; }
  return r;
}

/** Whether a row still describes the rule it was loaded from. */
function unchanged(rule, p) {
  const r = ruleRequest(p);
  return r.IpProtocol === rule.IpProtocol && (r.IpProtocol === "-1" || (r.FromPort === rule.FromPort && r.ToPort === rule.ToPort))
    && (r.CidrIpv4 || null) === (rule.CidrIpv4 || null) && (r.CidrIpv6 || null) === (rule.CidrIpv6 || null)
    && (r.PrefixListId || null) === (rule.PrefixListId || null)
    && (r.ReferencedGroupId || null) === ((rule.ReferencedGroupInfo && rule.ReferencedGroupInfo.GroupId) || null)
    && (r.Description || "") === (rule.Description || "");
}

page("#/ec2/security-groups/:id/edit-inbound", async (root, {id}) => {
  const g = await findGroup(id);
  const original = await groupRules([id], false);
  const rows = [];
  const list = el("div", {class: "rule-rows"});
  let count = 0;
  const remove = (row) => { rows.splice(rows.indexOf(row), 1); row.node.remove(); };
  const add = (rule) => { const row = ruleRow(rule, ++count, remove); rows.push(row); list.append(row.node); };
  original.forEach(add);

  /** The console's minimal calls: authorize the new rules, modify the changed, revoke the removed. */
  async function save() {
    const kept = new Set(rows.filter((r) => r.rule).map((r) => r.rule.SecurityGroupRuleId));
    const added = rows.filter((r) => !r.rule).map((r) => r.permission());
    const changed = rows.filter((r) => r.rule && !unchanged(r.rule, r.permission()))
      .map((r) => ({SecurityGroupRuleId: r.rule.SecurityGroupRuleId, SecurityGroupRule: ruleRequest(r.permission())}));
    const removed = original.filter((r) => !kept.has(r.SecurityGroupRuleId)).map((r) => r.SecurityGroupRuleId);
    if (added.length) { await aws("ec2", "AuthorizeSecurityGroupIngress", {GroupId: id, IpPermissions: added}); }
    if (changed.length) { await aws("ec2", "ModifySecurityGroupRules", {GroupId: id, SecurityGroupRules: changed}); }
    if (removed.length) { await aws("ec2", "RevokeSecurityGroupIngress", {GroupId: id, SecurityGroupRuleIds: removed}); }
    goWithSuccess(`#/ec2/security-groups/${id}`,
      `Inbound security group rules successfully modified on security group (${id} | ${g.GroupName})`);
  }

  root.append(
    header("Edit inbound rules", null),
    el("p", {class: "hint"}, "Inbound rules control the incoming traffic that's allowed to reach the instance."),
    el("section", {class: "panel", "aria-label": "Inbound rules"},
      el("h2", {}, `Inbound rules for ${g.GroupId} - ${g.GroupName}`),
      el("div", {class: "rule-row rule-head", "aria-hidden": "true"},
        ...["Security group rule ID", "Type", "Protocol", "Port range", "Source type", "Source", "Description - optional", ""]
          .map((t) => el("span", {}, t))),
      list,
      button("Add rule", () => add(null))),
    el("div", {class: "actions end"},
      button("Cancel", () => { location.hash = `#/ec2/security-groups/${id}`; }),
      button("Save rules", () => attempt(save), {primary: true})));
});
