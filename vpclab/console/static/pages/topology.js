// vpclab > Topology: both accounts' VPCs, subnets, instances, NLB nodes, endpoint ENIs and
// the PrivateLink path between them, coloured by state and target health, with live
// traffic counters. The graph (and each thing's tone: ok / busy / bad / off) comes from
// /console/api/topology (vpclab/console/topology.py); this module only lays it out as SVG
// boxes and lines, and polls it. Every box is a <g role="group" aria-label="…">.
"use strict";

import {el, header, page, post, state, poll, table} from "../lib.js";

const NS = "http://www.w3.org/2000/svg";
const COL = 640;      // an account's column
const GAP = 100;      // between columns (the path's lines cross it)
const CHIP_W = 196;
const CHIP_H = 46;
const PER_ROW = 3;
const PAD = 10;

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) { node.setAttribute(k, v); }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) { continue; }
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function text(x, y, value, cls) { return svg("text", {x, y, class: cls}, value); }

/** "1.2 KB": bytes as the console shows sizes. */
export function size(bytes) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

function trafficText(t) {
  if (!t) { return ""; }
  return `${t.connections} connection${t.connections === 1 ? "" : "s"}, ${size(t.bytes)}`;
}

/** A box: a group with its label, a rectangle and lines of text. */
function box(x, y, w, h, label, cls, lines) {
  return svg("g", {role: "group", "aria-label": label, class: `box ${cls}`},
    svg("rect", {x, y, width: w, height: h, rx: 4}),
    lines.map((line, i) => text(x + 8, y + 16 + i * 14, line, i === 0 ? "title" : "line")));
}

function chip(item) {
  const what = {instance: "Instance", node: "NLB node", eni: "Endpoint ENI"}[item.kind];
  const label = `${what} ${item.name} ${item.ip} ${item.state}`;
  const short = {instance: "Instance", node: "NLB node", eni: "ENI"}[item.kind];
  return {label, lines: [`${short}: ${item.name}`, `${item.ip} · ${item.state}`], tone: item.tone};
}

function subnetHeight(s) { return 24 + Math.max(1, Math.ceil(s.items.length / PER_ROW)) * (CHIP_H + 6) + 4; }

/** Lay one account out at column x; returns [group, bottom y]; `at` collects chip centres. */
function drawAccount(account, x, at) {
  const g = svg("g", {role: "group", "aria-label": `Account ${account.id}${account.name ? ` (${account.name})` : ""}`});
  g.append(text(x, 24, `Account ${account.id}${account.name ? ` (${account.name})` : ""}`, "account"));
  let y = 40;
  for (const vpc of account.vpcs) {
    const inner = vpc.subnets.reduce((h, s) => h + subnetHeight(s) + 6, 0);
    const vg = svg("g", {role: "group", "aria-label": `VPC ${vpc.id} ${vpc.cidr}`, class: "vpc"},
      svg("rect", {x, y, width: COL, height: 28 + inner, rx: 6}),
      text(x + 10, y + 18, `VPC ${vpc.id} · ${vpc.cidr}${vpc.name ? ` · ${vpc.name}` : ""}`, "title"));
    let sy = y + 28;
    for (const s of vpc.subnets) {
      const h = subnetHeight(s);
      const sg = svg("g", {role: "group", "aria-label": `Subnet ${s.id} ${s.zone} ${s.cidr}`, class: "subnet"},
        svg("rect", {x: x + PAD, y: sy, width: COL - 2 * PAD, height: h, rx: 4}),
        text(x + PAD + 8, sy + 16, `Subnet ${s.id} · ${s.zone} (${s.zoneId}) · ${s.cidr}`, "line"));
      s.items.forEach((item, i) => {
        const cx = x + PAD + 8 + (i % PER_ROW) * (CHIP_W + 8);
        const cy = sy + 24 + Math.floor(i / PER_ROW) * (CHIP_H + 6);
        const c = chip(item);
        sg.append(box(cx, cy, CHIP_W, CHIP_H, c.label, `chip ${item.kind} tone-${c.tone}`, c.lines));
        at[item.id] = {x: cx + CHIP_W / 2, y: cy + CHIP_H / 2, left: cx, right: cx + CHIP_W};
      });
      vg.append(sg);
      sy += h + 6;
    }
    g.append(vg);
    y += 28 + inner + 12;
  }
  // What has no address of its own: NLBs and listeners, target groups, services, endpoints.
  const cards = [];
  for (const lb of account.loadBalancers) {
    cards.push({label: `Load balancer ${lb.name} ${lb.state}`, tone: lb.tone, lines: [
      `Load balancer ${lb.name} · ${lb.state}`,
      `nodes ${lb.nodes.map((n) => n.ip).join(", ") || "–"}`,
      ...lb.listeners.map((l) => `listener ${l.protocol}:${l.port}${l.traffic ? ` · ${trafficText(l.traffic)}` : ""}`)]});
  }
  for (const tg of account.targetGroups) {
    cards.push({label: `Target group ${tg.name}`, tone: "none", lines: [
      `Target group ${tg.name} · ${tg.protocol || ""}:${tg.port ?? ""}`,
      ...tg.targets.map((t) => `target ${t.id}:${t.port} · ${t.health}`)]});
  }
  for (const s of account.services) {
    cards.push({label: `Endpoint service ${s.id} ${s.state}`, tone: s.tone, lines: [
      `Endpoint service ${s.id} · ${s.state}`, s.name, s.acceptanceRequired ? "acceptance required" : "no acceptance"]});
  }
  for (const ep of account.endpoints) {
    cards.push({label: `Endpoint ${ep.id} ${ep.state}`, tone: ep.tone, lines: [
      `Endpoint ${ep.id}${ep.name ? ` (${ep.name})` : ""} · ${ep.state}`, `service ${ep.service}`,
      `ENIs ${ep.enis.map((e) => e.ip).join(", ") || "–"}`, ep.traffic ? trafficText(ep.traffic) : ""]});
  }
  const cardW = (COL - 10) / 2;
  let col = 0;
  let rowY = y;
  let rowH = 0;
  for (const c of cards) {
    const h = 10 + c.lines.length * 14;
    g.append(box(x + col * (cardW + 10), rowY, cardW, h, c.label, `card tone-${c.tone}`, c.lines));
    rowH = Math.max(rowH, h);
    col += 1;
    if (col === 2) { col = 0; rowY += rowH + 10; rowH = 0; }
  }
  return [g, rowY + rowH + 10];
}

