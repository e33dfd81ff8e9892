// EC2 > Instances: the list (live), an instance's details (Details, Security, Networking,
// Tags), Launch instances, and the Instance state menu (stop, start, terminate).
"use strict";

import {
  attempt, aws, awsAll, button, confirmDialog, details, el, field, go, header, link, actionsMenu,
  nameTag, openAddress, page, poll, publicAddress, radioGroup, selectField, selected, showSuccess, stateBadge, table, tabs, when,
} from "../lib.js";
import {groupRules, rulesTable} from "./security_groups.js";

/** How often the list and the details ask again, so states move on screen. */
const POLL_MS = 1500;

/** The console's Status check: both checks ok is "2/2 checks passed". */
function statusCheck(status) {
  if (!status) { return "–"; }
  const checks = [status.SystemStatus, status.InstanceStatus].map((s) => (s && s.Status) || "not-applicable");
  if (checks.includes("initializing")) { return "Initializing"; }
  if (checks.every((c) => c === "not-applicable")) { return "–"; }
  return `${checks.filter((c) => c === "ok").length}/${checks.length} checks passed`;
}

/** The account's instances and their status checks, as the list shows them. */
async function describeInstances(params) {
  const reservations = await awsAll("ec2", "DescribeInstances", params || {}, "Reservations");
  const items = reservations.flatMap((r) => r.Instances);
  const ids = items.map((i) => i.InstanceId);
  // Every status of the account (not by id: a thousand ids make a request as large as the answer).
  const statuses = ids.length ? await awsAll("ec2", "DescribeInstanceStatus",
    {IncludeAllInstances: true}, "InstanceStatuses") : [];
  const byId = Object.fromEntries(statuses.map((s) => [s.InstanceId, s]));
  return items.map((i) => Object.assign({}, i, {Status: byId[i.InstanceId]}));
}

const COLUMNS = [
  {title: "Name", value: (i) => nameTag(i.Tags) || "–"},
  {title: "Instance ID", value: (i) => link(`#/ec2/instances/${i.InstanceId}`, i.InstanceId)},
  {title: "Instance state", value: (i) => stateBadge(i.State.Name)},
  {title: "Instance type", value: (i) => i.InstanceType},
  {title: "Status check", value: (i) => statusCheck(i.Status)},
  {title: "Availability Zone", value: (i) => i.Placement.AvailabilityZone},
  {title: "Public IPv4 DNS", value: (i) => i.PublicDnsName || "–"},
  {title: "Public IPv4 address", value: (i) => i.PublicIpAddress || "–"},
  {title: "Private IP address", value: (i) => i.PrivateIpAddress || "–"},
];

/** The Public IPv4 DNS name with its "open address" link (the name stands for the address). */
function publicDns(i) {
  if (!i.PublicDnsName) { return "–"; }
  const open = openAddress(i.PublicIpAddress);
  return open ? el("span", {}, i.PublicDnsName, " — ", open) : i.PublicDnsName;
}

// ---- Instance state: stop, start, terminate -------------------------------------------------

/**
 * The "Instance state" menu for the instance `current()` returns (undefined: none chosen,
 * then every item is disabled), with the console's confirmations; `after()` runs once an
 * action went through.
 */
function instanceStateMenu(current, after) {
  const state = () => (current() ? current().State.Name : "");
  const act = async (operation, id, text) => {
    const ok = await attempt(() => aws("ec2", operation, {InstanceIds: [id]}));
    if (ok) { showSuccess(text); await after(); }
  };
  return actionsMenu("Instance state", [
    {label: "Stop instance", disabled: () => !["pending", "running"].includes(state()), onclick: async () => {
      const id = current().InstanceId;
      if (await confirmDialog("Stop instance?", `To confirm that you want to stop the following instance, choose Stop: ${id}`, "Stop")) {
        await act("StopInstances", id, `Successfully stopped ${id}`);
      }
    }},
    {label: "Start instance", disabled: () => state() !== "stopped", onclick: async () => {
      const id = current().InstanceId;
      await act("StartInstances", id, `Successfully started ${id}`);
    }},
    {label: "Terminate instance", disabled: () => !state() || ["shutting-down", "terminated"].includes(state()), onclick: async () => {
      const id = current().InstanceId;
      if (await confirmDialog("Terminate instance?",
        `On an EBS-backed instance, the default action is for the root EBS volume to be deleted when the instance is terminated. Are you sure you want to terminate ${id}?`,
        "Terminate")) {
        await act("TerminateInstances", id, `Successfully terminated ${id}`);
      }
    }},
  ]);
}

