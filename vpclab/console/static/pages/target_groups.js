// EC2 > Target groups: the list, Create target group (Specify group details, Register
// targets), a target group's details (Targets live, Health checks, Attributes, Tags),
// Register targets, Deregister, Delete.
"use strict";

import {
  actionsMenu, attempt, aws, awsAll, button, confirmDialog, details, el, field, go, header, link, liveView,
  nameTag, page, radioGroup, selectField, showError, showSuccess, stateBadge, table, tabs, tagEditor,
} from "../lib.js";

const PROTOCOLS = ["TCP", "TLS", "UDP", "TCP_UDP"];
const TARGET_TYPES = {instance: "Instance", ip: "IP"};

/** What the next details page says first (the console's flash after a create or register). */
let flash = null;

function showFlash() {
  if (!flash) { return; }
  if (flash.error) { showError(flash.error); } else { showSuccess(flash.text); }
  flash = null;
}

export function targetGroupHash(tg) { return `#/ec2/target-groups/${encodeURIComponent(tg.TargetGroupName)}`; }

async function allTargetGroups() {
  return awsAll("elbv2", "DescribeTargetGroups", {}, "TargetGroups", "Marker", "NextMarker");
}

async function loadBalancerNames() {
  const lbs = await awsAll("elbv2", "DescribeLoadBalancers", {}, "LoadBalancers", "Marker", "NextMarker");
  return Object.fromEntries(lbs.map((lb) => [lb.LoadBalancerArn, lb.LoadBalancerName]));
}

function loadBalancerLinks(tg, names) {
  const arns = tg.LoadBalancerArns || [];
  if (!arns.length) { return "None associated"; }
  return el("span", {}, ...arns.map((a, i) => [i ? ", " : "", link(`#/ec2/load-balancers/${encodeURIComponent(names[a] || a)}`, names[a] || a)]));
}

async function findTargetGroup(ref) {
  const params = ref.startsWith("arn:") ? {TargetGroupArns: [ref]} : {Names: [ref]};
  return (await aws("elbv2", "DescribeTargetGroups", params)).TargetGroups[0];
}

/** Delete with the console's question; resolves true once deleted (an AWS error is the banner). */
async function deleteTargetGroup(tg) {
  const ok = await confirmDialog("Delete target group",
    `Are you sure you want to delete the target group ${tg.TargetGroupName}? This action cannot be undone.`, "Yes, delete");
  if (!ok) { return false; }
  const out = await attempt(() => aws("elbv2", "DeleteTargetGroup", {TargetGroupArn: tg.TargetGroupArn}));
  return out !== undefined;
}

// ---- the list -----------------------------------------------------------------------------

page("#/ec2/target-groups", async (root) => {
  let chosen = null;
  const draw = async () => {
    const [groups, names] = await Promise.all([allTargetGroups(), loadBalancerNames()]);
    chosen = null;
    const columns = [
      {title: "Name", value: (g) => link(targetGroupHash(g), g.TargetGroupName)},
      {title: "ARN", value: (g) => g.TargetGroupArn},
      {title: "Port", value: (g) => String(g.Port)},
      {title: "Protocol", value: (g) => g.Protocol},
      {title: "Target type", value: (g) => TARGET_TYPES[g.TargetType] || g.TargetType},
      {title: "Load balancer", value: (g) => loadBalancerLinks(g, names)},
      {title: "VPC ID", value: (g) => link(`#/vpc/vpcs/${g.VpcId}`, g.VpcId)},
    ];
    const menu = actionsMenu("Actions", [{label: "Delete", disabled: () => !chosen, onclick: async () => {
      const tg = chosen;
      if (await deleteTargetGroup(tg)) {
        await draw();
        showSuccess(`Successfully deleted target group: ${tg.TargetGroupName}`);
      }
    }}]);
    root.replaceChildren(
      header("Target groups", groups.length, menu,
        button("Create target group", () => go("#/ec2/target-groups/create"), {primary: true})),
      table("Target groups", columns, groups, {onSelect: (g) => { chosen = g; }, key: (g) => g.TargetGroupName,
        empty: "No target groups"}));
  };
  await draw();
});

