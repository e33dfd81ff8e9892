// EC2 > Load balancers: the list (live), the type chooser, Create Network Load Balancer,
// a load balancer's details (Status live; Listeners, Network mapping, Security, Tags) and
// Delete load balancer with the console's typed confirmation.
"use strict";

import {
  actionsMenu, attempt, aws, awsAll, button, confirmDialog, details, el, field, go, header, link, liveView,
  nameTag, openAddress, page, publicAddress, radioGroup, selectField, selected, showError, showSuccess, stateBadge, table,
  tabs, tagEditor, when,
} from "../lib.js";

/** What the next page says first (the console's flash after a create or delete). */
let flash = null;

function showFlash() {
  if (!flash) { return; }
  if (flash.error) { showError(flash.error); } else { showSuccess(flash.text); }
  flash = null;
}

const SCHEMES = {"internet-facing": "Internet-facing", internal: "Internal"};
const TYPES = {network: "Network", application: "Application", gateway: "Gateway"};
const IP_TYPES = {ipv4: "IPv4", dualstack: "Dualstack"};

function lbHash(lb) { return `#/ec2/load-balancers/${encodeURIComponent(lb.LoadBalancerName)}`; }

function capitalized(word) { return word ? word[0].toUpperCase() + word.slice(1) : word; }

/** A load balancer's state as the console words it ("Provisioning", "Active"), live. */
function lbState(lb) {
  const badge = stateBadge(lb.State.Code);
  badge.textContent = capitalized(lb.State.Code);
  return badge;
}

async function allLoadBalancers() {
  return awsAll("elbv2", "DescribeLoadBalancers", {}, "LoadBalancers", "Marker", "NextMarker");
}

/** Zone name -> zone id (aps1-az1 …), as the console shows zones: "ap-south-1a (aps1-az1)". */
async function zoneIds() {
  const zones = (await aws("ec2", "DescribeAvailabilityZones", {})).AvailabilityZones;
  return Object.fromEntries(zones.map((z) => [z.ZoneName, z.ZoneId]));
}

function zoneLabel(zone, ids) { return ids[zone] ? `${zone} (${ids[zone]})` : zone; }

/** Delete with the console's typed confirmation; resolves true once deleted. */
async function deleteLoadBalancer(lb) {
  const ok = await confirmDialog("Delete load balancer?",
    `Deleting ${lb.LoadBalancerName} also deletes its listeners. The target groups it routes to are not deleted. This action cannot be undone.`,
    "Delete", "confirm");
  if (!ok) { return false; }
  return (await attempt(() => aws("elbv2", "DeleteLoadBalancer", {LoadBalancerArn: lb.LoadBalancerArn}))) !== undefined;
}

// ---- the list -----------------------------------------------------------------------------------

page("#/ec2/load-balancers", async (root) => {
  const ids = await zoneIds();
  let chosen = null;
  const menu = actionsMenu("Actions", [{label: "Delete load balancer", disabled: () => !chosen, onclick: async () => {
    const lb = chosen;
    if (await deleteLoadBalancer(lb)) {
      chosen = null;
      await draw();
      showSuccess(`Successfully deleted load balancer: ${lb.LoadBalancerName}`);
    }
  }}]);
  const columns = [
    {title: "Name", value: (lb) => link(lbHash(lb), lb.LoadBalancerName)},
    {title: "DNS name", value: (lb) => lb.DNSName},
    {title: "State", value: (lb) => lbState(lb)},
    {title: "VPC ID", value: (lb) => link(`#/vpc/vpcs/${lb.VpcId}`, lb.VpcId)},
    {title: "Availability Zones", value: (lb) => {
      const n = lb.AvailabilityZones.length;
      return el("span", {title: lb.AvailabilityZones.map((z) => zoneLabel(z.ZoneName, ids)).join(", ")},
        `${n} Availability Zone${n === 1 ? "" : "s"}`);
    }},
    {title: "Type", value: (lb) => TYPES[lb.Type] ? TYPES[lb.Type].toLowerCase() : lb.Type},
    {title: "Date created", value: (lb) => when(lb.CreatedTime)},
  ];
  const view = el("div");
  const render = (lbs) => {
    if (chosen && !lbs.some((lb) => lb.LoadBalancerArn === chosen.LoadBalancerArn)) { chosen = null; }
    const t = table("Load balancers", columns, lbs, {onSelect: (lb) => { chosen = lb; }, key: (lb) => lb.LoadBalancerName,
      empty: "No load balancers"});
    if (chosen) {
      const radio = [...t.querySelectorAll("input[type=radio]")].find((r) => r.getAttribute("aria-label") === `Select ${chosen.LoadBalancerName}`);
      if (radio) { radio.checked = true; }
    }
    return [header("Load balancers", lbs.length, menu,
      button("Create load balancer", () => go("#/ec2/load-balancers/create"), {primary: true})), t];
  };
  const draw = async () => { view.replaceChildren(...render(await allLoadBalancers())); };
  root.append(view);
  showFlash();
  await liveView(view, allLoadBalancers, render);
});

