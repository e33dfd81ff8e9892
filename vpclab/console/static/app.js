// vpclab console: sign-in, the account menu, the region selector, the navigation and the
// router. Every read and action is an AWS operation through /console/api/call, made as
// the signed-in account (see vpclab/console/README.md); the pages live in pages/*.js.
"use strict";

import {clearBanner, el, findPage, post, showError, state, stopPolls} from "./lib.js";
import "./pages/instances.js";
import "./pages/security_groups.js";
import "./pages/target_groups.js";
import "./pages/load_balancers.js";
import "./pages/vpcs.js";
import "./pages/endpoint_services.js";
import "./pages/endpoints.js";
import "./pages/connect.js";
import "./pages/topology.js";
import "./pages/elastic_ips.js";
import "./pages/internet_gateways.js";
import "./pages/route_tables.js";
import {renderGuide} from "./pages/guide.js";

const HOME = "#/ec2/instances";

function accountLabel(id) {
  const known = state.accounts.find((a) => a.id === id);
  return known && known.name ? `${id} (${known.name})` : id;
}

function renderAccountMenu() {
  const menu = document.getElementById("account-menu");
  menu.replaceChildren();
  if (!state.account) { return; }
  menu.append(`Account ${accountLabel(state.account)}`);
  menu.append(el("button", {type: "button", onclick: () => signOut()}, "Switch account"));
}

function signIn(account) {
  state.account = account;
  sessionStorage.setItem("vpclab.account", account);
  if (!state.accounts.some((a) => a.id === account)) { state.accounts.push({id: account, name: ""}); }
  route();
}

function signOut() {
  state.account = "";
  sessionStorage.removeItem("vpclab.account");
  route();
}

function renderSignIn() {
  document.getElementById("shell").hidden = true;
  document.getElementById("sign-in").hidden = false;
  const list = document.getElementById("known-accounts");
  list.replaceChildren(...state.accounts.map((a) => el("li", {},
    el("button", {type: "button", onclick: () => signIn(a.id)}, a.name ? `${a.id} — ${a.name}` : a.id))));
}

function markNav() {
  for (const a of document.querySelectorAll("#nav a")) {
    const here = location.hash === a.getAttribute("href") || location.hash.startsWith(a.getAttribute("href") + "/");
    if (here) { a.setAttribute("aria-current", "page"); } else { a.removeAttribute("aria-current"); }
  }
}

async function route() {
  clearBanner();
  stopPolls();
  renderAccountMenu();
  if (!state.account) { renderSignIn(); return; }
  document.getElementById("sign-in").hidden = true;
  document.getElementById("shell").hidden = false;
  const found = findPage(location.hash) || findPage(HOME);
  markNav();
  renderGuide(document.getElementById("guide"));
  // Each route renders into a holder of its own: a slower render of an earlier route
  // (still awaiting its calls) then fills a holder that is no longer on the page.
  const holder = el("div", {class: "page-holder"});
  document.getElementById("page").replaceChildren(holder);
  try { await found.render(holder, found.params); } catch (err) { if (holder.isConnected) { showError(err); } }
}

async function start() {
  const session = await post("/console/api/session");
  if (session.Code) { showError(session); return; }
  state.accounts = session.accounts;
  state.regions = session.regions;
  const region = document.getElementById("region");
  region.replaceChildren(...session.regions.map((r) => el("option", {value: r}, r)));
  if (!session.regions.includes(state.region)) {
    state.region = session.regions.includes("ap-south-1") ? "ap-south-1" : session.regions[0];
  }
  region.value = state.region;
  region.addEventListener("change", () => {
    state.region = region.value;
    sessionStorage.setItem("vpclab.region", region.value);
    route();
  });
  document.getElementById("sign-in-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn(document.getElementById("account-id").value);
  });
  window.addEventListener("hashchange", route);
  route();
}

start();
