// The console's toolkit: AWS calls through /console/api/call as the signed-in account,
// DOM building, the red error banner, tables, tabs, detail grids, forms, confirmation
// dialogs, polling that stops when the page changes, and the page router.
// Every page module (pages/*.js) builds on these; none calls fetch itself.
"use strict";

const TOKEN = document.querySelector('meta[name="vpclab-console-token"]').content;

/** Who is signed in, where, and what the server told us at start. */
export const state = {
  account: sessionStorage.getItem("vpclab.account") || "",
  region: sessionStorage.getItem("vpclab.region") || "",
  accounts: [],
  regions: [],
};

export async function post(path, body) {
  const resp = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: {"Content-Type": "application/json", "X-Vpclab-Console-Token": TOKEN},
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  return resp.json();
}

/** The console token, for requests that cannot carry a header (the terminal's WebSocket). */
export function consoleToken() { return TOKEN; }

/**
 * One AWS operation as boto3 would call it (service "ec2" | "elbv2" | "sts", the
 * operation's name, boto3's input); resolves to boto3's output, rejects with {Code, Message}.
 * `opts.account` calls as another account (the guided lab reads both).
 */
export async function aws(service, operation, params, opts) {
  const out = await post("/console/api/call", {
    account: (opts && opts.account) || state.account, region: state.region,
    service, operation, params: params || {},
  });
  if (out.error) { throw out.error; }
  return out.output;
}

/** All pages of a paginated call, concatenated on `key` (e.g. "Reservations"). */
export async function awsAll(service, operation, params, key, tokenIn = "NextToken", tokenOut = "NextToken") {
  let items = [];
  let next;
  do {
    const p = Object.assign({}, params || {});
    if (next) { p[tokenIn] = next; }
    const out = await aws(service, operation, p);
    items = items.concat(out[key] || []);
    next = out[tokenOut];
  } while (next);
  return items;
}

// ---- the banner -----------------------------------------------------------------------

/** An AWS error as the console shows it: a red banner with the code and message. */
export function showError(err) {
  const e = err && err.Code ? err : {Code: "Error", Message: String(err && err.message || err)};
  const banner = document.getElementById("banner");
  banner.className = "banner error";
  banner.setAttribute("role", "alert");
  banner.textContent = `${e.Code}: ${e.Message}`;
  banner.hidden = false;
}

/** A green flash, as the console shows after an action ("Successfully created …"). */
export function showSuccess(text) {
  const banner = document.getElementById("banner");
  banner.className = "banner success";
  banner.setAttribute("role", "status");
  banner.textContent = text;
  banner.hidden = false;
}

export function clearBanner() { document.getElementById("banner").hidden = true; }

/** Run an action; an AWS error becomes the banner and the action resolves to undefined. */
export async function attempt(fn) {
  try { return await fn(); } catch (err) { showError(err); return undefined; }
}

// ---- building the page ----------------------------------------------------------------

/** `el("button", {type: "button", onclick: f}, "Save")`: attributes, on* handlers, children. */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) { continue; }
    if (k.startsWith("on") && typeof v === "function") { node.addEventListener(k.slice(2), v); }
    else if (k === "value") { node.value = v; }
    else { node.setAttribute(k, v === true ? "" : v); }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) { continue; }
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

/** A link to a console page, e.g. `link("#/ec2/instances/i-1", "i-1")`. */
export function link(hash, text) { return el("a", {href: hash}, text); }

export function nameTag(tags) {
  const t = (tags || []).find((x) => x.Key === "Name");
  return t ? t.Value : "";
}

/** boto3's timestamps arrive as ISO 8601 text; shown as the console does, in UTC. */
export function when(iso) {
  if (!iso) { return "–"; }
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toUTCString();
}

/** A state as the console shows it: a coloured dot and the word (e.g. "running", "healthy"). */
export function stateBadge(value) {
  const word = value || "–";
  const tone = {running: "ok", available: "ok", active: "ok", healthy: "ok", Available: "ok",
    pending: "busy", provisioning: "busy", initial: "busy", pendingAcceptance: "busy", "pending-acceptance": "busy",
    stopping: "busy", "shutting-down": "busy", deleting: "busy", draining: "busy", Pending: "busy",
    stopped: "off", terminated: "off", unused: "off", deleted: "off", unavailable: "bad",
    unhealthy: "bad", rejected: "bad", failed: "bad", expired: "bad", Failed: "bad"}[word] || "none";
  return el("span", {class: `state state-${tone}`}, word);
}

/**
 * A resource table with the console's heading "<title> (<n>)", an optional filter box,
 * and optional single-row selection (a radio per row, as the console has).
 * columns: [{title, value: (item) => text|Node}]; opts.onSelect(item) when a row is chosen.
 */