// ---- Create load balancer: the chooser ----------------------------------------------------------

page("#/ec2/load-balancers/create", async (root) => {
  const card = (title, text, served) => el("section", {class: "card", "aria-label": title},
    el("h2", {}, title), el("p", {}, text),
    served ? button("Create", () => go("#/ec2/load-balancers/create/network"), {primary: true})
      : el("p", {class: "hint"}, "vpclab serves Network Load Balancers only."),
    served ? null : button("Create", () => {}, {disabled: true}));
  root.append(
    el("nav", {class: "crumbs", "aria-label": "Breadcrumbs"}, link("#/ec2/load-balancers", "Load balancers"), " > ", "Compare and select load balancer type"),
    el("h1", {}, "Compare and select load balancer type"),
    el("p", {class: "hint"}, "A complete feature-by-feature comparison along with detailed highlights is available."),
    el("div", {class: "cards"},
      card("Application Load Balancer",
        "Choose an Application Load Balancer when you need a flexible feature set for your applications with HTTP and HTTPS traffic.", false),
      card("Network Load Balancer",
        "Choose a Network Load Balancer when you need ultra-high performance, TLS offloading at scale, centralized certificate deployment, support for UDP, and static IP addresses for your applications.", true),
      card("Gateway Load Balancer",
        "Choose a Gateway Load Balancer when you need to deploy and manage a fleet of third-party virtual appliances that support GENEVE.", false)));
});

// ---- Create Network Load Balancer ------------------------------------------------------------------

