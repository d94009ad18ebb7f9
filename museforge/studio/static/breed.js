// Breed: choose parents among one model's pictures, breed, choose favourite children, repeat.

import { catalog, followJob, getJSON, guarded, kindOf, postJSON, showError, watchJob } from "./api.js";
import * as sliders from "./sliders.js";
import { $, artTile, clear, el, randomSeed, setOptions } from "./ui.js";
import { hasWords, vocabularyOf, wordHelp } from "./words.js";

let parents = []; // gallery ids chosen in the parents grid
let favourites = []; // children chosen for the next generation
let generation = 0;
let job = null;
const MORE_DEBOUNCE_MS = 250;
// "More …": push the selected picture's words towards other words (the ``condition`` verb
// of text-to-image models). ``ticket`` drops results of a superseded request.
const more = { source: null, preview: null, job: null, timer: null, ticket: 0, model: null };

export async function init() {
  $("breed-model").addEventListener("change", () => {
    parents = [];
    sliders.select(null);
    guarded(updateMore);
    guarded(loadParents);
  });
  buildMore();
  $("breed-mutation").addEventListener("input", () => {
    $("breed-mutation-value").value = Number($("breed-mutation").value).toFixed(2);
  });
  $("breed-submit").addEventListener("click", () => guarded(() => breed(parents)));
  $("breed-again").addEventListener("click", () => guarded(() => breed(favourites)));
  sliders.init({ model: () => $("breed-model").value, use: useAsParent });
  await listModels();
}

export function show() {
  guarded(async () => {
    await listModels(); // models trained meanwhile appear
    await loadParents();
  });
}

async function listModels() {
  const cat = await catalog();
  const breedable = new Set(cat.kinds.filter((k) => k.verbs.some((v) => v.verb === "breed")).map((k) => k.kind));
  setOptions(
    $("breed-model"),
    cat.models.filter((m) => breedable.has(m.kind)).map((m) => ({ value: m.name, label: `${m.name} (${m.kind})` })),
  );
}

async function loadParents() {
  const cat = await catalog();
  const model = cat.models.find((m) => m.name === $("breed-model").value);
  const grid = clear($("breed-parents"));
  if (!model) {
    grid.append(el("p", { class: "hint", text: "no model here can breed" }));
    return;
  }
  // The gallery knows models by their weights' hash, which the model list gives us.
  const filter = model.sha256 || model.kind;
  const { items } = await getJSON(`/api/gallery?modality=image&limit=120&model=${encodeURIComponent(filter)}`);
  parents = parents.filter((id) => items.some((i) => i.id === id));
  const from = sliders.current();
  if (from !== null && !items.some((i) => i.id === from) && !favourites.includes(from)) {
    sliders.select(null); // the sliders' picture is gone (or belongs to another model)
    await updateMore();
  }
  if (!items.length) {
    grid.append(el("p", { class: "hint", text: `no pictures by ${model.name} yet: make some on the Create page` }));
  }
  for (const item of items) {
    grid.append(
      artTile(item, {
        testid: "breed-parent",
        selected: parents.includes(item.id),
        onclick: (ev) => {
          parents = toggle(parents, item.id);
          mark(ev.currentTarget.parentElement, parents.includes(item.id));
          selected(item.id, parents.includes(item.id));
          updateButtons();
        },
      }),
    );
  }
  updateButtons();
}

function toggle(list, id) {
  return list.includes(id) ? list.filter((x) => x !== id) : [...list, id];
}

/** The latent sliders work from the picture chosen last; when it is un-chosen, from the
 * one chosen before it (or none). */
function selected(id, on) {
  if (on) sliders.select(id);
  else if (sliders.current() === id) sliders.select([...parents, ...favourites].at(-1) ?? null);
  guarded(updateMore);
}

/** "Use as parent" in the sliders' panel: the new picture joins the parents. */
async function useAsParent(id) {
  if (!parents.includes(id)) parents = [...parents, id];
  await loadParents();
  await updateMore();
}