export function table(title, columns, items, opts = {}) {
  const selectable = typeof opts.onSelect === "function";
  const rows = items.map((item) => {
    const cells = columns.map((c) => el("td", {}, c.value(item) ?? "–"));
    if (selectable) {
      const radio = el("input", {type: "radio", name: `select-${title}`, "aria-label": `Select ${opts.key ? opts.key(item) : ""}`.trim()});
      radio.addEventListener("change", () => opts.onSelect(item));
      cells.unshift(el("td", {}, radio));
    }
    return el("tr", {}, ...cells);
  });
  const head = columns.map((c) => el("th", {scope: "col"}, c.title));
  if (selectable) { head.unshift(el("th", {scope: "col"}, el("span", {class: "sr-only"}, "Select"))); }
  const body = el("tbody", {}, ...rows);
  if (!rows.length) {
    body.append(el("tr", {}, el("td", {colspan: String(head.length), class: "empty"}, opts.empty || `No ${title.toLowerCase()}`)));
  }
  return el("table", {"aria-label": title},
    el("thead", {}, el("tr", {}, ...head)), body);
}

/** A page header: the title with its count and the action buttons on the right. */
export function header(title, count, ...actions) {
  return el("div", {class: "page-header"},
    el("h1", {}, count === undefined || count === null ? title : `${title} (${count})`),
    el("div", {class: "actions"}, ...actions));
}

export function button(label, onclick, opts = {}) {
  return el("button", {type: "button", class: opts.primary ? "primary" : undefined, disabled: opts.disabled, onclick}, label);
}

/** A details grid (the console's "Details" panel): [[label, value], ...]. */
export function details(title, pairs) {
  return el("section", {class: "panel", "aria-label": title},
    el("h2", {}, title),
    el("dl", {class: "details"}, ...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "–")])));
}

/**
 * Tabs (role tablist / tab / tabpanel, as a person and a screen reader find them).
 * tabs: [{title, render: async (panel) => void}]; the first is shown.
 */
export function tabs(label, list) {
  const bar = el("div", {role: "tablist", "aria-label": label});
  const panel = el("div", {role: "tabpanel"});
  const buttons = list.map((t, i) => {
    const b = el("button", {type: "button", role: "tab", "aria-selected": i === 0 ? "true" : "false"}, t.title);
    b.addEventListener("click", () => select(i));
    return b;
  });
  bar.append(...buttons);
  async function select(i) {
    buttons.forEach((b, j) => b.setAttribute("aria-selected", j === i ? "true" : "false"));
    panel.setAttribute("aria-label", list[i].title);
    panel.replaceChildren();
    stopPolls(panel);
    try { await list[i].render(panel); } catch (err) { showError(err); }
  }
  select(0);
  return el("div", {class: "tabs"}, bar, panel);
}

// ---- forms ------------------------------------------------------------------------------

let fieldIds = 0;

/** A labelled input; returns {row, input}. opts: type, value, placeholder, hint, required. */
export function field(label, opts = {}) {
  const id = `f${++fieldIds}`;
  const input = opts.type === "textarea"
    ? el("textarea", {id, rows: opts.rows || "6", placeholder: opts.placeholder})
    : el("input", {id, type: opts.type || "text", placeholder: opts.placeholder, required: opts.required});
  if (opts.value !== undefined) { input.value = opts.value; }
  if (opts.type === "checkbox" && opts.checked) { input.checked = true; }
  const row = el("div", {class: opts.type === "checkbox" ? "field check" : "field"},
    el("label", {for: id}, label), input, opts.hint ? el("p", {class: "hint"}, opts.hint) : null);
  return {row, input};
}

/** A labelled select of [value, text] options; returns {row, input}. */
export function selectField(label, options, opts = {}) {
  const id = `f${++fieldIds}`;
  const input = el("select", {id, multiple: opts.multiple},
    ...options.map(([v, t]) => el("option", {value: v}, t)));
  if (opts.value !== undefined) { input.value = opts.value; }
  const row = el("div", {class: "field"}, el("label", {for: id}, label), input,
    opts.hint ? el("p", {class: "hint"}, opts.hint) : null);
  return {row, input};
}

/** The values chosen in a multiple select. */
export function selected(select) { return [...select.selectedOptions].map((o) => o.value); }

/**
 * A modal dialog (role dialog) asking to confirm; with `typed`, the confirm button is
 * enabled only once that word is typed, as the console does for rejects and deletes.
 * Resolves true when confirmed.
 */