page("#/ec2/load-balancers/create/network", async (root) => {
  const [vpcs, zonesOut, groups] = await Promise.all([
    aws("ec2", "DescribeVpcs", {}).then((o) => o.Vpcs),
    aws("ec2", "DescribeAvailabilityZones", {}).then((o) => o.AvailabilityZones),
    awsAll("elbv2", "DescribeTargetGroups", {}, "TargetGroups", "Marker", "NextMarker"),
  ]);
  const defaultVpc = vpcs.find((v) => v.IsDefault) || vpcs[0];

  const name = field("Load balancer name", {
    hint: "Name must be unique within your AWS account and can't be changed after the load balancer is created. A maximum of 32 alphanumeric characters including hyphens are allowed, but the name must not begin or end with a hyphen."});
  const scheme = radioGroup("Scheme", [
    ["internet-facing", "Internet-facing", "An internet-facing load balancer routes requests from clients over the internet to targets. Requires a public subnet."],
    ["internal", "Internal", "An internal load balancer routes requests from clients to targets using private IP addresses."],
  ], "internet-facing", () => { drawMappings(); summarize(); });
  const ipType = radioGroup("Load balancer IP address type", [
    ["ipv4", "IPv4", "Recommended for internal load balancers."],
  ], "ipv4");
  const vpc = selectField("VPC", vpcs.map((v) => [v.VpcId,
    `${nameTag(v.Tags) ? nameTag(v.Tags) + " " : ""}${v.VpcId}${v.IsDefault ? " (default)" : ""}`]),
  {value: defaultVpc ? defaultVpc.VpcId : undefined,
    hint: "Select the virtual private cloud (VPC) for your targets. Only VPCs with an internet gateway are enabled for selection."});
  const cidr = el("p", {class: "hint"});
  const mappings = el("div", {role: "group", "aria-label": "Mappings"});
  const groupsSelect = selectField("Security groups", [], {multiple: true,
    hint: "Security groups support on Network Load Balancers can only be enabled at creation by including at least one security group."});
  const groupIds = el("p", {class: "hint"});
  const protocol = selectField("Protocol", [["TCP", "TCP"], ["TLS", "TLS"], ["UDP", "UDP"], ["TCP_UDP", "TCP_UDP"]], {value: "TCP"});
  const port = field("Port", {type: "number", value: "80", hint: "1-65535"});
  const action = selectField("Default action", [], {hint: "Forward to a target group."});
  const tags = tagEditor("Load balancer tags - optional");
  const summary = el("div");

  let zoneRows = [];
  let subnets = [];
  let sgs = [];
  async function loadVpc() {
    const vpcId = vpc.input.value;
    const chosenVpc = vpcs.find((v) => v.VpcId === vpcId);
    cidr.textContent = chosenVpc ? `IPv4 VPC CIDR: ${chosenVpc.CidrBlock}` : "";
    [subnets, sgs] = await Promise.all([
      awsAll("ec2", "DescribeSubnets", {Filters: [{Name: "vpc-id", Values: [vpcId]}]}, "Subnets"),
      awsAll("ec2", "DescribeSecurityGroups", {Filters: [{Name: "vpc-id", Values: [vpcId]}]}, "SecurityGroups"),
    ]);
    groupsSelect.input.replaceChildren(...sgs.map((g) => {
      const o = el("option", {value: g.GroupId}, g.GroupName);
      o.selected = g.GroupName === "default";
      return o;
    }));
    const tgOptions = groups.filter((g) => g.VpcId === vpcId && ["TCP", "TLS", "UDP", "TCP_UDP"].includes(g.Protocol));
    action.input.replaceChildren(el("option", {value: ""}, "Select a target group"),
      ...tgOptions.map((g) => el("option", {value: g.TargetGroupArn}, g.TargetGroupName)));
    drawMappings();
    summarize();
  }
  function drawMappings() {
    const internal = scheme.value() === "internal";
    zoneRows = zonesOut.map((z) => {
      const inZone = subnets.filter((s) => s.AvailabilityZone === z.ZoneName)
        .sort((a, b) => Number(b.DefaultForAz) - Number(a.DefaultForAz));
      const label = `${z.ZoneName} (${z.ZoneId})`;
      const check = field(label, {type: "checkbox"});
      const subnet = selectField("Subnet", inZone.map((s) =>
        [s.SubnetId, `${s.SubnetId}${nameTag(s.Tags) ? " " + nameTag(s.Tags) : ""} — ${s.CidrBlock}`]));
      subnet.row.hidden = true;
      check.input.disabled = !inZone.length;
      check.input.addEventListener("change", () => { subnet.row.hidden = !check.input.checked; summarize(); });
      subnet.input.addEventListener("change", summarize);
      const address = el("p", {class: "hint"}, internal ? "Private IPv4 address: Assigned from CIDR" : "IPv4 address: Assigned by AWS");
      const node = el("div", {class: "zone", role: "group", "aria-label": label}, check.row,
        inZone.length ? null : el("p", {class: "hint"}, "No subnets in this zone."), subnet.row, address);
      return {zone: z, check: check.input, subnet: subnet.input, node};
    });
    mappings.replaceChildren(...zoneRows.map((r) => r.node));
  }
  function summarize() {
    const chosenGroups = selected(groupsSelect.input);
    groupIds.textContent = chosenGroups.length ? `Selected: ${chosenGroups.join(", ")}` : "No security group selected.";
    const zones = zoneRows.filter((r) => r.check.checked);
    const tgName = action.input.value ? action.input.selectedOptions[0].textContent : "–";
    summary.replaceChildren(details("Summary", [
      ["Basic configuration", `${name.input.value || "–"} · ${SCHEMES[scheme.value()]} · ${IP_TYPES[ipType.value()]}`],
      ["Security groups", chosenGroups.map((id) => (sgs.find((g) => g.GroupId === id) || {}).GroupName || id).join(", ") || "–"],
      ["Network mapping", el("span", {}, vpc.input.value, ...zones.map((r) => [el("br"), `${r.zone.ZoneName} (${r.zone.ZoneId}) ${r.subnet.value}`]))],
      ["Listeners and routing", `${protocol.input.value}:${port.input.value} defaults to ${tgName}`],
    ]));
  }
  vpc.input.addEventListener("change", loadVpc);
  for (const input of [name.input, groupsSelect.input, protocol.input, port.input, action.input]) {
    input.addEventListener("input", summarize);
    input.addEventListener("change", summarize);
  }

  root.append(
    el("nav", {class: "crumbs", "aria-label": "Breadcrumbs"}, link("#/ec2/load-balancers", "Load balancers"), " > ", "Create Network Load Balancer"),
    el("h1", {}, "Create Network Load Balancer"),
    el("p", {class: "hint"}, "The Network Load Balancer distributes incoming TCP and UDP traffic across multiple targets such as Amazon EC2 instances."),
    el("section", {class: "panel", "aria-label": "Basic configuration"}, el("h2", {}, "Basic configuration"),
      name.row, scheme.row, ipType.row),
    el("section", {class: "panel", "aria-label": "Network mapping"}, el("h2", {}, "Network mapping"),
      el("p", {class: "hint"}, "The load balancer routes traffic to targets in the selected subnets, and in accordance with your IP address settings."),
      vpc.row, cidr,
      el("h3", {}, "Mappings"),
      el("p", {class: "hint"}, "Select at least one Availability Zone and one subnet for each zone. We recommend selecting at least two Availability Zones."),
      mappings),
    el("section", {class: "panel", "aria-label": "Security groups"}, el("h2", {}, "Security groups"), groupsSelect.row, groupIds),
    el("section", {class: "panel", "aria-label": "Listeners and routing"}, el("h2", {}, "Listeners and routing"),
      el("div", {role: "group", "aria-label": "Listener TCP:80", class: "zone"},
        el("div", {class: "inline-fields"}, protocol.row, port.row), action.row)),
    tags.row,
    el("section", {class: "panel summary", "aria-label": "Summary"}, summary),
    el("div", {class: "wizard-actions"}, button("Cancel", () => go("#/ec2/load-balancers")),
      button("Create load balancer", () => create(), {primary: true})));
  await loadVpc();

  async function create() {
    const params = {
      Name: name.input.value.trim(), Type: "network", Scheme: scheme.value(), IpAddressType: ipType.value(),
      SubnetMappings: zoneRows.filter((r) => r.check.checked && r.subnet.value).map((r) => ({SubnetId: r.subnet.value})),
    };
    const chosenGroups = selected(groupsSelect.input);
    if (chosenGroups.length) { params.SecurityGroups = chosenGroups; }
    if (tags.tags().length) { params.Tags = tags.tags(); }
    const out = await attempt(() => aws("elbv2", "CreateLoadBalancer", params));
    if (!out) { return; }
    const lb = out.LoadBalancers[0];
    try {
      if (action.input.value) {
        await aws("elbv2", "CreateListener", {LoadBalancerArn: lb.LoadBalancerArn, Protocol: protocol.input.value,
          Port: Number(port.input.value), DefaultActions: [{Type: "forward", TargetGroupArn: action.input.value}]});
      }
      flash = {text: `Successfully created load balancer: ${lb.LoadBalancerName}`};
    } catch (err) {
      flash = {error: err};
    }
    go(lbHash(lb));
  }
});