function mark(tile, on) {
  tile.classList.toggle("selected", on);
  tile.firstElementChild.setAttribute("aria-pressed", String(on));
}

function updateButtons() {
  const busy = job !== null;
  $("breed-count").textContent = `${parents.length} chosen`;
  $("breed-submit").disabled = busy || parents.length < 2;
  $("breed-again").disabled = busy || favourites.length < 2;
  $("breed-again").textContent = favourites.length ? `Breed these ${favourites.length}` : "Breed these";
}

async function breed(chosen) {
  if (chosen.length < 2) throw new Error("choose at least two parents");
  const children = Number($("breed-children").value);
  if (!Number.isInteger(children) || children < 1 || children > 64) {
    throw new Error("children: a whole number from 1 to 64");
  }
  const args = {
    parents: [...chosen],
    children,
    mutation: Number($("breed-mutation").value),
    seed: randomSeed(),
  };
  const { job: id } = await postJSON("/api/generate", { model: $("breed-model").value, verb: "breed", args });
  $("breed-job").hidden = false;
  job = watchJob(id, { bar: $("breed-progress"), status: $("breed-status"), messages: true });
  updateButtons();
  const { state, ids, failed } = await job.outcome;
  job = null;
  updateButtons();
  if (state !== "done") {
    if (failed) showError(failed);
    return;
  }
  generation += 1;
  await showChildren(ids);
}

async function showChildren(ids) {
  favourites = [];
  $("breed-result").hidden = false;
  $("breed-generation").textContent = `Generation ${generation}: ${ids.length} children`;
  const grid = clear($("breed-children-grid"));
  for (const id of ids) {
    const item = await getJSON(`/api/gallery/${id}`);
    grid.append(
      artTile(item, {
        testid: "breed-child",
        onclick: (ev) => {
          favourites = toggle(favourites, id);
          mark(ev.currentTarget.parentElement, favourites.includes(id));
          selected(id, favourites.includes(id));
          updateButtons();
        },
        extra: el("a", { class: "tile-link", href: `#gallery/${id}`, text: "details" }),
      }),
    );
  }
  updateButtons();
  guarded(loadParents); // the new children can be parents too
}

// --- more …: words pushed towards other words ---------------------------------------------
function buildMore() {
  const amount = el("input", {
    type: "range",
    min: "-2",
    max: "2",
    step: "0.25",
    value: "0",
    id: "more-amount",
    dataset: { testid: "more-amount" },
    onchange: () => scheduleMore(),
    oninput: () => {
      $("more-amount-value").value = signed(Number(amount.value));
    },
  });
  const panel = el(
    "div",
    { class: "panel sliders", id: "breed-more", hidden: true, dataset: { testid: "breed-more" }, attrs: { "aria-labelledby": "h-more" } },
    el("h3", { id: "h-more", text: "More …" }),
    el("p", { class: "hint", text: "Type words, then move the slider and let go: the selected picture's words are pushed towards them (left: less of them), the picture redrawn." }),
    el(
      "div",
      { class: "more-layout" },
      el(
        "div",
        {},
        el("div", { class: "field", id: "more-words-field" }),
        el(
          "div",
          { class: "slider-row" },
          el("label", { attrs: { for: "more-amount" }, text: "less … more" }),
          amount,
          el("output", { id: "more-amount-value", class: "slider-value", value: signed(0), attrs: { for: "more-amount" } }),
        ),
      ),
      el(
        "div",
        { class: "slider-out" },
        el("div", { id: "more-preview", dataset: { testid: "more-preview" }, attrs: { "aria-live": "polite" } }),
        el(
          "div",
          { class: "row" },
          el("button", {
            type: "button",
            id: "more-use",
            text: "Use as parent",
            disabled: true,
            dataset: { testid: "more-use" },
            onclick: () => {
              const id = more.preview;
              if (!id) return;
              guarded(async () => {
                await useAsParent(id);
                sliders.select(id); // the sliders and "more" work from the new picture
                await updateMore();
              });
            },
          }),
          el("span", { id: "more-status", class: "status", dataset: { testid: "more-status" } }),
        ),
      ),
    ),
  );
  $("breed-sliders").after(panel);
}