export function confirmDialog(title, text, confirmLabel, typed) {
  return new Promise((resolve) => {
    const input = typed ? el("input", {type: "text", id: "confirm-text", placeholder: typed}) : null;
    const ok = el("button", {type: "button", class: "primary", disabled: typed ? true : undefined}, confirmLabel);
    const cancel = el("button", {type: "button"}, "Cancel");
    const dialog = el("div", {class: "modal", role: "dialog", "aria-modal": "true", "aria-label": title},
      el("div", {class: "modal-box"}, el("h2", {}, title), el("p", {}, text),
        typed ? el("label", {for: "confirm-text"}, `To confirm, type ${typed} in the field.`) : null, input,
        el("div", {class: "actions"}, cancel, ok)));
    if (input) { input.addEventListener("input", () => { ok.disabled = input.value !== typed; }); }
    const close = (v) => { dialog.remove(); resolve(v); };
    ok.addEventListener("click", () => close(true));
    cancel.addEventListener("click", () => close(false));
    document.body.append(dialog);
    (input || ok).focus();
  });
}

// ---- live updates -----------------------------------------------------------------------

const polls = new Set();

/**
 * Call `fn` every `ms` while `node` is on the page (states move without a reload); it
 * stops by itself when the page or tab changes, pauses while the tab is hidden, and waits
 * longer after a slow call.
 */
export function poll(node, fn, ms = 2000) {
  const entry = {node, timer: 0};
  const tick = async () => {
    if (!node.isConnected) { polls.delete(entry); return; }
    let spent = 0;
    if (!document.hidden) {
      const started = performance.now();
      try { await fn(); } catch (err) { showError(err); }
      spent = performance.now() - started;
    }
    // A read that is slow (a thousand resources) is made less often: a page spends at
    // most a fifth of its time, and the server's, refreshing.
    const next = Math.max(ms, 4 * spent);
    if (node.isConnected && polls.has(entry)) { entry.timer = setTimeout(tick, next); } else { polls.delete(entry); }
  };
  polls.add(entry);
  entry.timer = setTimeout(tick, ms);
  return entry;
}

/** Stop the polls of nodes inside `root` (all of them when root is undefined). */
export function stopPolls(root) {
  for (const p of [...polls]) {
    if (!root || root.contains(p.node)) { clearTimeout(p.timer); polls.delete(p); }
  }
}

// ---- the router -------------------------------------------------------------------------

const routes = [];

/**
 * A page at a hash pattern, e.g. "#/ec2/instances/:id"; render(page, params) fills the
 * page. Page modules call this when imported.
 */
export function page(pattern, render) {
  const names = [];
  const re = new RegExp("^" + pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:(\w+)/g, (_, n) => {
    names.push(n); return "([^/]+)";
  }) + "$");
  routes.push({re, names, render});
}

export function findPage(hash) {
  for (const r of routes) {
    const m = r.re.exec(hash);
    if (m) { return {render: r.render, params: Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]))}; }
  }
  return null;
}

export function go(hash) {
  if (location.hash === hash) { window.dispatchEvent(new HashChangeEvent("hashchange")); } else { location.hash = hash; }
}

// ---- helper C2 (target groups, load balancers): menus, radio groups, tag editors, live views ----

/**
 * The console's "Actions" dropdown: a button (aria-haspopup) opening a menu of menuitems.
 * items: [{label, onclick, disabled?: () => bool}]; `disabled` is asked each time it opens
 * (e.g. nothing selected yet).
 */
export function actionsMenu(label, items) {
  const list = el("ul", {role: "menu", "aria-label": label, class: "menu", hidden: true});
  const btn = el("button", {type: "button", "aria-haspopup": "menu", "aria-expanded": "false"},
    label, el("span", {"aria-hidden": "true"}, " ▾"));
  const close = () => { list.hidden = true; btn.setAttribute("aria-expanded", "false"); };
  const entries = items.map((it) => {
    const b = el("button", {type: "button", role: "menuitem"}, it.label);
    b.addEventListener("click", () => { close(); it.onclick(); });
    list.append(el("li", {role: "none"}, b));
    return [b, it];
  });
  btn.addEventListener("click", () => {
    if (!list.hidden) { close(); return; }
    for (const [b, it] of entries) { b.disabled = Boolean(it.disabled && it.disabled()); }
    list.hidden = false;
    btn.setAttribute("aria-expanded", "true");
  });
  return el("div", {class: "menu-wrap"}, btn, list);
}

let radioGroups = 0;

/**
 * A group of radio buttons under a legend (fieldset): options [[value, text, description?]].
 * Returns {row, value(), inputs}; `onchange(value)` when the choice changes.
 */