// ---- the list ------------------------------------------------------------------------------

page("#/ec2/instances", async (root) => {
  let items = await describeInstances();
  let chosen;  // the selected instance's id
  const current = () => items.find((i) => i.InstanceId === chosen);
  const connect = button("Connect", () => go(`#/ec2/instances/${chosen}/connect`), {disabled: true});
  const menu = instanceStateMenu(current, () => refresh());
  const launch = button("Launch instances", () => go("#/ec2/instances/launch"), {primary: true});
  const head = el("div");
  const body = el("div");
  function render() {
    head.replaceChildren(header("Instances", items.length, connect, menu, launch));
    const t = table("Instances", COLUMNS, items, {
      key: (i) => i.InstanceId,
      onSelect: (i) => { chosen = i.InstanceId; connect.disabled = false; },
    });
    const radio = chosen && t.querySelector(`input[type="radio"][aria-label="Select ${CSS.escape(chosen)}"]`);
    if (radio) { radio.checked = true; } else if (chosen && !current()) { chosen = undefined; }
    connect.disabled = !current();
    body.replaceChildren(t);
  }
  async function refresh() { items = await describeInstances(); render(); }
  render();
  root.append(head, body);
  poll(body, refresh, POLL_MS);
});

// ---- Launch instances ---------------------------------------------------------------------

/** The first launch-wizard-N name no group of the VPC has, as the console proposes. */
function wizardGroupName(groups) {
  const names = new Set(groups.map((g) => g.GroupName));
  let n = 1;
  while (names.has(`launch-wizard-${n}`)) { n += 1; }
  return `launch-wizard-${n}`;
}

/** A wizard section: a heading, not a label (its fields carry the same words as labels). */
function section(title, ...children) {
  return el("section", {}, el("h2", {}, title), ...children);
}

/** The private key as a file the browser saves, as the console downloads it once. */
function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], {type: "application/x-pem-file"}));
  const a = el("a", {href: url, download: filename, class: "sr-only"});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/**
 * The wizard's "Create key pair" dialog: CreateKeyPair, then the private key is
 * downloaded. Resolves to the new key's name, or undefined when cancelled.
 */
function createKeyPairDialog() {
  return new Promise((resolve) => {
    const name = field("Key pair name", {hint: "The name can include up to 255 ASCII characters."});
    const type = selectField("Key pair type", [["rsa", "RSA"], ["ed25519", "ED25519"]]);
    const format = selectField("Private key file format", [["pem", ".pem (For use with OpenSSH)"], ["ppk", ".ppk (For use with PuTTY)"]]);
    const problem = el("p", {class: "dialog-error", role: "alert", hidden: true});
    const close = (value) => { dialog.remove(); resolve(value); };
    const create = button("Create key pair", async () => {
      try {
        const out = await aws("ec2", "CreateKeyPair", {KeyName: name.input.value, KeyType: type.input.value,
          KeyFormat: format.input.value});
        download(`${out.KeyName}.${format.input.value}`, out.KeyMaterial);
        close(out.KeyName);
      } catch (err) {
        problem.textContent = `${err.Code}: ${err.Message}`;
        problem.hidden = false;
      }
    }, {primary: true});
    const dialog = el("div", {class: "modal", role: "dialog", "aria-modal": "true", "aria-label": "Create key pair"},
      el("div", {class: "modal-box"}, el("h2", {}, "Create key pair"), problem, name.row, type.row, format.row,
        el("div", {class: "actions end"}, button("Cancel", () => close(undefined)), create)));
    document.body.append(dialog);
    name.input.focus();
  });
}