function signed(x) {
  return x > 0 ? `+${x.toFixed(2)}` : x.toFixed(2);
}

/** Show the panel for the picture the sliders work from, when the model can push words. */
async function updateMore() {
  const model = $("breed-model").value;
  const form = kindOf(await catalog(), model)?.verbs.find((v) => v.verb === "condition");
  const can = Boolean(form?.fields.some((f) => f.name === "words"));
  const source = can ? sliders.current() : null;
  if (can && more.model !== model) {
    more.model = model;
    await wordsInput(model);
  }
  if (source !== more.source) {
    clearTimeout(more.timer);
    more.ticket += 1;
    more.source = source;
    more.preview = null;
    clear($("more-preview"));
    $("more-status").textContent = "";
    $("more-amount").value = "0";
    $("more-amount-value").value = signed(0);
  }
  $("breed-more").hidden = source === null;
  $("more-use").disabled = more.job !== null || !more.preview;
}

/** The words box, with the model's own words suggested (if it records them). */
async function wordsInput(model) {
  const typed = $("more-words")?.value || "";
  const field = clear($("more-words-field"));
  const input = el("input", { type: "text", id: "more-words", value: typed, placeholder: "e.g. stars", dataset: { testid: "more-words" } });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") scheduleMore();
  });
  field.append(el("label", { htmlFor: "more-words", text: "more of" }), input);
  const vocab = await vocabularyOf(model).catch(() => null);
  if (hasWords(vocab)) wordHelp(input, vocab);
}

function scheduleMore() {
  clearTimeout(more.timer);
  more.timer = setTimeout(() => guarded(runMore), MORE_DEBOUNCE_MS);
}

async function runMore() {
  const words = $("more-words").value.trim();
  const amount = Number($("more-amount").value);
  if (more.source === null || more.job !== null) return;
  if (!words) {
    $("more-status").textContent = "type the words first";
    return;
  }
  if (amount === 0) {
    clear($("more-preview")); // the picture itself
    more.preview = null;
    $("more-use").disabled = true;
    return;
  }
  const mine = more.ticket;
  const args = { parent: more.source, words, amount, frames: 1 };
  $("more-status").textContent = "queued";
  $("more-use").disabled = true;
  let failed = null;
  let ids = [];
  try {
    const { job: id } = await postJSON("/api/generate", { model: $("breed-model").value, verb: "condition", args });
    more.job = followJob(id, {
      state: (s) => {
        if (mine === more.ticket) $("more-status").textContent = s;
      },
      progress: (p) => {
        if (mine === more.ticket) $("more-status").textContent = p.message;
      },
      result: (r) => {
        ids = r.ids;
      },
      error: (m) => {
        failed = m;
      },
    });
    const state = await more.job.done;
    if (state !== "done") {
      if (failed && mine === more.ticket) showError(failed);
      return;
    }
  } finally {
    more.job = null;
  }
  if (mine !== more.ticket || !ids.length) return;
  more.preview = ids[0];
  const caption = `${amount > 0 ? "more" : "less"} ${words} (${signed(amount)})`;
  clear($("more-preview")).append(
    el(
      "figure",
      { class: "slider-result", dataset: { testid: "more-result", id: ids[0] } },
      el("img", { src: `/api/gallery/${ids[0]}/file`, alt: caption }),
      el("figcaption", {}, `${caption} · `, el("a", { href: `#gallery/${ids[0]}`, text: "details" })),
    ),
  );
  $("more-status").textContent = "done";
  $("more-use").disabled = false;
}