// ---- a load balancer's details ------------------------------------------------------------------------

async function findLoadBalancer(ref) {
  const params = ref.startsWith("arn:") ? {LoadBalancerArns: [ref]} : {Names: [ref]};
  return (await aws("elbv2", "DescribeLoadBalancers", params)).LoadBalancers[0];
}

/**
 * The public address of each node of an internet-facing NLB, by zone: its network
 * interface's ("ELB net/<name>/<id>", as on AWS), since DescribeLoadBalancers lists
 * addresses only for Elastic IPs. Empty for an internal NLB.
 */
async function nodeAddresses(lb) {
  if (lb.Scheme !== "internet-facing") { return {}; }
  const suffix = lb.LoadBalancerArn.split(":loadbalancer/")[1];
  const enis = await awsAll("ec2", "DescribeNetworkInterfaces",
    {Filters: [{Name: "description", Values: [`ELB ${suffix}`]}]}, "NetworkInterfaces");
  return Object.fromEntries(enis.filter((n) => n.Association && n.Association.PublicIp)
    .map((n) => [n.AvailabilityZone, {publicIp: n.Association.PublicIp, privateIp: n.PrivateIpAddress}]));
}

function detailsPanel(lb, ids, nodes) {
  return details("Details", [
    ["Load balancer type", TYPES[lb.Type] || lb.Type],
    ["Status", el("span", {role: "status", "aria-label": "Load balancer status"}, lbState(lb))],
    ["VPC", link(`#/vpc/vpcs/${lb.VpcId}`, lb.VpcId)],
    ["IP address type", IP_TYPES[lb.IpAddressType] || lb.IpAddressType],
    ["Scheme", SCHEMES[lb.Scheme] || lb.Scheme],
    ["Hosted zone", lb.CanonicalHostedZoneId],
    ["Availability Zones", el("span", {}, ...lb.AvailabilityZones.flatMap((z, i) => [i ? el("br") : null,
      `${z.SubnetId} ${zoneLabel(z.ZoneName, ids)}`]))],
    ["Date created", when(lb.CreatedTime)],
    ["Load balancer ARN", lb.LoadBalancerArn],
    ["DNS name", el("span", {}, el("span", {}, `${lb.DNSName} (A Record)`), ...openNode(lb, nodes))],
  ]);
}

