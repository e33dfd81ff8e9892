// The guided lab panel: the seed's steps as a checklist. A step ticks when the accounts'
// APIs show it done (the server asks them: vpclab/console/guide.py), whether the learner
// clicked, used the CLI or ran boto3; the next step shows the seed's hint and which
// account to be in, with a button to switch there.
"use strict";

import {el, poll, post, state} from "../lib.js";

const OPEN = "vpclab.guide";
const LAB = {provider: "111111111111", consumer: "222222222222"};

function accounts() {
  return {
    provider: sessionStorage.getItem("vpclab.guide.provider") || LAB.provider,
    consumer: sessionStorage.getItem("vpclab.guide.consumer") || LAB.consumer,
  };
}

function switchTo(account) {
  state.account = account;
  sessionStorage.setItem("vpclab.account", account);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

function accountOf(step, who) { return step.account === "Account 1" ? who.provider : who.consumer; }

function render(list, progress) {
  const who = accounts();
  const done = progress.steps.filter((s) => s.done).length;
  list.replaceChildren(el("p", {class: "guide-count"}, `${done} of ${progress.steps.length} steps done`),
    el("ol", {class: "guide-steps", "aria-label": "Lab steps"}, ...progress.steps.map((s) => {
      const current = s.id === progress.current;
      const item = el("li", {class: s.done ? "done" : current ? "current" : undefined,
        "aria-label": `Step ${s.id} ${s.title}: ${s.done ? "done" : current ? "next" : "not done"}`},
      el("span", {class: "tick", "aria-hidden": "true"}, s.done ? "✓" : current ? "➜" : "○"),
      el("span", {}, `${s.id} ${s.title}`), el("span", {class: "guide-account"}, ` (${s.account})`));
      if (current) {
        const where = accountOf(s, who);
        item.append(el("p", {class: "hint"}, s.hint));
        if (where !== state.account) {
          item.append(el("button", {type: "button", onclick: () => switchTo(where)}, `Switch to ${s.account} (${where})`));
        } else {
          item.append(el("p", {class: "hint"}, `You are in ${s.account}.`));
        }
      }
      return item;
    })));
  if (progress.current === null) { list.append(el("p", {role: "status"}, "Lab complete: every step is done.")); }
}

/** Fill the side panel; called on every page change. */
export function renderGuide(panel) {
  const open = sessionStorage.getItem(OPEN) !== "closed";
  const toggle = el("button", {type: "button", "aria-expanded": open ? "true" : "false",
    onclick: () => { sessionStorage.setItem(OPEN, open ? "closed" : "open"); renderGuide(panel); }},
  open ? "Hide" : "Show");
  panel.hidden = false;
  panel.classList.toggle("closed", !open);
  panel.replaceChildren(el("div", {class: "guide-head"}, el("h2", {}, "Guided lab: VPC endpoint services"), toggle));
  if (!open) { return; }
  const who = accounts();
  const list = el("div", {});
  panel.append(el("p", {class: "hint"}, `Account 1 is ${who.provider} (provider), account 2 is ${who.consumer} (consumer).`), list);
  const refresh = async () => {
    const progress = await post("/console/api/guide", {region: state.region, ...accounts()});
    if (progress.error || progress.Code) { throw progress.error || progress; }
    render(list, progress);
  };
  refresh().catch(() => {});
  poll(list, refresh, 3000);
}