// ---- Register targets (step 2 of create, and the Targets tab's "Register targets") ---------

/**
 * The console's register-targets panel: available instances of the VPC with checkboxes,
 * "Ports for the selected instances", "Include as pending below" and "Review targets".
 * For IP targets: an IPv4 address and port. `pending()` gives [{Id, Port}].
 */
async function registerTargetsPanel(targetType, vpcId, defaultPort) {
  const pending = [];
  const review = el("div");
  const drawReview = () => {
    review.replaceChildren(
      header("Targets", pending.length),
      table("Review targets", [
        {title: el("span", {class: "sr-only"}, "Remove"), value: (p) => button("Remove", () => {
          pending.splice(pending.indexOf(p), 1); drawReview();
        })},
        {title: "Health status", value: () => "Pending"},
        {title: targetType === "ip" ? "IP address" : "Instance ID", value: (p) => p.Id},
        {title: "Name", value: (p) => p.name || "–"},
        {title: "Port", value: (p) => String(p.Port)},
        {title: "Zone", value: (p) => p.zone || "–"},
      ], pending, {empty: "No pending targets"}));
  };
  const include = (items, port) => {
    for (const item of items) {
      if (!pending.some((p) => p.Id === item.Id && p.Port === port)) { pending.push({...item, Port: port}); }
    }
    drawReview();
  };
  let chooser;
  if (targetType === "ip") {
    const address = field("Enter an IPv4 address from a VPC subnet", {placeholder: "172.31.0.10"});
    const port = field("Ports", {type: "number", value: String(defaultPort)});
    chooser = el("section", {class: "panel", "aria-label": "IP addresses"}, el("h2", {}, "IP addresses"),
      el("div", {class: "inline-fields"}, address.row, port.row),
      button("Include as pending below", () => {
        if (address.input.value.trim()) { include([{Id: address.input.value.trim()}], Number(port.input.value)); }
      }));
  } else {
    const reservations = await awsAll("ec2", "DescribeInstances", {Filters: [
      {Name: "vpc-id", Values: [vpcId]},
      {Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"]}]}, "Reservations");
    const instances = reservations.flatMap((r) => r.Instances);
    const checked = new Set();
    const port = field("Ports for the selected instances", {type: "number", value: String(defaultPort),
      hint: "Ports for routing traffic to the selected instances. 1-65535"});
    chooser = el("section", {class: "panel", "aria-label": "Available instances"},
      header("Available instances", instances.length),
      table("Available instances", [
        {title: el("span", {class: "sr-only"}, "Select"), value: (i) => {
          const box = el("input", {type: "checkbox", "aria-label": `Select ${i.InstanceId}`});
          box.addEventListener("change", () => { if (box.checked) { checked.add(i); } else { checked.delete(i); } });
          return box;
        }},
        {title: "Instance ID", value: (i) => i.InstanceId},
        {title: "Name", value: (i) => nameTag(i.Tags) || "–"},
        {title: "State", value: (i) => stateBadge(i.State.Name)},
        {title: "Security groups", value: (i) => (i.SecurityGroups || []).map((g) => g.GroupName).join(", ")},
        {title: "Zone", value: (i) => i.Placement.AvailabilityZone},
        {title: "Subnet ID", value: (i) => i.SubnetId},
      ], instances, {empty: "No instances in this VPC"}),
      port.row,
      button("Include as pending below", () => include([...checked].map((i) => ({
        Id: i.InstanceId, name: nameTag(i.Tags), zone: i.Placement.AvailabilityZone})), Number(port.input.value))));
  }
  drawReview();
  const node = el("div", {}, chooser,
    el("section", {class: "panel", "aria-label": "Review targets"}, el("h2", {}, "Review targets"), review));
  return {node, pending: () => pending.map((p) => ({Id: p.Id, Port: p.Port}))};
}

async function registerTargets(tg, targets) {
  if (!targets.length) { return true; }
  const out = await attempt(() => aws("elbv2", "RegisterTargets", {TargetGroupArn: tg.TargetGroupArn, Targets: targets}));
  return out !== undefined;
}

// ---- Create target group ---------------------------------------------------------------------

page("#/ec2/target-groups/create", async (root) => {
  const vpcs = (await aws("ec2", "DescribeVpcs", {})).Vpcs;
  const defaultVpc = vpcs.find((v) => v.IsDefault) || vpcs[0];

  const targetType = radioGroup("Choose a target type", [
    ["instance", "Instances", "Supports load balancing to instances within a specific VPC."],
    ["ip", "IP addresses", "Supports load balancing to VPC and on-premises resources."],
  ], "instance");
  const name = field("Target group name", {
    hint: "A maximum of 32 alphanumeric characters including hyphens are allowed, but the name must not begin or end with a hyphen."});
  const protocol = selectField("Protocol", PROTOCOLS.map((p) => [p, p]), {value: "TCP"});
  const port = field("Port", {type: "number", value: "80", hint: "1-65535"});
  const ipType = radioGroup("IP address type", [["ipv4", "IPv4"], ["ipv6", "IPv6"]], "ipv4");
  const vpc = selectField("VPC", vpcs.map((v) => [v.VpcId,
    `${nameTag(v.Tags) ? nameTag(v.Tags) + " " : ""}${v.VpcId}${v.IsDefault ? " (default)" : ""} — IPv4 VPC CIDR: ${v.CidrBlock}`]),
  {value: defaultVpc ? defaultVpc.VpcId : undefined,
    hint: "Select the VPC with the instances that you want to include in the target group."});

  const hcProtocol = selectField("Health check protocol", [["TCP", "TCP"], ["HTTP", "HTTP"]], {value: "TCP"});
  const hcPath = field("Health check path", {value: "/", hint: "Up to 1024 characters allowed."});
  const hcPort = radioGroup("Health check port", [["traffic-port", "Traffic port"], ["override", "Override"]], "traffic-port",
    (v) => { hcPortOverride.row.hidden = v !== "override"; });
  const hcPortOverride = field("Health check port override", {type: "number", value: "80"});
  const healthy = field("Healthy threshold", {type: "number", value: "5", hint: "2-10"});
  const unhealthy = field("Unhealthy threshold", {type: "number", value: "2", hint: "2-10"});
  const timeout = field("Timeout", {type: "number", value: "10", hint: "seconds, 2-120"});
  const interval = field("Interval", {type: "number", value: "30", hint: "seconds, 5-300"});
  const codes = field("Success codes", {value: "200-399", hint: "HTTP codes, e.g. 200,202 or 200-299."});
  const tags = tagEditor();
  const showHttp = () => {
    const http = hcProtocol.input.value === "HTTP";
    hcPath.row.hidden = !http;
    codes.row.hidden = !http;
    timeout.input.value = http ? "6" : "10";
  };
  hcProtocol.input.addEventListener("change", showHttp);
  hcPath.row.hidden = true;
  codes.row.hidden = true;
  hcPortOverride.row.hidden = true;

  const steps = el("ol", {class: "steps", "aria-label": "Steps"},
    el("li", {"aria-current": "step"}, "Step 1 Specify group details"), el("li", {}, "Step 2 Register targets"));
  const title = el("h1", {}, "Specify group details");
  const step1 = el("div", {},
    el("section", {class: "panel", "aria-label": "Basic configuration"}, el("h2", {}, "Basic configuration"),
      el("p", {class: "hint"}, "Settings in this section can't be changed after the target group is created."),
      targetType.row, name.row,
      el("div", {class: "field"}, el("span", {class: "label"}, "Protocol : Port"),
        el("p", {class: "hint"}, "Choose a protocol for your target group that corresponds to the Load Balancer type that will route traffic to it."),
        el("div", {class: "inline-fields"}, protocol.row, port.row)),
      ipType.row, vpc.row),
    el("section", {class: "panel", "aria-label": "Health checks"}, el("h2", {}, "Health checks"),
      el("p", {class: "hint"}, "The associated load balancer periodically sends requests to the registered targets to test their status."),
      hcProtocol.row, hcPath.row,
      el("details", {class: "advanced"}, el("summary", {}, "Advanced health check settings"),
        hcPort.row, hcPortOverride.row, healthy.row, unhealthy.row, timeout.row, interval.row, codes.row)),
    tags.row,
    el("div", {class: "wizard-actions"}, button("Cancel", () => go("#/ec2/target-groups")),
      button("Next", () => toStep2(), {primary: true})));
  const step2 = el("div", {hidden: true});
  root.append(steps, title, step1, step2);

  let register = null;
  async function toStep2() {
    register = await registerTargetsPanel(targetType.value(), vpc.input.value, Number(port.input.value));
    step1.hidden = true;
    step2.hidden = false;
    title.textContent = "Register targets";
    steps.children[0].removeAttribute("aria-current");
    steps.children[1].setAttribute("aria-current", "step");
    step2.replaceChildren(
      el("p", {class: "hint"}, "This is an optional step to create a target group. However, to ensure that your load balancer routes traffic to this target group you must register your targets."),
      register.node,
      el("div", {class: "wizard-actions"}, button("Cancel", () => go("#/ec2/target-groups")),
        button("Previous", () => {
          step2.hidden = true; step1.hidden = false; title.textContent = "Specify group details";
          steps.children[1].removeAttribute("aria-current"); steps.children[0].setAttribute("aria-current", "step");
        }),
        button("Create target group", () => create(), {primary: true})));
  }

  function params() {
    const p = {
      Name: name.input.value.trim(), Protocol: protocol.input.value, Port: Number(port.input.value),
      VpcId: vpc.input.value, TargetType: targetType.value(), HealthCheckProtocol: hcProtocol.input.value,
      HealthyThresholdCount: Number(healthy.input.value), UnhealthyThresholdCount: Number(unhealthy.input.value),
      HealthCheckTimeoutSeconds: Number(timeout.input.value), HealthCheckIntervalSeconds: Number(interval.input.value),
    };
    if (ipType.value() !== "ipv4") { p.IpAddressType = ipType.value(); }
    if (hcPort.value() === "override") { p.HealthCheckPort = hcPortOverride.input.value; }
    if (p.HealthCheckProtocol === "HTTP") {
      p.HealthCheckPath = hcPath.input.value;
      p.Matcher = {HttpCode: codes.input.value};
    }
    if (tags.tags().length) { p.Tags = tags.tags(); }
    return p;
  }

  async function create() {
    const out = await attempt(() => aws("elbv2", "CreateTargetGroup", params()));
    if (!out) { return; }
    const tg = out.TargetGroups[0];
    const targets = register.pending();
    try {
      if (targets.length) { await aws("elbv2", "RegisterTargets", {TargetGroupArn: tg.TargetGroupArn, Targets: targets}); }
      flash = {text: `Successfully created target group: ${tg.TargetGroupName}`};
    } catch (err) {
      flash = {error: err};
    }
    go(targetGroupHash(tg));
  }
});

// ---- a target group's details -------------------------------------------------------------------

page("#/ec2/target-groups/:ref/register", async (root, {ref}) => {
  const tg = await findTargetGroup(ref);
  const register = await registerTargetsPanel(tg.TargetType, tg.VpcId, tg.Port);
  root.append(el("h1", {}, "Register targets"),
    el("p", {class: "hint"}, `Register targets to ${tg.TargetGroupName}.`), register.node,
    el("div", {class: "wizard-actions"}, button("Cancel", () => go(targetGroupHash(tg))),
      button("Register pending targets", async () => {
        if (await registerTargets(tg, register.pending())) {
          flash = {text: `Successfully registered targets to ${tg.TargetGroupName}`};
          go(targetGroupHash(tg));
        }
      }, {primary: true})));
});

const COUNTS = [["Total targets", null], ["Healthy", "healthy"], ["Unhealthy", "unhealthy"], ["Unused", "unused"],
  ["Initial", "initial"], ["Draining", "draining"]];

/** Registered targets with their health and the instances' names and zones. */
async function loadTargets(tg) {
  const health = (await aws("elbv2", "DescribeTargetHealth", {TargetGroupArn: tg.TargetGroupArn})).TargetHealthDescriptions;
  const ids = tg.TargetType === "instance" ? [...new Set(health.map((h) => h.Target.Id))] : [];
  const instances = {};
  if (ids.length) {
    const res = await awsAll("ec2", "DescribeInstances", {Filters: [{Name: "instance-id", Values: ids}]}, "Reservations");
    for (const i of res.flatMap((r) => r.Instances)) {
      instances[i.InstanceId] = {name: nameTag(i.Tags), zone: i.Placement.AvailabilityZone};
    }
  }
  return health.map((h) => ({
    id: h.Target.Id, port: h.Target.Port, state: h.TargetHealth.State,
    reason: h.TargetHealth.Reason || "", description: h.TargetHealth.Description || "",
    name: (instances[h.Target.Id] || {}).name || "", zone: (instances[h.Target.Id] || {}).zone || h.Target.AvailabilityZone || "",
  }));
}

function healthChecks(tg) {
  const pairs = [
    ["Protocol", tg.HealthCheckProtocol],
    ["Port", tg.HealthCheckPort === "traffic-port" ? "Traffic port" : tg.HealthCheckPort],
    ["Healthy threshold", `${tg.HealthyThresholdCount} consecutive health check successes`],
    ["Unhealthy threshold", `${tg.UnhealthyThresholdCount} consecutive health check failures`],
    ["Timeout", `${tg.HealthCheckTimeoutSeconds} seconds`],
    ["Interval", `${tg.HealthCheckIntervalSeconds} seconds`],
  ];
  if (tg.HealthCheckPath) { pairs.splice(2, 0, ["Path", tg.HealthCheckPath]); }
  if (tg.Matcher) { pairs.push(["Success codes", tg.Matcher.HttpCode || tg.Matcher.GrpcCode]); }
  return details("Health check settings", pairs);
}

const ATTRIBUTE_NAMES = {
  "deregistration_delay.timeout_seconds": "Deregistration delay",
  "deregistration_delay.connection_termination.enabled": "Connection termination on deregistration",
  "proxy_protocol_v2.enabled": "Proxy protocol v2",
  "preserve_client_ip.enabled": "Preserve client IP addresses",
  "stickiness.enabled": "Stickiness",
  "stickiness.type": "Stickiness type",
  "load_balancing.cross_zone.enabled": "Cross-zone load balancing",
  "target_health_state.unhealthy.connection_termination.enabled": "Connection termination on unhealthy targets",
};

page("#/ec2/target-groups/:ref", async (root, {ref}) => {
  const tg = await findTargetGroup(ref);
  const names = await loadBalancerNames();
  const menu = actionsMenu("Actions", [
    {label: "Register targets", onclick: () => go(`${targetGroupHash(tg)}/register`)},
    {label: "Delete", onclick: async () => {
      if (await deleteTargetGroup(tg)) {
        go("#/ec2/target-groups");
      }
    }},
  ]);
  const counts = el("div", {class: "counts"});
  root.append(
    el("nav", {class: "crumbs", "aria-label": "Breadcrumbs"}, link("#/ec2/target-groups", "Target groups"), " > ", tg.TargetGroupName),
    header(tg.TargetGroupName, null, menu),
    details("Details", [
      ["Target type", TARGET_TYPES[tg.TargetType] || tg.TargetType],
      ["Protocol : Port", `${tg.Protocol}: ${tg.Port}`],
      ["IP address type", {ipv4: "IPv4", ipv6: "IPv6"}[tg.IpAddressType || "ipv4"] || tg.IpAddressType],
      ["VPC", link(`#/vpc/vpcs/${tg.VpcId}`, tg.VpcId)],
      ["Load balancer", loadBalancerLinks(tg, names)],
      ["ARN", tg.TargetGroupArn],
    ]),
    counts);
  showFlash();
  const liveCounts = (targets) => details("Targets", COUNTS.map(([label, state]) => [
    label, String(state ? targets.filter((t) => t.state === state).length : targets.length)]));

  const checked = new Set();
  const key = (t) => `${t.id}:${t.port}`;
  const targetsTab = async (panel) => {
    const view = el("div");
    panel.append(view);
    await liveView(view, () => loadTargets(tg), (targets) => {
      counts.replaceChildren(liveCounts(targets));
      for (const k of [...checked]) { if (!targets.some((t) => key(t) === k)) { checked.delete(k); } }
      return [
        header("Registered targets", targets.length,
          button("Deregister", async () => {
            const chosen = targets.filter((t) => checked.has(key(t)));
            if (!chosen.length) { return; }
            const out = await attempt(() => aws("elbv2", "DeregisterTargets", {TargetGroupArn: tg.TargetGroupArn,
              Targets: chosen.map((t) => ({Id: t.id, Port: t.port}))}));
            if (out) { showSuccess(`Successfully deregistered ${chosen.length} target(s)`); }
          }),
          button("Register targets", () => go(`${targetGroupHash(tg)}/register`), {primary: true})),
        table("Registered targets", [
          {title: el("span", {class: "sr-only"}, "Select"), value: (t) => {
            const box = el("input", {type: "checkbox", "aria-label": `Select ${t.id}`});
            box.checked = checked.has(key(t));
            box.addEventListener("change", () => { if (box.checked) { checked.add(key(t)); } else { checked.delete(key(t)); } });
            return box;
          }},
          {title: tg.TargetType === "ip" ? "IP address" : "Instance ID", value: (t) => t.id},
          {title: "Name", value: (t) => t.name || "–"},
          {title: "Port", value: (t) => String(t.port)},
          {title: "Zone", value: (t) => t.zone || "–"},
          {title: "Health status", value: (t) => stateBadge(t.state)},
          {title: "Health status details", value: (t) => t.description || "–"},
        ], targets, {empty: "No registered targets"}),
      ];
    });
  };
  root.append(tabs("Target group", [
    {title: "Targets", render: targetsTab},
    {title: "Health checks", render: async (panel) => { panel.append(healthChecks(tg)); }},
    {title: "Attributes", render: async (panel) => {
      const attrs = (await aws("elbv2", "DescribeTargetGroupAttributes", {TargetGroupArn: tg.TargetGroupArn})).Attributes;
      panel.append(details("Attributes", attrs.map((a) => [ATTRIBUTE_NAMES[a.Key] || a.Key, a.Value])));
    }},
    {title: "Tags", render: async (panel) => {
      const desc = (await aws("elbv2", "DescribeTags", {ResourceArns: [tg.TargetGroupArn]})).TagDescriptions;
      const list = desc.length ? desc[0].Tags : [];
      panel.append(header("Tags", list.length),
        table("Tags", [{title: "Key", value: (t) => t.Key}, {title: "Value", value: (t) => t.Value || "–"}], list, {empty: "No tags"}));
    }},
  ]));
  // The counts show before the Targets tab is first chosen again.
  if (!counts.children.length) { counts.replaceChildren(liveCounts(await loadTargets(tg))); }
});