/**
 * An internet-facing NLB's "open" link: one node's public address at its host mapping
 * (the DNS name resolves to the nodes' addresses; the user's machine reaches them on
 * loopback). Nothing for an internal NLB, whose nodes have private addresses only.
 */
function openNode(lb, nodes) {
  if (lb.Scheme !== "internet-facing") { return []; }
  // The first zone's node, by name (each node has its own "open" on the Network mapping tab):
  // with cross-zone load balancing off, a node serves the targets of its own zone.
  const zones = [...(lb.AvailabilityZones || [])].sort((a, b) => a.ZoneName.localeCompare(b.ZoneName));
  for (const z of zones) {
    const open = openAddress((nodes[z.ZoneName] || {}).publicIp, "open");
    if (open) { return [" — ", open]; }
  }
  return [];
}

async function listenersTab(panel, lb) {
  const [listeners, groups] = await Promise.all([
    awsAll("elbv2", "DescribeListeners", {LoadBalancerArn: lb.LoadBalancerArn}, "Listeners", "Marker", "NextMarker"),
    awsAll("elbv2", "DescribeTargetGroups", {LoadBalancerArn: lb.LoadBalancerArn}, "TargetGroups", "Marker", "NextMarker"),
  ]);
  const tgName = Object.fromEntries(groups.map((g) => [g.TargetGroupArn, g.TargetGroupName]));
  const forward = (l) => el("span", {}, ...(l.DefaultActions || []).map((a) => {
    if (a.Type !== "forward") { return a.Type; }
    const arns = a.TargetGroupArn ? [a.TargetGroupArn] : ((a.ForwardConfig || {}).TargetGroups || []).map((t) => t.TargetGroupArn);
    return el("span", {}, "Forward to target group ",
      ...arns.map((arn) => link(`#/ec2/target-groups/${encodeURIComponent(tgName[arn] || arn)}`, tgName[arn] || arn)));
  }));
  panel.append(header("Listeners", listeners.length),
    table("Listeners", [
      {title: "Protocol:Port", value: (l) => `${l.Protocol}:${l.Port}`},
      {title: "Default action", value: forward},
      {title: "ARN", value: (l) => l.ListenerArn},
    ], listeners, {empty: "No listeners"}));
}

function mappingTab(panel, lb, ids, nodes) {
  const address = (z) => {
    const a = (z.LoadBalancerAddresses || [])[0] || {};
    const ip = a.IpAddress || (nodes[z.ZoneName] || {}).publicIp;
    if (ip) { return publicAddress(ip, "open"); }
    return a.PrivateIPv4Address || "Assigned by AWS";
  };
  const privateAddress = (z) => ((z.LoadBalancerAddresses || [])[0] || {}).PrivateIPv4Address
    || (nodes[z.ZoneName] || {}).privateIp || "–";
  panel.append(details("Network mapping", [["VPC", lb.VpcId], ["IP address type", IP_TYPES[lb.IpAddressType] || lb.IpAddressType]]),
    header("Mappings", lb.AvailabilityZones.length),
    table("Mappings", [
      {title: "Zone", value: (z) => zoneLabel(z.ZoneName, ids)},
      {title: "Subnet", value: (z) => z.SubnetId},
      {title: "IPv4 address", value: address},
      {title: "Private IPv4 address", value: privateAddress},
    ], lb.AvailabilityZones));
}

