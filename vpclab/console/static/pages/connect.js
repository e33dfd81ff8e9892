// EC2 > Instances > Connect to instance. The EC2 Instance Connect tab opens a shell in the
// instance in the page: xterm.js (../vendor/xterm, loaded when first needed) over the
// WebSocket /console/api/terminal, where the server runs `vpclab ssh` on a pty
// (vpclab/console/terminal.py). The other tabs say how else to connect.
"use strict";

import {aws, button, consoleToken, details, el, field, header, link, nameTag, page, showError, state, tabs} from "../lib.js";

const VENDOR = "/console/static/vendor/xterm/";
// The subprotocol the terminal speaks; the console's token is offered beside it.
const PROTOCOL = "vpclab-console";

/** The user an image's owner set up, as the console fills in Username. */
function defaultUser(image) {
  const name = `${image && image.Name || ""} ${image && image.Description || ""}`.toLowerCase();
  if (name.includes("ubuntu")) { return "ubuntu"; }
  if (name.includes("debian")) { return "admin"; }
  return "ec2-user";
}

async function describe(id) {
  const out = await aws("ec2", "DescribeInstances", {InstanceIds: [id]});
  return out.Reservations[0].Instances[0];
}

page("#/ec2/instances/:id/connect", async (root, {id}) => {
  const inst = await describe(id);
  let image;
  try { image = (await aws("ec2", "DescribeImages", {ImageIds: [inst.ImageId]})).Images[0]; } catch (err) { image = undefined; }
  const name = nameTag(inst.Tags);
  root.append(
    el("nav", {class: "breadcrumb", "aria-label": "Breadcrumb"},
      link("#/ec2/instances", "Instances"), " > ", link(`#/ec2/instances/${id}`, id), " > ", "Connect to instance"),
    header("Connect to instance", null),
    el("p", {class: "hint"}, `Connect to your instance ${id}${name ? ` (${name})` : ""} using any of these options`),
    tabs("Connection options", [
      {title: "EC2 Instance Connect", render: (panel) => instanceConnect(panel, root, inst, defaultUser(image))},
      {title: "Session Manager", render: (panel) => sessionManager(panel)},
      {title: "SSH client", render: (panel) => sshClient(panel, inst, defaultUser(image))},
      {title: "EC2 serial console", render: (panel) => serialConsole(panel, inst)},
    ]));
});

function instanceConnect(panel, root, inst, user) {
  const username = field("Username", {value: user,
    hint: "The image's default user. The shell is what vpclab ssh gives: this user in name, root in fact."});
  username.input.readOnly = true;
  const direct = el("input", {type: "radio", name: "connection-type", id: "connect-direct", checked: true});
  const viaEndpoint = el("input", {type: "radio", name: "connection-type", id: "connect-endpoint", disabled: true});
  panel.append(
    details("Instance", [
      ["Instance ID", link(`#/ec2/instances/${inst.InstanceId}`, inst.InstanceId)],
      ...(inst.PublicIpAddress ? [["Public IP address", inst.PublicIpAddress]] : []),
      ["Private IP address", inst.PrivateIpAddress || "–"],
    ]),
    el("fieldset", {class: "choices"}, el("legend", {}, "Connection type"),
      el("div", {class: "choice"}, direct, el("label", {for: "connect-direct"}, "Connect using EC2 Instance Connect"),
        el("p", {class: "hint"}, "A shell in the instance in this page, as its own terminal would give.")),
      el("div", {class: "choice"}, viaEndpoint,
        el("label", {for: "connect-endpoint"}, "Connect using EC2 Instance Connect Endpoint"),
        el("p", {class: "hint"}, "Not in vpclab: it has no EC2 Instance Connect Endpoints."))),
    username.row,
    el("div", {class: "actions end"},
      button("Cancel", () => { location.hash = `#/ec2/instances/${inst.InstanceId}`; }),
      button("Connect", () => openTerminal(root, inst), {primary: true})));
}

function sessionManager(panel) {
  panel.append(el("p", {}, "Session Manager needs the SSM Agent and an instance profile; vpclab has neither. ",
    "Use EC2 Instance Connect, or `vpclab ssh` from the SSH client tab."));
}

function sshClient(panel, inst, user) {
  panel.append(
    el("p", {}, "vpclab runs no sshd: its instances are entered from the machine vpclab runs on, as root:"),
    el("pre", {class: "command", "aria-label": "Command"}, `vpclab ssh --account ${state.account} ${inst.InstanceId}`),
    el("p", {class: "hint"}, `The shell logs in as ${user} in name (the image's default user). `,
      "Add --state-dir D when the server's state is not in ./.vpclab."),
    el("p", {}, "One command instead of a shell:"),
    el("pre", {class: "command"}, `vpclab exec --account ${state.account} ${inst.InstanceId} -- curl -s http://127.0.0.1/`));
}

function serialConsole(panel, inst) {
  panel.append(el("p", {}, "vpclab has no serial console. The instance's console output (boot and user data) ",
    "is what GetConsoleOutput returns: ", el("code", {}, `aws ec2 get-console-output --instance-id ${inst.InstanceId}`)));
}