export function radioGroup(legend, options, value, onchange) {
  const name = `r${++radioGroups}`;
  const inputs = options.map(([v, text, description], i) => {
    const id = `${name}-${i}`;
    const input = el("input", {type: "radio", id, name, value: v});
    input.checked = v === value;
    if (onchange) { input.addEventListener("change", () => onchange(v)); }
    return el("div", {class: "radio"}, input, el("label", {for: id}, text),
      description ? el("p", {class: "hint"}, description) : null);
  });
  const row = el("fieldset", {class: "field radios"}, el("legend", {}, legend), ...inputs);
  const value_ = () => { const c = row.querySelector("input:checked"); return c ? c.value : ""; };
  return {row, value: value_, inputs: [...row.querySelectorAll("input")]};
}

/**
 * The console's "Tags - optional" editor: "Add new tag" adds a group (Tag 1, Tag 2 …)
 * with Key and "Value - optional" and a Remove button. Returns {row, tags()} where
 * tags() is [{Key, Value}] of the rows with a key.
 */
export function tagEditor(title = "Tags - optional") {
  const rows = el("div", {class: "tag-rows"});
  const renumber = () => [...rows.children].forEach((g, i) => g.setAttribute("aria-label", `Tag ${i + 1}`));
  const add = () => {
    const key = field("Key");
    const value = field("Value - optional");
    const group = el("div", {role: "group", class: "tag-row"}, key.row, value.row);
    group.append(button("Remove", () => { group.remove(); renumber(); }));
    group._tag = () => ({Key: key.input.value.trim(), Value: value.input.value});
    rows.append(group);
    renumber();
    key.input.focus();
  };
  const row = el("section", {class: "panel", "aria-label": title}, el("h2", {}, title),
    el("p", {class: "hint"}, "A tag is a label that you assign to an AWS resource. Each tag consists of a key and an optional value."),
    rows, button("Add new tag", add));
  return {row, tags: () => [...rows.children].map((g) => g._tag()).filter((t) => t.Key)};
}

/**
 * A view that stays live: `render(data)` fills `container` now and again whenever
 * `load()` (polled every `ms` while the container is on the page) returns different data.
 * Selections belong to the page's own state, so a re-rendered view shows them again.
 */
export async function liveView(container, load, render, ms = 2000) {
  let last = "";
  const draw = (data) => {
    const sig = JSON.stringify(data);
    if (sig === last) { return; }
    last = sig;
    container.replaceChildren(...[render(data)].flat());
  };
  draw(await load());
  poll(container, async () => draw(await load()), ms);
}

// ---- helper C1 (EC2 pages): a success banner that outlives the page change ----

/** Go to a page and show a green banner there (the router clears the banner on a page change). */
export function goWithSuccess(hash, text) {
  window.addEventListener("hashchange", () => showSuccess(text), {once: true});
  go(hash);
}

// ---- helper C3 (VPC, endpoint services, endpoints): tags tables, section headers ----

/** A table of a resource's tags (the console's Tags tab). */
export function tagsTable(tags) {
  return table("Tags", [{title: "Key", value: (t) => t.Key}, {title: "Value", value: (t) => t.Value}],
    tags || [], {empty: "No tags"});
}

/** A section's header inside a page (a tab's "Allow principals (1)" and its actions): as `header`, one level down. */
export function subheader(title, count, ...actions) {
  return el("div", {class: "page-header sub-header"},
    el("h2", {}, count === undefined || count === null ? title : `${title} (${count})`),
    el("div", {class: "actions"}, ...actions));
}

// ---- helper present (public addresses): where the user's machine reaches a public address ----

/**
 * Where the user's machine reaches a vpclab public address: 198.18.A.B at 127.18.A.B and
 * 198.19.A.B at 127.19.A.B, on loopback (the public range is 198.18.0.0/15). This is the
 * documented fixed mapping of `vpclab.model.internet.host_address`, mirrored so a page can
 * link to it; tests/test_console_internet.py checks both agree. null for any other address.
 */
export function hostAddress(publicIp) {
  const m = /^198\.(18|19)\.(\d{1,3})\.(\d{1,3})$/.exec(publicIp || "");
  if (!m || [m[2], m[3]].some((o) => Number(o) > 255 || (o.length > 1 && o.startsWith("0")))) { return null; }
  return `127.${m[1]}.${m[2]}.${m[3]}`;
}

/** The console's "open address" link: a new tab at the address's host mapping (null when it has none). */
export function openAddress(publicIp, label = "open address") {
  const host = hostAddress(publicIp);
  if (!host) { return null; }
  const url = `http://${host}/`;
  return el("a", {href: url, target: "_blank", rel: "noopener noreferrer", title: url, class: "open-address"}, label);
}

/** A public address as the console shows it: "198.18.1.7 — open address" ("–" without one). */
export function publicAddress(ip, label) {
  if (!ip) { return "–"; }
  const open = openAddress(ip, label);
  return open ? el("span", {}, ip, " — ", open) : ip;
}
