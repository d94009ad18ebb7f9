// Models: the installed and studio-trained models, and the taste model's held-out accuracy.

import { catalog, getJSON, guarded } from "./api.js";
import { $, clear, el } from "./ui.js";

export function init() {}

export function show() {
  guarded(render);
}

function flatten(metrics, prefix = "") {
  const out = [];
  for (const [key, value] of Object.entries(metrics || {})) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === "object") out.push(...flatten(value, name));
    else out.push([name, value]);
  }
  return out;
}

function number(v) {
  return typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v);
}

async function render() {
  const cat = await catalog(true);
  const body = clear($("models-body"));
  for (const m of cat.models) {
    const metrics = flatten(m.metrics);
    const data = typeof m.data === "string" ? m.data : JSON.stringify(m.data);
    body.append(
      el(
        "tr",
        { dataset: { testid: "model-row", name: m.name } },
        el("td", { class: "strong nowrap", text: m.name }),
        el("td", { class: "nowrap", text: m.kind }),
        el("td", { text: data }),
        el("td", { class: "licence", text: m.licence || "yours" }),
        el(
          "td",
          {},
          el("div", { class: "metrics" }, metrics.map(([k, v]) => el("span", { class: "metric", text: `${k} ${number(v)}` }))),
        ),
        el("td", { class: "mono", title: m.sha256 || "", text: (m.sha256 || "").slice(0, 12) }),
      ),
    );
  }
  const taste = await getJSON("/api/taste");
  const box = clear($("taste-report"));
  for (const [modality, r] of Object.entries(taste)) {
    const card = el("div", { class: "card", dataset: { modality } }, el("h4", { text: modality }));
    if (r.error) card.append(el("p", { class: "hint", text: r.error }));
    else {
      card.append(
        el("p", { class: "big", text: `${Math.round(r.accuracy * 100)}% right` }),
        el(
          "p",
          { class: "hint" },
          `${r.n} ratings (${r.liked} liked, ${r.disliked} disliked), ${r.folds}-fold; `,
          `always guessing the commoner answer: ${Math.round(r.baseline * 100)}%`,
        ),
      );
      if (r.encoder) {
        const alone = Math.round(r.without_encoder * 100);
        card.append(el("p", { class: "hint", text: `with the encoder's picture vectors; colour and texture alone: ${alone}%` }));
      }
    }
    box.append(card);
  }
}