page("#/ec2/instances/launch", async (root) => {
  const [images, keys, vpcs, subnets, groups] = await Promise.all([
    awsAll("ec2", "DescribeImages", {Owners: ["amazon"]}, "Images"),
    aws("ec2", "DescribeKeyPairs", {}).then((o) => o.KeyPairs),
    awsAll("ec2", "DescribeVpcs", {}, "Vpcs"),
    awsAll("ec2", "DescribeSubnets", {}, "Subnets"),
    awsAll("ec2", "DescribeSecurityGroups", {}, "SecurityGroups"),
  ]);
  // As the console's Quick Start: x86_64 first, the newest image first.
  images.sort((a, b) => (a.Architecture === "x86_64" ? 0 : 1) - (b.Architecture === "x86_64" ? 0 : 1)
    || b.CreationDate.localeCompare(a.CreationDate));

  const name = field("Name", {placeholder: "e.g. My Web Server"});
  const image = selectField("Amazon Machine Image (AMI)",
    images.map((i) => [i.ImageId, `${i.Description} — ${i.ImageId} (${i.Architecture})`]),
    {value: images.length ? images[0].ImageId : undefined});
  const type = selectField("Instance type", []);
  const key = selectField("Key pair (login)", [["", "Proceed without a key pair (Not recommended)"],
    ...keys.map((k) => [k.KeyName, k.KeyName])], {hint: "You can use a key pair to securely connect to your instance."});
  const newKey = button("Create new key pair", async () => {
    const made = await createKeyPairDialog();
    if (made) {
      key.input.append(el("option", {value: made}, made));
      key.input.value = made;
    }
  });
  const defaultVpc = vpcs.find((v) => v.IsDefault) || vpcs[0];
  const vpc = selectField("VPC", vpcs.map((v) => [v.VpcId,
    `${v.VpcId}${nameTag(v.Tags) ? ` (${nameTag(v.Tags)})` : ""}${v.IsDefault ? " (default)" : ""}`]),
  {value: defaultVpc && defaultVpc.VpcId});
  const subnet = selectField("Subnet", []);
  const publicIp = selectField("Auto-assign public IP", [["enable", "Enable"], ["disable", "Disable"]]);
  let publicIpDefault = "enable";
  const count = field("Number of instances", {type: "number", value: "1"});

  // The instance types that fit the chosen image's architecture (DescribeInstanceTypes).
  async function fillTypes() {
    const arch = (images.find((i) => i.ImageId === image.input.value) || {}).Architecture || "x86_64";
    const was = type.input.value || "t2.micro";
    const found = await awsAll("ec2", "DescribeInstanceTypes",
      {Filters: [{Name: "processor-info.supported-architecture", Values: [arch]}]}, "InstanceTypes");
    found.sort((a, b) => a.InstanceType.localeCompare(b.InstanceType, "en", {numeric: true}));
    type.input.replaceChildren(...found.map((t) => el("option", {value: t.InstanceType},
      `${t.InstanceType} — ${t.VCpuInfo.DefaultVCpus} vCPU`)));
    const fallback = found.find((t) => t.InstanceType.endsWith(".micro")) || found[0];
    type.input.value = found.some((t) => t.InstanceType === was) ? was : fallback ? fallback.InstanceType : "";
  }
  // The subnets of the chosen VPC, each with its zone; "No preference" in the default VPC.
  function fillSubnets() {
    const chosenVpc = vpcs.find((v) => v.VpcId === vpc.input.value);
    const own = subnets.filter((s) => s.VpcId === vpc.input.value)
      .sort((a, b) => a.AvailabilityZone.localeCompare(b.AvailabilityZone));
    const options = own.map((s) => el("option", {value: s.SubnetId},
      `${s.SubnetId}${nameTag(s.Tags) ? ` (${nameTag(s.Tags)})` : ""} — ${s.AvailabilityZone} (${s.AvailabilityZoneId})`));
    if (chosenVpc && chosenVpc.IsDefault) {
      options.unshift(el("option", {value: ""}, "No preference (Default subnet in any availability zone)"));
    }
    subnet.input.replaceChildren(...options);
    fillPublicIp();
    fillGroups();
  }
  function fillPublicIp() {
    const s = subnets.find((x) => x.SubnetId === subnet.input.value);
    const chosenVpc = vpcs.find((v) => v.VpcId === vpc.input.value);
    const auto = s ? s.MapPublicIpOnLaunch : Boolean(chosenVpc && chosenVpc.IsDefault);
    // The subnet's setting (MapPublicIpOnLaunch) is the default; a choice overrides it.
    publicIpDefault = auto ? "enable" : "disable";
    publicIp.input.value = publicIpDefault;
  }
  image.input.addEventListener("change", () => attempt(fillTypes));
  vpc.input.addEventListener("change", fillSubnets);
  subnet.input.addEventListener("change", fillPublicIp);

  // Firewall (security groups): a new launch-wizard group, or existing ones of the VPC.
  const groupName = field("Security group name");
  const allowSsh = field("Allow SSH traffic from", {type: "checkbox", checked: true});
  const sshFrom = selectField("SSH source", [["0.0.0.0/0", "Anywhere 0.0.0.0/0"]]);
  const allowHttps = field("Allow HTTPS traffic from the internet", {type: "checkbox"});
  const allowHttp = field("Allow HTTP traffic from the internet", {type: "checkbox"});
  const existing = selectField("Common security groups", [], {multiple: true});
  const createBox = el("div", {class: "subsection"}, groupName.row,
    el("p", {class: "hint"}, "We'll create a new security group with the following rules:"),
    allowSsh.row, sshFrom.row, allowHttps.row, allowHttp.row);
  const selectBox = el("div", {class: "subsection", hidden: true}, existing.row);
  const firewall = radioGroup("Firewall (security groups)",
    [["create", "Create security group"], ["select", "Select existing security group"]], "create",
    (v) => { createBox.hidden = v !== "create"; selectBox.hidden = v === "create"; });
  function fillGroups() {
    const own = groups.filter((g) => g.VpcId === vpc.input.value);
    existing.input.replaceChildren(...own.map((g) => el("option", {value: g.GroupId}, `${g.GroupName} (${g.GroupId})`)));
    groupName.input.value = wizardGroupName(own);
  }

  const userData = field("User data - optional", {type: "textarea", rows: "8",
    hint: "Enter user data in the field. User data is run when the instance launches."});
  const advanced = el("div", {class: "subsection", hidden: true}, userData.row);
  const advancedToggle = el("button", {type: "button", class: "disclosure", "aria-expanded": "false"}, "Advanced details");
  advancedToggle.addEventListener("click", () => {
    advanced.hidden = !advanced.hidden;
    advancedToggle.setAttribute("aria-expanded", String(!advanced.hidden));
  });

  /** The console's calls: the wizard's group and its rules, then RunInstances. */
  async function launchInstances() {
    let groupIds = selected(existing.input);
    if (firewall.value() === "create") {
      const gname = groupName.input.value;
      const made = await aws("ec2", "CreateSecurityGroup", {GroupName: gname, VpcId: vpc.input.value,
        Description: `${gname} created ${new Date().toISOString()}`});
      const ingress = [];
      const open = (port) => ({IpProtocol: "tcp", FromPort: port, ToPort: port, IpRanges: [{CidrIp: "0.0.0.0/0"}]});
      if (allowSsh.input.checked) { ingress.push(Object.assign(open(22), {IpRanges: [{CidrIp: sshFrom.input.value}]})); }
      if (allowHttps.input.checked) { ingress.push(open(443)); }
      if (allowHttp.input.checked) { ingress.push(open(80)); }
      if (ingress.length) {
        await aws("ec2", "AuthorizeSecurityGroupIngress", {GroupId: made.GroupId, IpPermissions: ingress});
      }
      groupIds = [made.GroupId];
    }
    const n = Number(count.input.value);
    const params = {ImageId: image.input.value, InstanceType: type.input.value, MinCount: n, MaxCount: n};
    if (publicIp.input.value !== publicIpDefault) {
      // AssociatePublicIpAddress exists only on a network interface: the subnet and groups go there too.
      const nic = {DeviceIndex: 0, AssociatePublicIpAddress: publicIp.input.value === "enable"};
      if (subnet.input.value) { nic.SubnetId = subnet.input.value; }
      if (groupIds.length) { nic.Groups = groupIds; }
      params.NetworkInterfaces = [nic];
    } else {
      if (groupIds.length) { params.SecurityGroupIds = groupIds; }
      if (subnet.input.value) { params.SubnetId = subnet.input.value; }
    }
    if (key.input.value) { params.KeyName = key.input.value; }
    if (userData.input.value) { params.UserData = userData.input.value; }  // boto3 base64-encodes it (calls.py)
    if (name.input.value) {
      params.TagSpecifications = [{ResourceType: "instance", Tags: [{Key: "Name", Value: name.input.value}]}];
    }
    const out = await aws("ec2", "RunInstances", params);
    const ids = out.Instances.map((i) => i.InstanceId);
    root.replaceChildren(header("Launch an instance", null),
      el("section", {class: "panel success-panel", "aria-label": "Success"},
        el("h2", {}, "Success"),
        el("p", {}, `Successfully initiated launch of instance${ids.length > 1 ? "s" : ""} (`,
          ...ids.flatMap((id, k) => [k ? ", " : "", link(`#/ec2/instances/${id}`, id)]), ")")),
      el("div", {class: "actions end"}, button("View all instances", () => go("#/ec2/instances"), {primary: true})));
  }

  fillSubnets();
  await fillTypes();
  const launch = button("Launch instance", () => attempt(launchInstances), {primary: true});
  root.append(header("Launch an instance", null),
    el("p", {class: "hint"}, "Amazon EC2 allows you to create virtual machines, or instances, that run on the AWS Cloud."),
    el("form", {class: "wizard", "aria-label": "Launch an instance"},
      section("Name and tags", name.row),
      section("Application and OS Images (Amazon Machine Image)", image.row),
      section("Instance type", type.row),
      section("Key pair (login)", key.row, newKey),
      section("Network settings", vpc.row, subnet.row,
        publicIp.row,
        firewall.row, createBox, selectBox),
      el("section", {}, advancedToggle, advanced),
      section("Summary", count.row, el("div", {class: "actions end"},
        button("Cancel", () => go("#/ec2/instances")), launch))));
});