// ---- the terminal ------------------------------------------------------------------------

let xterm;

/** xterm.js and its fit add-on, loaded once, the first time a terminal opens. */
async function loadXterm() {
  if (!xterm) {
    if (!document.querySelector(`link[href="${VENDOR}xterm.css"]`)) {
      document.head.append(el("link", {rel: "stylesheet", href: `${VENDOR}xterm.css`}));
    }
    const [core, fit] = await Promise.all([import(`${VENDOR}xterm.mjs`), import(`${VENDOR}addon-fit.mjs`)]);
    xterm = {Terminal: core.Terminal, FitAddon: fit.FitAddon};
  }
  return xterm;
}

/**
 * Run `fn` while every <style> asked for is a stand-in whose text goes into a constructed
 * stylesheet (document.adoptedStyleSheets): xterm.js's DOM renderer writes its sizes and
 * colours into <style> elements, which the console's Content-Security-Policy (no inline
 * styles) blocks. The policy stays as strict as it is; only what xterm makes while it
 * opens and resizes is adopted. The stand-in is an inert <template> (never rendered), so
 * the policy has nothing to refuse.
 */
function withAdoptedStyles(fn) {
  const create = document.createElement;
  document.createElement = function (tag, options) {
    if (String(tag).toLowerCase() === "style") { return adoptedStyle(create.call(document, "template")); }
    return create.call(document, tag, options);
  };
  try { return fn(); } finally { document.createElement = create; }
}

function adoptedStyle(node) {
  const sheet = new CSSStyleSheet();
  let text = "";
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  Object.defineProperty(node, "textContent", {
    get: () => text,
    set: (value) => { text = String(value ?? ""); sheet.replaceSync(text); },
  });
  const remove = node.remove.bind(node);
  node.remove = () => {
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
    remove();
  };
  return node;
}

function terminalUrl(inst, term) {
  const q = new URLSearchParams({account: state.account, region: state.region, instance: inst.InstanceId,
    cols: String(term.cols), rows: String(term.rows)});
  return `ws://${location.host}/console/api/terminal?${q}`;
}

/** Replace the page with a terminal into the instance; it closes when the page changes. */
async function openTerminal(root, inst) {
  const {Terminal, FitAddon} = await loadXterm();
  const name = nameTag(inst.Tags);
  const box = el("div", {class: "terminal", role: "region", "aria-label": "Terminal"});
  const status = el("p", {class: "terminal-status", role: "status"}, "Connecting…");
  root.replaceChildren(
    header("EC2 Instance Connect", null,
      button("Disconnect", () => socket && socket.close())),
    box,
    el("p", {class: "terminal-footer"},
      el("span", {}, `${inst.InstanceId}${name ? ` (${name})` : ""}`),
      inst.PublicIpAddress ? el("span", {}, `PublicIPs: ${inst.PublicIpAddress}`) : null,
      el("span", {}, `PrivateIPs: ${inst.PrivateIpAddress || "–"}`)),
    status);

  const term = new Terminal({cursorBlink: true, fontFamily: "monospace", fontSize: 14, scrollback: 5000,
    theme: {background: "#000000", foreground: "#ffffff"}});
  const fit = new FitAddon();
  term.loadAddon(fit);
  withAdoptedStyles(() => { term.open(box); fit.fit(); });
  box.vpclabTerminal = term;  // tests read the buffer through the region they find by role
  term.focus();

  const socket = new WebSocket(terminalUrl(inst, term), [PROTOCOL, consoleToken()]);
  socket.binaryType = "arraybuffer";
  const send = (msg) => { if (socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(msg)); } };
  let refused = false;
  socket.addEventListener("open", () => { status.textContent = "Connected"; });
  socket.addEventListener("message", (ev) => {
    if (typeof ev.data !== "string") { term.write(new Uint8Array(ev.data)); return; }
    const msg = JSON.parse(ev.data);
    if (msg.error) { refused = true; showError(msg.error); status.textContent = "Not connected"; }
    if (msg.exit !== undefined) { status.textContent = `The session ended (exit code ${msg.exit}).`; }
  });
  socket.addEventListener("close", () => {
    if (!refused && !status.textContent.startsWith("The session ended")) { status.textContent = "Disconnected"; }
    term.options.disableStdin = true;
  });
  socket.addEventListener("error", () => {
    if (!refused) { showError({Code: "Failed to connect to your instance", Message: "Error establishing SSH connection to your instance. Try again later."}); }
  });
  term.onData((data) => send({input: data}));
  term.onResize(({cols, rows}) => send({resize: [cols, rows]}));

  const refit = () => withAdoptedStyles(() => fit.fit());
  window.addEventListener("resize", refit);
  // The page changed (another page, account or region): end the session.
  const watch = setInterval(() => {
    if (box.isConnected) { return; }
    clearInterval(watch);
    window.removeEventListener("resize", refit);
    socket.close();
    term.dispose();
  }, 500);
}
