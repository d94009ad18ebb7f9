// "Why?": what lies behind an artwork's taste score — the liked artworks nearest to it and
// the encoder's words closest to your taste. Folded away; asked for on first opening,
// since it trains the taste model on your ratings.

import { getJSON } from "./api.js";
import { clear, el, firstLines } from "./ui.js";

const PICTURES = new Set(["image", "animation"]);

/** A folded "why?" panel for artwork `id` (pictures and poems: what the taste model ranks). */
export function whyPanel(id) {
  const body = el("div", { class: "why-body", dataset: { testid: "why-body" } }, el("p", { class: "hint", text: "…" }));
  const box = el("details", { class: "why", dataset: { testid: "why" } }, el("summary", { text: "why?" }), body);
  let asked = false;
  box.addEventListener("toggle", () => {
    if (!box.open || asked) return;
    asked = true;
    fill(body, id);
  });
  return box;
}

async function fill(body, id) {
  let why;
  try {
    why = await getJSON(`/api/gallery/${encodeURIComponent(id)}/why`);
  } catch (err) {
    // Too few ratings is the usual reason: said in place, not as an alarm.
    clear(body).append(el("p", { class: "hint", text: err.message }));
    return;
  }
  const using = why.encoder ? `with ${why.encoder}` : "from colour and texture";
  clear(body).append(el("p", { text: `taste score ${why.score.toFixed(2)} (${using})` }));
  if (why.nearest.length) {
    body.append(
      el("h4", { text: "liked, and nearest to it" }),
      el("ol", { class: "why-nearest", dataset: { testid: "why-nearest" } }, why.nearest.map(nearestItem)),
    );
  }
  if (why.words.length) {
    const words = why.words.map((w) => `${w.label} (${w.score.toFixed(2)})`).join(", ");
    body.append(el("h4", { text: "your taste in words" }), el("p", { dataset: { testid: "why-words" }, text: words }));
  }
  if (why.note) body.append(el("p", { class: "hint", dataset: { testid: "why-note" }, text: why.note }));
}

function nearestItem(item) {
  const title = `${item.path} · ${item.cosine.toFixed(2)} alike`;
  const look = PICTURES.has(item.modality)
    ? el("img", { src: `/api/gallery/${item.id}/thumb`, alt: item.path, loading: "lazy" })
    : el("span", { class: "poem-text", text: firstLines(item.text, 1) || item.path });
  return el("li", {}, el("a", { href: `#gallery/${item.id}`, dataset: { id: item.id }, attrs: { title } }, look));
}