// ---- details ----------------------------------------------------------------------------

async function describeOne(id) {
  const [inst] = await describeInstances({InstanceIds: [id]});
  return inst;
}

function summaryPairs(i) {
  return [
    ["Instance ID", i.InstanceId],
    ["Public IPv4 address", publicAddress(i.PublicIpAddress)],
    ["Private IPv4 addresses", i.PrivateIpAddress || "–"],
    ["Instance state", stateBadge(i.State.Name)],
    ["Instance type", i.InstanceType],
    ["Status check", statusCheck(i.Status)],
    ["Private IP DNS name (IPv4 only)", i.PrivateDnsName || "–"],
    ["Public IPv4 DNS", publicDns(i)],
    ["VPC ID", i.VpcId ? link(`#/vpc/vpcs/${i.VpcId}`, i.VpcId) : "–"],
    ["Subnet ID", i.SubnetId ? link(`#/vpc/subnets/${i.SubnetId}`, i.SubnetId) : "–"],
    ["Availability Zone", i.Placement.AvailabilityZone],
    ["Key pair assigned at launch", i.KeyName || "–"],
  ];
}

page("#/ec2/instances/:id", async (root, {id}) => {
  let inst = await describeOne(id);
  if (!inst) { throw {Code: "InvalidInstanceID.NotFound", Message: `The instance ID '${id}' does not exist`}; }
  const summary = el("div");
  const menu = instanceStateMenu(() => inst, () => refresh());
  function render() { summary.replaceChildren(details("Instance summary", summaryPairs(inst))); }
  async function refresh() { inst = await describeOne(id) || inst; render(); }
  render();
  root.append(
    header(`Instance summary for ${id}${nameTag(inst.Tags) ? ` (${nameTag(inst.Tags)})` : ""}`, null,
      button("Connect", () => go(`#/ec2/instances/${id}/connect`)), menu),
    summary,
    tabs("Instance", [
      {title: "Details", render: async (panel) => {
        panel.append(details("Instance details", [
          ["AMI ID", inst.ImageId],
          ["Platform details", inst.PlatformDetails || "Linux/UNIX"],
          ["Launch time", when(inst.LaunchTime)],
          ["Architecture", inst.Architecture || "–"],
          ["Key pair assigned at launch", inst.KeyName || "–"],
          ["Availability Zone", inst.Placement.AvailabilityZone],
          ["Tenancy", inst.Placement.Tenancy || "default"],
          ["Monitoring", (inst.Monitoring && inst.Monitoring.State) || "disabled"],
          ["Root device name", inst.RootDeviceName || "–"],
          ["Owner", inst.NetworkInterfaces && inst.NetworkInterfaces[0] ? inst.NetworkInterfaces[0].OwnerId : "–"],
        ]));
      }},
      {title: "Security", render: async (panel) => {
        const groupIds = (inst.SecurityGroups || []).map((g) => g.GroupId);
        panel.append(details("Security details", [
          ["Owner ID", inst.NetworkInterfaces && inst.NetworkInterfaces[0] ? inst.NetworkInterfaces[0].OwnerId : "–"],
          ["Launch time", when(inst.LaunchTime)],
          ["Security groups", el("ul", {class: "plain"}, ...(inst.SecurityGroups || []).map((g) =>
            el("li", {}, link(`#/ec2/security-groups/${g.GroupId}`, g.GroupId), ` (${g.GroupName})`)))],
        ]));
        const [inbound, outbound] = await Promise.all([groupRules(groupIds, false), groupRules(groupIds, true)]);
        panel.append(el("h2", {}, "Inbound rules"), rulesTable("Inbound rules", inbound, false, {withGroup: true}),
          el("h2", {}, "Outbound rules"), rulesTable("Outbound rules", outbound, true, {withGroup: true}));
      }},
      {title: "Networking", render: async (panel) => {
        panel.append(details("Networking details", [
          ["Public IPv4 address", publicAddress(inst.PublicIpAddress)],
          ["Public IPv4 DNS", inst.PublicDnsName || "–"],
          ["Private IPv4 addresses", inst.PrivateIpAddress || "–"],
          ["VPC ID", inst.VpcId || "–"],
          ["Subnet ID", inst.SubnetId || "–"],
          ["Availability Zone", inst.Placement.AvailabilityZone],
          ["Private IP DNS name (IPv4 only)", inst.PrivateDnsName || "–"],
        ]));
        const enis = await awsAll("ec2", "DescribeNetworkInterfaces",
          {Filters: [{Name: "attachment.instance-id", Values: [id]}]}, "NetworkInterfaces");
        panel.append(el("h2", {}, "Network interfaces"), table("Network interfaces", [
          {title: "Interface ID", value: (n) => n.NetworkInterfaceId},
          {title: "Description", value: (n) => n.Description || "–"},
          {title: "Private IPv4 address", value: (n) => n.PrivateIpAddress},
          {title: "Public IPv4 address", value: (n) => (n.Association && n.Association.PublicIp) || "–"},
          {title: "Private IPv4 DNS", value: (n) => n.PrivateDnsName || "–"},
          {title: "Subnet ID", value: (n) => n.SubnetId},
          {title: "VPC ID", value: (n) => n.VpcId},
          {title: "Availability Zone", value: (n) => n.AvailabilityZone},
          {title: "Security groups", value: (n) => (n.Groups || []).map((g) => g.GroupId).join(", ")},
          {title: "Device index", value: (n) => String(n.Attachment ? n.Attachment.DeviceIndex : "–")},
        ], enis, {empty: "No network interfaces"}));
      }},
      {title: "Tags", render: async (panel) => {
        panel.append(table("Tags", [{title: "Key", value: (t) => t.Key}, {title: "Value", value: (t) => t.Value}],
          inst.Tags || [], {empty: "No tags"}));
      }},
    ]));
  poll(summary, refresh, POLL_MS);
});
