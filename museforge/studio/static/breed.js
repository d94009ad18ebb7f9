// Breed: choose parents among one model's pictures, breed, choose favourite children, repeat.

import { catalog, followJob, getJSON, guarded, postJSON, showError } from "./api.js";
import * as sliders from "./sliders.js";
import { $, artTile, clear, el, randomSeed, setOptions } from "./ui.js";

let parents = []; // gallery ids chosen in the parents grid
let favourites = []; // children chosen for the next generation
let generation = 0;
let job = null;

export async function init() {
  $("breed-model").addEventListener("change", () => {
    parents = [];
    sliders.select(null);
    guarded(loadParents);
  });
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
}

/** "Use as parent" in the sliders' panel: the new picture joins the parents. */
async function useAsParent(id) {
  if (!parents.includes(id)) parents = [...parents, id];
  await loadParents();
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
  $("breed-progress").value = 0;
  let failed = null;
  let ids = [];
  job = followJob(id, {
    state: (s) => {
      $("breed-status").textContent = s;
    },
    progress: (p) => {
      $("breed-progress").value = p.fraction;
      $("breed-status").textContent = p.message;
    },
    result: (r) => {
      ids = r.ids;
    },
    error: (m) => {
      failed = m;
    },
  });
  updateButtons();
  const state = await job.done;
  job = null;
  updateButtons();
  if (state !== "done") {
    if (failed) showError(failed);
    return;
  }
  $("breed-progress").value = 1;
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
