// Play: a tune played on a learned instrument (the verb play of a sound model, its form read
// from the verb's declaration as on Create), and music turned into a video (visualise):
// a piece or a sound from the gallery, or an uploaded file, drives a picture model's walk.

import { catalog, getJSON, guarded, kindOf, postJSON, queryString, showError, showInfo, upload, watchJob } from "./api.js";
import { control, readArgs } from "./create.js";
import { $, clear, el, rollThumb, setOptions, soundThumb, soundView, videoView } from "./ui.js";

const SOUND_MODALITY = "sound";
const PICTURE_KINDS = new Set(["image-gan", "image-vae", "image-flow", "text-to-image"]);
const TEXT_TO_IMAGE = "text-to-image";
const AUDIO = /\.(wav|flac|ogg|mp3)$/i;
const HEARD_FILES = ".mid,.midi,.musicxml,.xml,.mxl,.wav,.flac,.ogg,.mp3,audio/*";
let fields = []; // the play verb's field controls
let playJob = null;
let seeJob = null;
let heard = null; // the music chosen to see: a gallery id or upload:ID

export async function init() {
  $("play-model").addEventListener("change", () => guarded(renderPlayForm));
  $("see-model").addEventListener("change", showWords);
  $("play-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded(playTune);
  });
  $("see-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded(makeVideo);
  });
  const file = $("see-upload");
  file.accept = HEARD_FILES;
  file.addEventListener("change", () =>
    guarded(async () => {
      const f = file.files[0];
      if (!f) return;
      file.value = "";
      const { id } = await upload(AUDIO.test(f.name) ? "/api/uploads/sound" : "/api/uploads/music", f);
      addHeard(id, el("span", { class: "card-file", text: `uploaded ${f.name}` }));
      chooseHeard(id);
    }),
  );
}

export async function show(arg, entering) {
  if (!entering) return;
  const cat = await catalog();
  const instruments = cat.models.filter((m) => kindOf(cat, m.name)?.verbs.some((v) => v.verb === "play"));
  const before = $("play-model").value;
  setOptions($("play-model"), instruments.map((m) => ({ value: m.name })));
  $("play-none").hidden = instruments.length > 0;
  $("play-submit").disabled = !instruments.length;
  if (!fields.length || $("play-model").value !== before) await renderPlayForm();
  setOptions($("see-model"), cat.models.filter((m) => PICTURE_KINDS.has(m.kind) && !m.letters).map((m) => ({ value: m.name, label: `${m.name} (${m.kind})` })));
  showWords();
  await listHeard();
}

// --- a tune on a learned instrument --------------------------------------------------------
async function renderPlayForm() {
  const cat = await catalog();
  const name = $("play-model").value;
  const model = cat.models.find((m) => m.name === name);
  const form = kindOf(cat, name)?.verbs.find((v) => v.verb === "play");
  fields = (form?.fields || []).map((field) => control(field, model, null, "play"));
  clear($("play-fields")).append(...fields.map((c) => c.node));
}

async function playTune() {
  const model = $("play-model").value;
  if (!model) throw new Error("no learned instrument: train a sound model first");
  const args = readArgs(fields, "play");
  const { job: id } = await postJSON("/api/generate", { model, verb: "play", args });
  playJob?.close();
  playJob = watchJob(id, { bar: $("play-progress"), status: $("play-status") });
  const ids = await made(playJob, "play");
  if (!ids) return;
  const box = clear($("play-results"));
  for (const art of ids) {
    const item = await getJSON(`/api/gallery/${art}`);
    const see = el("button", { type: "button", text: "See it", dataset: { testid: "play-see" }, onclick: () => seeThis(item) });
    box.append(el("figure", { class: "result music", dataset: { testid: "play-result", id: art } }, soundView(item), el("figcaption", { class: "row" }, el("a", { href: `#gallery/${art}`, text: "details" }), see)));
  }
  if (!ids.length) showInfo("nothing was played");
}

/** Show the ``section``'s job bar while ``job`` runs; the ids of what it made, or null
 * (its error shown) when it did not finish. */
async function made(job, section) {
  $(`${section}-job`).hidden = false;
  const { state, ids, failed } = await job.outcome;
  $(`${section}-status`).textContent = state; // not the last progress message
  if (state === "done") return ids;
  if (failed) showError(failed);
  return null;
}

function seeThis(item) {
  addHeard(item.id, soundThumb(item));
  chooseHeard(item.id);
  $("see-form").scrollIntoView({ block: "start" });
}

// --- music you can see --------------------------------------------------------------------
async function listHeard() {
  const strip = clear($("see-picker"));
  const lists = await Promise.all(
    ["music", SOUND_MODALITY].map((modality) => getJSON(`/api/gallery${queryString({ modality, limit: 24 })}`)),
  );
  const items = lists.flatMap((page) => page.items).sort((a, b) => a.created - b.created);
  for (const item of items) addHeard(item.id, item.modality === "music" ? rollThumb(item) : soundThumb(item));
  if (heard && ![...strip.children].some((t) => t.dataset.id === heard)) heard = null;
  refreshHeard();
}

function addHeard(id, face) {
  const strip = $("see-picker");
  if ([...strip.children].some((t) => t.dataset.id === id)) return;
  const button = el("button", { type: "button", class: "tile-main music", onclick: () => chooseHeard(heard === id ? null : id) }, face);
  strip.prepend(el("div", { class: "tile", dataset: { id, testid: "picker-item" } }, button));
}

function chooseHeard(id) {
  heard = id;
  refreshHeard();
}

function refreshHeard() {
  for (const tile of $("see-picker").children) {
    const on = tile.dataset.id === heard;
    tile.classList.toggle("selected", on);
    tile.firstElementChild.setAttribute("aria-pressed", String(on));
  }
  const none = !$("see-picker").children.length;
  $("see-summary").textContent = heard ? "1 chosen" : none ? "no music or sounds in the gallery yet: upload a file" : "none chosen";
}

async function showWords() {
  const cat = await catalog();
  const model = cat.models.find((m) => m.name === $("see-model").value);
  const words = model?.kind === TEXT_TO_IMAGE;
  $("see-words").hidden = !words;
  $("see-label-box").hidden = words;
}

async function makeVideo() {
  if (!heard) throw new Error("choose the music to see (a piece, a sound, or an upload)");
  const model = $("see-model").value;
  if (!model) throw new Error("no picture model to draw with: train one first");
  const words = !$("see-words").hidden;
  const body = {
    music: heard,
    model,
    seed: Number($("see-seed").value) || 0,
    fps: Number($("see-fps").value) || 24,
    size: $("see-size").value,
  };
  const label = $("see-label").value.trim();
  if (!words && label) body.label = Number(label);
  if (words) {
    body.prompts = $("see-prompts").value.split("\n").map((p) => p.trim()).filter(Boolean);
    const lyrics = $("see-lyrics").value.trim();
    if (lyrics) body.lyrics = lyrics;
  }
  const { job: id } = await postJSON("/api/visualise", body);
  seeJob?.close();
  seeJob = watchJob(id, { bar: $("see-progress"), status: $("see-status"), messages: true });
  const ids = await made(seeJob, "see");
  if (!ids) return;
  const box = clear($("see-results"));
  for (const art of ids) {
    const item = await getJSON(`/api/gallery/${art}`);
    box.append(el("figure", { class: "result video", dataset: { testid: "see-result", id: art } }, videoView(item), el("figcaption", {}, el("a", { href: `#gallery/${art}`, text: "details" }))));
  }
}