function drawPaths(paths, at) {
  const g = svg("g", {role: "group", "aria-label": "PrivateLink path", class: "paths"});
  for (const p of paths) {
    const a = at[p.from];
    const b = at[p.to];
    if (!a || !b) { continue; }
    const [x1, x2] = a.x < b.x ? [a.right, b.left] : a.x > b.x ? [a.left, b.right] : [a.x, b.x];
    const mid = (x1 + x2) / 2;
    const word = p.kind === "endpoint" ? p.state : p.health;
    g.append(svg("g", {role: "group", "aria-label": `Path ${p.from} to ${p.to} ${word}`, class: `path tone-${p.tone}`},
      svg("path", {d: `M ${x1} ${a.y} C ${mid} ${a.y}, ${mid} ${b.y}, ${x2} ${b.y}`}),
      svg("title", {}, `${p.from} → ${p.to}: ${word}`)));
  }
  return g;
}

function drawGraph(graph) {
  const at = {};
  const parts = [];
  let height = 0;
  graph.accounts.forEach((account, i) => {
    const [g, bottom] = drawAccount(account, 10 + i * (COL + GAP), at);
    parts.push(g);
    height = Math.max(height, bottom);
  });
  const width = 20 + graph.accounts.length * COL + Math.max(0, graph.accounts.length - 1) * GAP;
  // Lines first: the boxes they pass are drawn over them. Scaled to the page's width.
  const paths = drawPaths(graph.paths, at);
  return svg("svg", {role: "group", "aria-label": "Topology of both accounts", class: "topology",
    viewBox: `0 0 ${width} ${height}`, width: "100%", preserveAspectRatio: "xMinYMin meet"}, paths, ...parts);
}

function trafficTable(graph) {
  const rows = [];
  for (const a of graph.accounts) {
    for (const ep of a.endpoints) { rows.push({kind: "Endpoint", id: ep.id, account: a.id, t: ep.traffic}); }
    for (const lb of a.loadBalancers) {
      for (const l of lb.listeners) {
        rows.push({kind: "Listener", id: `${lb.name} ${l.protocol}:${l.port}`, account: a.id, t: l.traffic});
      }
    }
  }
  return table("Traffic", [
    {title: "Resource", value: (r) => `${r.kind} ${r.id}`},
    {title: "Account", value: (r) => r.account},
    {title: "Connections", value: (r) => String(r.t.connections)},
    {title: "Packets", value: (r) => String(r.t.packets)},
    {title: "Bytes", value: (r) => size(r.t.bytes)},
  ], rows, {empty: "No endpoints or listeners"});
}

async function load() {
  const out = await post(`/console/api/topology?region=${encodeURIComponent(state.region)}`);
  if (out.error) { throw out.error; }
  if (out.Code) { throw out; }
  return out;
}

function render(view, graph) {
  const legend = el("p", {class: "topology-legend"},
    el("span", {class: "state state-ok"}, "available / healthy"), " ",
    el("span", {class: "state state-busy"}, "pending / initial"), " ",
    el("span", {class: "state state-bad"}, "rejected / unhealthy"), " ",
    el("span", {class: "state state-off"}, "other"));
  const counters = graph.counters
    ? el("section", {class: "panel", "aria-label": "Live traffic"}, el("h2", {}, "Live traffic"), trafficTable(graph))
    : el("p", {class: "hint", role: "note"}, "Traffic counters need the data plane.");
  view.replaceChildren(legend, el("div", {class: "topology-frame"}, drawGraph(graph)), counters);
}

page("#/vpclab/topology", async (root) => {
  const view = el("div", {class: "topology-view"});
  root.append(header("Topology"), el("p", {class: "hint"},
    `Both accounts in ${state.region} and the PrivateLink path between them: endpoint ENI → endpoint service → NLB node → target.`),
    view);
  render(view, await load());
  poll(view, async () => render(view, await load()), 2000);
});
