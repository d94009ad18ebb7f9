// Latent sliders on the Breed page (Artbreeder-style): push the selected picture along one
// of its principal latent directions with the image kinds' ``mutate`` verb. Directions are
// computed at the selected picture, so after "Use as parent" they are the new picture's.

import { catalog, followJob, guarded, kindOf, postJSON, showError } from "./api.js";
import { $, clear, el } from "./ui.js";

const DIRECTIONS = 8; // the verb's MAX_DIRECTIONS
const SWEEP_FRAMES = 7;
const SWEEP_AMOUNT = 3;
const DEBOUNCE_MS = 250;

let getModel = () => "";
let onUse = () => {};
let source = null; // gallery id the sliders work from
let preview = null; // gallery id of the picture "Use as parent" would add
let job = null;
let pending = null; // a debounced request: {timer}
let ticket = 0; // results of a superseded request (other picture or model) are dropped
const sliders = []; // {input, output, sweep}

/** ``model()`` names the Breed page's model; ``use(id)`` adds a picture to its parents. */
export function init({ model, use }) {
  getModel = model;
  onUse = use;
  const rows = clear($("sliders-rows"));
  for (let d = 0; d < DIRECTIONS; d++) {
    const output = el("output", { class: "slider-value", value: signed(0), attrs: { for: `slider-${d}` } });
    const input = el("input", {
      type: "range",
      min: "-4",
      max: "4",
      step: "0.5",
      value: "0",
      id: `slider-${d}`,
      dataset: { testid: `slider-${d}` },
      attrs: { "aria-label": `Direction ${d}` },
      onchange: () => schedule(d),
      oninput: () => {
        output.value = signed(Number(input.value));
      },
    });
    const sweep = el("button", {
      type: "button",
      class: "slider-sweep",
      text: "Sweep",
      dataset: { testid: `slider-sweep-${d}` },
      attrs: { title: `${SWEEP_FRAMES} pictures from −${SWEEP_AMOUNT} to +${SWEEP_AMOUNT} along direction ${d}` },
      onclick: () => {
        cancelPending();
        resetSliders(); // the strip is not any one slider's setting
        guarded(() => run(d, SWEEP_AMOUNT, SWEEP_FRAMES));
      },
    });
    const name = d === 0 ? "0 (most change)" : String(d);
    rows.append(
      el("div", { class: "slider-row" }, el("label", { class: "slider-name", attrs: { for: `slider-${d}` }, text: name }), input, output, sweep),
    );
    sliders.push({ input, output, sweep });
  }
  $("sliders-use").addEventListener("click", () => {
    if (!preview) return;
    const id = preview;
    guarded(async () => {
      await onUse(id);
      select(id); // directions are computed afresh at the new picture
    });
  });
}

function signed(x) {
  return x > 0 ? `+${x.toFixed(1)}` : x.toFixed(1);
}

/** Work from picture ``id`` (or hide the panel for null or a model without ``mutate``). */
export function select(id) {
  if (id === source && id !== null) return;
  cancelPending();
  ticket += 1;
  source = id;
  preview = null;
  resetSliders();
  clear($("sliders-preview"));
  $("sliders-status").textContent = "";
  $("sliders-use").disabled = true;
  if (id === null) {
    $("breed-sliders").hidden = true;
    return;
  }
  $("sliders-source").src = `/api/gallery/${id}/file`;
  $("sliders-source").alt = `picture ${id}`;
  $("sliders-source").dataset.id = id;
  guarded(async () => {
    const mine = ticket;
    const can = await canMutate();
    if (mine === ticket) $("breed-sliders").hidden = !can;
  });
  setBusy(job !== null);
}

export function current() {
  return source;
}

async function canMutate() {
  const kind = kindOf(await catalog(), getModel());
  return Boolean(kind?.verbs.some((v) => v.verb === "mutate"));
}

function resetSliders(except = -1) {
  for (const [d, s] of sliders.entries()) {
    if (d === except) continue;
    s.input.value = "0";
    s.output.value = signed(0);
  }
}

function cancelPending() {
  if (pending) clearTimeout(pending.timer);
  pending = null;
}

/** A slider was released: after a short pause (another release restarts it), mutate. */
function schedule(d) {
  resetSliders(d); // one direction at a time: the others go back to the picture itself
  cancelPending();
  pending = {
    timer: setTimeout(() => {
      pending = null;
      guarded(() => run(d, Number(sliders[d].input.value), 1));
    }, DEBOUNCE_MS),
  };
}

function setBusy(busy) {
  for (const s of sliders) {
    s.input.disabled = busy;
    s.sweep.disabled = busy;
  }
  $("sliders-use").disabled = busy || !preview;
  $("breed-sliders").setAttribute("aria-busy", String(busy));
}

async function run(direction, amount, frames) {
  if (source === null || job !== null) return;
  const mine = ticket;
  const parent = source;
  const args = { parent, direction, amount, frames };
  setBusy(true);
  $("sliders-status").textContent = "queued";
  let failed = null;
  let ids = [];
  try {
    const { job: id } = await postJSON("/api/generate", { model: getModel(), verb: "mutate", args });
    job = followJob(id, {
      state: (s) => {
        if (mine === ticket) $("sliders-status").textContent = s;
      },
      progress: (p) => {
        if (mine === ticket) $("sliders-status").textContent = p.message;
      },
      result: (r) => {
        ids = r.ids;
      },
      error: (m) => {
        failed = m;
      },
    });
    const state = await job.done;
    if (state !== "done") {
      if (failed && mine === ticket) showError(failed);
      return;
    }
  } finally {
    job = null;
    setBusy(false);
  }
  if (mine !== ticket) return; // another picture was chosen meanwhile
  showPreview(ids, direction, amount, frames);
}

function showPreview(ids, direction, amount, frames) {
  const box = clear($("sliders-preview"));
  if (!ids.length) return;
  if (frames === 1) {
    box.append(
      el(
        "figure",
        { class: "slider-result", dataset: { testid: "slider-preview", id: ids[0] } },
        el("img", { src: `/api/gallery/${ids[0]}/file`, alt: `direction ${direction}, ${signed(amount)}` }),
        el("figcaption", {}, `direction ${direction}, ${signed(amount)} · `, el("a", { href: `#gallery/${ids[0]}`, text: "details" })),
      ),
    );
    choose(ids[0]);
    return;
  }
  // A sweep: the strip; click a frame to choose it.
  const strip = el("div", { class: "slider-strip", dataset: { testid: "slider-strip" } });
  const offsets = ids.map((_, i) => (ids.length === 1 ? amount : -amount + (2 * amount * i) / (ids.length - 1)));
  for (const [i, id] of ids.entries()) {
    strip.append(
      el(
        "button",
        {
          type: "button",
          class: "slider-frame",
          dataset: { testid: "slider-frame", id },
          attrs: { "aria-pressed": "false", title: `direction ${direction}, ${signed(offsets[i])}` },
          onclick: () => choose(id),
        },
        el("img", { src: `/api/gallery/${id}/file`, alt: `direction ${direction}, ${signed(offsets[i])}` }),
      ),
    );
  }
  box.append(strip, el("p", { class: "hint", text: `direction ${direction} from −${amount} to +${amount}: click a frame to choose it` }));
  choose(null); // the middle frame is the picture itself: let the user pick one
}

function choose(id) {
  preview = id;
  for (const frame of document.querySelectorAll("#sliders-preview .slider-frame")) {
    frame.setAttribute("aria-pressed", String(frame.dataset.id === id));
  }
  $("sliders-use").disabled = job !== null || !preview;
}