async function securityTab(panel, lb, refresh) {
  const ids = lb.SecurityGroups || [];
  const groups = ids.length ? await awsAll("ec2", "DescribeSecurityGroups", {GroupIds: ids}, "SecurityGroups") : [];
  const edit = async () => {
    const all = await awsAll("ec2", "DescribeSecurityGroups", {Filters: [{Name: "vpc-id", Values: [lb.VpcId]}]}, "SecurityGroups");
    const select = selectField("Security groups", all.map((g) => [g.GroupId, g.GroupName]), {multiple: true});
    for (const o of select.input.options) { o.selected = ids.includes(o.value); }
    panel.replaceChildren(el("section", {class: "panel", "aria-label": "Edit security groups"}, el("h2", {}, "Edit security groups"),
      select.row,
      el("div", {class: "wizard-actions"}, button("Cancel", () => refresh()),
        button("Save changes", async () => {
          const out = await attempt(() => aws("elbv2", "SetSecurityGroups", {LoadBalancerArn: lb.LoadBalancerArn,
            SecurityGroups: selected(select.input)}));
          if (out) { await refresh(); showSuccess(`Successfully updated security groups for ${lb.LoadBalancerName}`); }
        }, {primary: true}))));
  };
  panel.append(header("Security groups", groups.length, button("Edit", edit)),
    table("Security groups", [
      {title: "Security group ID", value: (g) => link(`#/ec2/security-groups/${g.GroupId}`, g.GroupId)},
      {title: "Name", value: (g) => g.GroupName},
      {title: "Description", value: (g) => g.Description},
    ], groups, {empty: "No security groups"}));
}

async function tagsTab(panel, lb) {
  const desc = (await aws("elbv2", "DescribeTags", {ResourceArns: [lb.LoadBalancerArn]})).TagDescriptions;
  const list = desc.length ? desc[0].Tags : [];
  panel.append(header("Tags", list.length),
    table("Tags", [{title: "Key", value: (t) => t.Key}, {title: "Value", value: (t) => t.Value || "–"}], list, {empty: "No tags"}));
}

page("#/ec2/load-balancers/:name", async (root, {name}) => {
  let lb = await findLoadBalancer(name);
  const [ids, nodes] = await Promise.all([zoneIds(), nodeAddresses(lb)]);
  const menu = actionsMenu("Actions", [{label: "Delete load balancer", onclick: async () => {
    if (await deleteLoadBalancer(lb)) {
      flash = {text: `Successfully deleted load balancer: ${lb.LoadBalancerName}`};
      go("#/ec2/load-balancers");
    }
  }}]);
  const live = el("div");
  root.append(
    el("nav", {class: "crumbs", "aria-label": "Breadcrumbs"}, link("#/ec2/load-balancers", "Load balancers"), " > ", lb.LoadBalancerName),
    header(lb.LoadBalancerName, null, menu), live);
  showFlash();
  await liveView(live, async () => (await aws("elbv2", "DescribeLoadBalancers", {LoadBalancerArns: [lb.LoadBalancerArn]})).LoadBalancers[0],
    (fresh) => { lb = fresh; return detailsPanel(fresh, ids, nodes); });
  const security = async (panel) => {
    lb = await findLoadBalancer(lb.LoadBalancerArn);
    panel.replaceChildren();
    await securityTab(panel, lb, () => security(panel));
  };
  root.append(tabs("Load balancer", [
    {title: "Listeners", render: (panel) => listenersTab(panel, lb)},
    {title: "Network mapping", render: async (panel) => mappingTab(panel, lb, ids, nodes)},
    {title: "Security", render: security},
    {title: "Tags", render: (panel) => tagsTab(panel, lb)},
  ]));
});
