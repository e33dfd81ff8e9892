// vpclab console: every read and action is an AWS operation through /console/api/call,
// made as the signed-in account (see vpclab/console/README.md).
"use strict";

const TOKEN = document.querySelector('meta[name="vpclab-console-token"]').content;
const state = {
  account: sessionStorage.getItem("vpclab.account") || "",
  region: sessionStorage.getItem("vpclab.region") || "",
  accounts: [],
};

async function post(path, body) {
  const resp = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: {"Content-Type": "application/json", "X-Vpclab-Console-Token": TOKEN},
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  return resp.json();
}

// One AWS operation, as boto3 would call it; raises {Code, Message} as AWS answered it.
async function aws(service, operation, params) {
  const out = await post("/console/api/call",
    {account: state.account, region: state.region, service, operation, params: params || {}});
  if (out.error) { throw out.error; }
  return out.output;
}

function showError(err) {
  const banner = document.getElementById("banner");
  banner.textContent = `${err.Code}: ${err.Message}`;
  banner.hidden = false;
}

function clearError() { document.getElementById("banner").hidden = true; }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { node.setAttribute(k, v); }
  for (const c of children) { node.append(c); }
  return node;
}

function nameTag(tags) {
  const t = (tags || []).find((x) => x.Key === "Name");
  return t ? t.Value : "";
}

function renderAccountMenu() {
  const menu = document.getElementById("account-menu");
  menu.replaceChildren();
  if (!state.account) { return; }
  const known = state.accounts.find((a) => a.id === state.account);
  menu.append(`Account ${state.account}${known && known.name ? " (" + known.name + ")" : ""}`);
  const sw = el("button", {type: "button"}, "Switch account");
  sw.addEventListener("click", () => signOut());
  menu.append(sw);
}

function signIn(account) {
  state.account = account;
  sessionStorage.setItem("vpclab.account", account);
  route();
}

function signOut() {
  state.account = "";
  sessionStorage.removeItem("vpclab.account");
  route();
}

function renderSignIn() {
  document.getElementById("page").hidden = true;
  document.getElementById("sign-in").hidden = false;
  const list = document.getElementById("known-accounts");
  list.replaceChildren(...state.accounts.map((a) => {
    const b = el("button", {type: "button"}, a.name ? `${a.id} — ${a.name}` : a.id);
    b.addEventListener("click", () => signIn(a.id));
    return el("li", {}, b);
  }));
}

const INSTANCE_COLUMNS = ["Name", "Instance ID", "Instance state", "Instance type", "Availability Zone",
                          "Public IPv4 address", "Private IP address"];

async function renderInstances(page) {
  page.replaceChildren(el("h1", {}, "Instances"));
  const out = await aws("ec2", "DescribeInstances", {});
  const rows = out.Reservations.flatMap((r) => r.Instances).map((i) => el("tr", {},
    el("td", {}, nameTag(i.Tags)), el("td", {}, i.InstanceId), el("td", {}, i.State.Name),
    el("td", {}, i.InstanceType), el("td", {}, i.Placement.AvailabilityZone),
    el("td", {}, i.PublicIpAddress || "–"), el("td", {}, i.PrivateIpAddress || "–")));
  const table = el("table", {"aria-label": "Instances"},
    el("thead", {}, el("tr", {}, ...INSTANCE_COLUMNS.map((c) => el("th", {scope: "col"}, c)))),
    el("tbody", {}, ...rows));
  page.append(el("p", {}, `Instances (${rows.length})`), table);
}

const PAGES = {"#/ec2/instances": renderInstances};

async function route() {
  clearError();
  renderAccountMenu();
  if (!state.account) { renderSignIn(); return; }
  document.getElementById("sign-in").hidden = true;
  const page = document.getElementById("page");
  page.hidden = false;
  const render = PAGES[location.hash] || renderInstances;
  try { await render(page); } catch (err) { showError(err.Code ? err : {Code: "Error", Message: String(err)}); }
}

async function start() {
  const session = await post("/console/api/session");
  if (session.Code) { showError(session); return; }
  state.accounts = session.accounts;
  const region = document.getElementById("region");
  region.replaceChildren(...session.regions.map((r) => el("option", {value: r}, r)));
  if (!session.regions.includes(state.region)) { state.region = session.regions.includes("ap-south-1") ? "ap-south-1" : session.regions[0]; }
  region.value = state.region;
  region.addEventListener("change", () => { state.region = region.value; sessionStorage.setItem("vpclab.region", region.value); route(); });
  document.getElementById("sign-in-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn(document.getElementById("account-id").value);
  });
  window.addEventListener("hashchange", route);
  route();
}

start();
