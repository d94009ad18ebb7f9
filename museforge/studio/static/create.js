// Create: pick a model and a verb, fill the form read from the verb's signature, run it as
// a job and show what it made.

import { catalog, getJSON, guarded, kindOf, postJSON, queryString, showError, showInfo, upload, watchJob } from "./api.js";
import { $, clear, el, meshThumb, musicView, randomSeed, rollThumb, setOptions, soundThumb, soundView } from "./ui.js";
import { whyPanel } from "./why.js";
import { hasWords, vocabularyOf, wordHelp } from "./words.js";

const TASTE_FACTOR = 4; // "more like the ones I liked": make 4× as many, keep the best
let fields = []; // the current verb's field controls: {field, read(), write(value)}
let hidden = new Set(); // the current verb's settings that do not apply to this model
let job = null;

export async function init() {
  $("create-model").addEventListener("change", () => guarded(renderVerbs));
  $("create-verb").addEventListener("change", () => guarded(renderForm));
  $("create-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded(submit);
  });
  await listModels();
  await renderVerbs();
}

export function show() {
  guarded(listModels); // models trained meanwhile appear
}

async function listModels() {
  const cat = await catalog();
  const kinds = [...new Set(cat.models.map((m) => m.kind))].sort();
  setOptions(
    $("create-model"),
    kinds.map((kind) => ({
      group: kind,
      options: cat.models.filter((m) => m.kind === kind).map((m) => ({ value: m.name })),
    })),
  );
}

async function renderVerbs(verb) {
  const cat = await catalog();
  const kind = kindOf(cat, $("create-model").value);
  const verbs = kind?.verbs || [];
  setOptions($("create-verb"), verbs.map((v) => ({ value: v.verb, label: v.label })), false);
  // Start on "sample" (the plain "make me some") unless a remix asks for another verb.
  const wanted = verb || (verbs.some((v) => v.verb === "sample") ? "sample" : verbs[0]?.verb);
  if (wanted) $("create-verb").value = wanted;
  await renderForm();
}

async function currentForm() {
  const cat = await catalog();
  const kind = kindOf(cat, $("create-model").value);
  return { kind, form: kind?.verbs.find((v) => v.verb === $("create-verb").value) };
}

async function renderForm() {
  const { kind, form } = await currentForm();
  const cat = await catalog();
  const model = cat.models.find((m) => m.name === $("create-model").value);
  // A model that records the words it learnt from (text-to-image) gets word help on its
  // text fields: the prompt's language, its unseen words, suggestions.
  const wordy = (form?.fields || []).some((f) => f.type === "text");
  const vocab = wordy ? await vocabularyOf(model?.name).catch(() => null) : null;
  const box = clear($("create-fields"));
  $("create-doc").textContent = form?.doc || "";
  // Settings declared for other variants (a Chinese model's English-only forms) are not shown.
  const fits = (field) => !field.applies || !model?.variant || field.applies.includes(model.variant);
  fields = (form?.fields || []).filter(fits).map((field) => control(field, model, hasWords(vocab) ? vocab : null));
  hidden = new Set((form?.fields || []).filter((f) => !fits(f)).map((f) => f.name));
  box.append(...fields.map((c) => c.node));
  // The taste model learns pictures and texts, not solids.
  $("create-taste-row").hidden = !fields.some((c) => c.field.name === "n") || kind?.modality === "sculpture";
  $("create-taste").checked = false;
}

// --- one control per field type -----------------------------------------------------------
// ``page`` prefixes the ids, so a form on another page (Play) never repeats Create's.
export function control(field, model, vocab = null, page = "field") {
  const id = `${page}-${field.name}`;
  const label = field.label + (field.required ? " *" : "");
  if (field.type === "image" || field.type === "images") return pictureControl(field, label, model);
  if (field.type === "mesh" || field.type === "meshes") return meshControl(field, label, model);
  if (field.type === "sound" || field.type === "sounds") return soundControl(field, label, model);
  if (field.type === "music") return musicControl(field, label);
  if (field.type === "choice") {
    const select = el("select", { id, name: field.name, title: field.help || "" });
    const options = field.choices.map((c) => ({ value: c, label: c }));
    if (field.optional) options.unshift({ value: "", label: "(none)" });
    setOptions(select, options);
    select.value = field.default ?? "";
    return {
      field,
      node: el("div", { class: "field", dataset: { field: field.name } }, el("label", { htmlFor: id, text: label }), select),
      read: () => select.value,
      write: (v) => {
        select.value = v ?? "";
      },
    };
  }
  if (field.type === "bool") {
    const input = el("input", { type: "checkbox", id, name: field.name, checked: Boolean(field.default) });
    return {
      field,
      node: el("label", { class: "field check", dataset: { field: field.name } }, input, field.label),
      read: () => input.checked,
      write: (v) => {
        input.checked = Boolean(v);
      },
    };
  }
  const numeric = field.type === "int" || field.type === "float";
  const input = el("input", {
    id,
    name: field.name,
    type: numeric ? "number" : "text",
    step: field.type === "int" ? "1" : "any",
    ...(numeric && field.min !== undefined ? { min: String(field.min) } : {}),
    ...(numeric && field.max !== undefined ? { max: String(field.max) } : {}),
    title: field.help || "",
    required: field.required,
    placeholder: field.default === null ? (field.required ? "required" : "optional") : "",
    value: field.default ?? "",
  });
  const node = el("div", { class: "field", dataset: { field: field.name } }, el("label", { htmlFor: id, text: label }), input);
  if (field.classes && model?.classes?.length) {
    // A class named in words (a sound's family): the model's own names to choose from.
    const list = el("datalist", { id: `${id}-classes` }, ...model.classes.map((name) => el("option", { value: name })));
    input.setAttribute("list", list.id);
    node.append(list);
  }
  const words = field.type === "text" && vocab ? wordHelp(input, vocab) : null;
  if (words) node.classList.add("prompt-box");
  let random = null;
  if (field.name === "seed") {
    // A fresh seed each time by default, so pressing Create again gives new pictures.
    random = el("input", { type: "checkbox", checked: true, id: `${id}-random` });
    random.dataset.testid = "seed-random";
    input.disabled = true;
    random.addEventListener("change", () => {
      input.disabled = random.checked;
    });
    node.append(el("label", { class: "check inline" }, random, "random"));
  }
  return {
    field,
    node,
    random,
    read() {
      if (random?.checked) input.value = String(randomSeed());
      const raw = input.value.trim();
      if (raw === "") return undefined;
      return numeric ? Number(raw) : raw;
    },
    write(v) {
      input.value = v ?? "";
      words?.();
      if (random) {
        random.checked = false;
        input.disabled = false;
      }
    },
  };
}

/** Pictures from the gallery (click to choose) or uploaded from this computer. Parents
 * to breed must come from the same model (their latents are in their provenance). */
function pictureControl(field, label, model) {
  return galleryPicker(field, label, {
    modality: "image",
    own: field.name === "parents" ? model?.sha256 : undefined,
    face: (item) => el("img", { src: `/api/gallery/${item.id}/thumb`, alt: item.path }),
    upload: {
      url: "/api/uploads",
      accept: "image/*",
      label: "or upload ",
      face: (f) => el("img", { src: URL.createObjectURL(f), alt: `uploaded ${f.name}` }),
    },
    uploaded: "your uploaded picture",
  });
}

const MESH_FILES = ".stl,.obj,.ply,.off,.glb,.gltf,model/stl,model/obj,model/gltf-binary";

/** Meshes from the gallery (click a turntable to choose) or, where the verb reads any
 * mesh (project), an STL, OBJ, PLY, OFF or GLB file uploaded from this computer. A mesh the
 * verb takes a latent from must be this model's, from the gallery (its latent is in its
 * provenance there). */
function meshControl(field, label, model) {
  const named = (text) => el("span", { class: "card-file", text });
  return galleryPicker(field, label, {
    modality: "mesh",
    own: field.own_model ? model?.sha256 : undefined,
    face: (item) => meshThumb(item),
    style: "mesh",
    upload: field.own_model
      ? null
      : {
          url: "/api/uploads/mesh",
          accept: MESH_FILES,
          label: "or upload STL / OBJ / PLY / OFF / GLB ",
          face: (f) => named(`uploaded ${f.name}`),
        },
    uploaded: "your uploaded mesh",
    none: field.own_model ? "none of this model's in the gallery yet: sample some first" : null,
  });
}

const SOUND_FILES = ".wav,.flac,.ogg,.mp3,audio/wav,audio/flac,audio/ogg,audio/mpeg";

/** Sounds from the gallery (click a spectrogram to choose) or, where the verb reads any
 * recording (encode), a WAV, FLAC, OGG or MP3 uploaded from this computer. A note whose
 * latent the verb takes (breed's parents, play's timbre) must be this model's, from the
 * gallery (its latent is in its sidecar there). */
function soundControl(field, label, model) {
  const named = (text) => el("span", { class: "card-file", text });
  return galleryPicker(field, label, {
    modality: "sound",
    own: field.own_model ? model?.sha256 : undefined,
    face: (item) => soundThumb(item),
    style: "mesh",
    upload: field.own_model
      ? null
      : {
          url: "/api/uploads/sound",
          accept: SOUND_FILES,
          label: "or upload WAV / FLAC / OGG / MP3 ",
          face: (f) => named(`uploaded ${f.name}`),
        },
    uploaded: "your uploaded recording",
    none: field.own_model ? "none of this model's in the gallery yet: sample some first" : null,
  });
}

/** Artworks of one ``modality`` from the gallery (click to choose; ``own``: one model's
 * only) or uploaded, sent as their gallery or upload ids: one, or several for a list
 * field. ``face(item)`` draws a gallery artwork; ``upload`` (or null: none) says where
 * files go, what they may be and how an uploaded one is drawn. */
function galleryPicker(field, label, { modality, own, face, style = "", upload: up, uploaded, none = null }) {
  const many = field.type.endsWith("s"); // images, meshes
  let chosen = [];
  const strip = el("div", { class: "grid small picker", dataset: { testid: `picker-${field.name}` } });
  const summary = el("span", { class: "hint", dataset: { testid: `summary-${field.name}` } });
  const file = up ? el("input", { type: "file", accept: up.accept, multiple: many, dataset: { testid: `upload-${field.name}` } }) : null;

  const refresh = () => {
    for (const tile of strip.children) {
      const on = chosen.includes(tile.dataset.id);
      tile.classList.toggle("selected", on);
      tile.firstElementChild.setAttribute("aria-pressed", String(on));
    }
    summary.textContent = chosen.length ? `${chosen.length} chosen` : none && !strip.children.length ? none : "none chosen";
  };
  const toggle = (id) => {
    if (chosen.includes(id)) chosen = chosen.filter((c) => c !== id);
    else chosen = many ? [...chosen, id] : [id];
    refresh();
  };
  const addTile = (id, body) => {
    if ([...strip.children].some((t) => t.dataset.id === id)) return;
    const tile = el(
      "div",
      { class: "tile", dataset: { id, testid: "picker-item" } },
      el("button", { type: "button", class: `tile-main ${style}`.trim(), onclick: () => toggle(id) }, body),
    );
    strip.prepend(tile);
  };
  file?.addEventListener("change", () =>
    guarded(async () => {
      for (const f of file.files) {
        const { id } = await upload(up.url, f);
        addTile(id, up.face(f));
        toggle(id);
      }
      file.value = "";
    }),
  );
  guarded(async () => {
    const { items } = await getJSON(`/api/gallery${queryString({ modality, limit: 48, model: own })}`);
    for (const item of items.reverse()) addTile(item.id, face(item));
    refresh();
  });
  refresh();
  const node = el(
    "fieldset",
    { class: "field pictures", dataset: { field: field.name } },
    el("legend", { text: `${label} (${many ? "choose one or more" : "choose one"})` }),
    strip,
    el("div", { class: "row" }, file ? el("label", {}, up.label, file) : null, summary),
  );
  return {
    field,
    node,
    read: () => (many ? (chosen.length ? chosen : undefined) : chosen[0]),
    write(value) {
      chosen = value === null || value === undefined ? [] : [].concat(value).map(String);
      // An upload remixed from an artwork's settings has no thumbnail to show: name it instead.
      for (const id of chosen) addTile(id, id.startsWith("upload:") ? el("span", { class: "card-file", text: uploaded }) : face({ id, path: id }));
      refresh();
    },
  };
}

const MUSIC_FILES = ".mid,.midi,.musicxml,.xml,.mxl,audio/midi,audio/x-midi,application/vnd.recordare.musicxml+xml";
const CORPUS = /^bwv[0-9.]+$/;

/** A piece of music: one from the gallery (click its piano roll), an uploaded MIDI or
 * MusicXML file, or, where the verb takes one, a Bach chorale from music21's corpus. */
function musicControl(field, label) {
  let chosen = null;
  const strip = el("div", { class: "grid small picker", dataset: { testid: `picker-${field.name}` } });
  const summary = el("span", { class: "hint" });
  const file = el("input", { type: "file", accept: MUSIC_FILES, dataset: { testid: `upload-${field.name}` } });
  const corpus = field.corpus
    ? el("input", { type: "text", id: `field-${field.name}-corpus`, placeholder: "bwv66.6", dataset: { testid: `corpus-${field.name}` } })
    : null;

  const refresh = () => {
    for (const tile of strip.children) {
      const on = tile.dataset.id === chosen;
      tile.classList.toggle("selected", on);
      tile.firstElementChild.setAttribute("aria-pressed", String(on));
    }
    const typed = corpus?.value.trim();
    summary.textContent = chosen ? "1 chosen" : typed ? `music21 corpus: ${typed}` : "none chosen";
  };
  const toggle = (id) => {
    chosen = chosen === id ? null : id;
    if (chosen && corpus) corpus.value = "";
    refresh();
  };
  const addTile = (id, face) => {
    if ([...strip.children].some((t) => t.dataset.id === id)) return;
    strip.prepend(
      el(
        "div",
        { class: "tile", dataset: { id, testid: "picker-item" } },
        el("button", { type: "button", class: "tile-main music", onclick: () => toggle(id) }, face),
      ),
    );
  };
  const named = (text) => el("span", { class: "card-file", text });
  file.addEventListener("change", () =>
    guarded(async () => {
      const f = file.files[0];
      if (!f) return;
      file.value = "";
      const { id } = await upload("/api/uploads/music", f);
      addTile(id, named(`uploaded ${f.name}`));
      toggle(id);
    }),
  );
  corpus?.addEventListener("input", () => {
    if (corpus.value.trim()) chosen = null;
    refresh();
  });
  guarded(async () => {
    const { items } = await getJSON(`/api/gallery${queryString({ modality: "music", limit: 48 })}`);
    for (const item of items.reverse()) addTile(item.id, rollThumb(item));
    refresh();
  });
  refresh();
  const node = el(
    "fieldset",
    { class: "field pictures", dataset: { field: field.name } },
    el("legend", { text: `${label} (choose a piece)` }),
    strip,
    el("div", { class: "row" }, el("label", {}, "or upload MIDI / MusicXML ", file), summary),
  );
  if (corpus) {
    node.append(el("div", { class: "row" }, el("label", { htmlFor: corpus.id }, "or a Bach chorale from music21's corpus", corpus)));
  }
  return {
    field,
    node,
    read() {
      if (chosen) return chosen;
      const typed = corpus?.value.trim();
      if (!typed) return undefined;
      if (!CORPUS.test(typed)) throw new Error(`'${field.label}': '${typed}' is not a corpus chorale like bwv66.6`);
      return `corpus:${typed}`;
    },
    write(value) {
      chosen = null;
      if (corpus) corpus.value = "";
      const ref = value === null || value === undefined ? "" : String(value);
      if (ref.startsWith("corpus:") && corpus) corpus.value = ref.slice("corpus:".length);
      else if (ref.startsWith("upload:")) {
        addTile(ref, named("your uploaded music"));
        chosen = ref;
      } else if (ref) {
        addTile(ref, rollThumb({ id: ref, path: ref }));
        chosen = ref;
      }
      refresh();
    },
  };
}

// --- running it ------------------------------------------------------------------------------
/** The values of a verb's field controls as its arguments; an Error naming a required
 * field left empty or a number that is not one. */
export function readArgs(controls, verb) {
  const args = {};
  for (const c of controls) {
    const value = c.read();
    if (value === undefined) {
      if (c.field.required) throw new Error(`${verb} needs '${c.field.label}'`);
      continue;
    }
    if (typeof value === "number" && Number.isNaN(value)) throw new Error(`'${c.field.label}' must be a number`);
    args[c.field.name] = value;
  }
  return args;
}

async function submit() {
  const model = $("create-model").value;
  const verb = $("create-verb").value;
  if (!model || !verb) throw new Error("choose a model and a verb first");
  const args = readArgs(fields, verb);
  const body = { model, verb, args };
  if ($("create-taste").checked && !$("create-taste-row").hidden) {
    const wanted = Math.max(1, Math.min(64, Number(args.n ?? fields.find((c) => c.field.name === "n")?.field.default ?? 1)));
    body.keep = wanted;
    args.n = wanted * TASTE_FACTOR;
  }
  for (const c of fields) c.node.classList.remove("invalid");
  let id;
  try {
    ({ job: id } = await postJSON("/api/generate", body));
  } catch (err) {
    // The server names the setting it refused: mark that field.
    fields.find((c) => c.field.name === err.setting)?.node.classList.add("invalid");
    throw err;
  }
  run(id, Boolean(body.keep));
}

function run(id, ranked) {
  job?.close();
  $("create-job").hidden = false;
  $("create-submit").disabled = true;
  const status = $("create-status");
  job = watchJob(id, { bar: $("create-progress"), status, messages: true });
  job.outcome.then(({ state, ids, failed }) => {
    $("create-submit").disabled = false;
    if (state === "done") {
      status.textContent = "done";
      guarded(async () => {
        // What the verb said of its work (not printable, a projection's IoU…) is in the job's result.
        const finished = await getJSON(`/api/jobs/${encodeURIComponent(id)}`).catch(() => null);
        await showResults(ids, finished?.result?.message);
      });
    } else if (failed) {
      const taste = ranked && /rate at least|taste/i.test(failed);
      showError(taste ? `Cannot pick ones you would like yet: ${failed}` : failed);
      status.textContent = state;
    } else if (state !== "closed") {
      status.textContent = state;
    }
  });
}

/** The artworks a job made, after what the verb said of them (solids that are not
 * printable, how much of a mesh a projection covers…), if it said anything. */
async function showResults(ids, message) {
  const box = clear($("create-results"));
  if (message) {
    const note = el("p", { class: "hint", text: message, dataset: { testid: "create-message" }, attrs: { role: "status" } });
    note.style.gridColumn = "1 / -1"; // a line across the results
    box.append(note);
  }
  for (const id of ids) {
    const item = await getJSON(`/api/gallery/${id}`);
    box.append(resultCard(item));
  }
  if (!ids.length) showInfo("the job made nothing");
}

function resultCard(item) {
  const link = el("a", { href: `#gallery/${item.id}`, text: "details" });
  // Kept by the taste model ("more like the ones I liked"): it can say why.
  const score = item.provenance?.taste_score;
  const why = score === undefined ? null : whyPanel(item.id);
  if (item.modality === "image" || item.modality === "animation") {
    return el(
      "figure",
      { class: "result", dataset: { testid: `result-${item.modality}`, id: item.id } },
      el("img", { src: `/api/gallery/${item.id}/file`, alt: `${item.kind} ${item.verb} seed ${item.seed}` }),
      el(
        "figcaption",
        {},
        item.seed === null || item.seed === undefined ? "" : `seed ${item.seed} · `,
        score === undefined ? "" : `taste ${score.toFixed(2)} · `,
        link,
      ),
      why,
    );
  }
  if (item.modality === "text") {
    return el(
      "figure",
      { class: "result poem", dataset: { testid: "result-text", id: item.id } },
      el("pre", { class: "poem-text", lang: item.provenance?.language || null, text: item.text || "" }),
      formMarks(item),
      el("figcaption", {}, poemNotes(item.provenance || {}), link),
      why,
    );
  }
  if (item.modality === "music") {
    return el(
      "figure",
      { class: "result music", dataset: { testid: "result-music", id: item.id } },
      musicView(item),
      el("figcaption", {}, musicNotes(item), link),
      provenance(item),
    );
  }
  if (item.modality === "mesh") return meshResult(item, link);
  if (item.modality === "sound") {
    return el("figure", { class: "result music", dataset: { testid: "result-sound", id: item.id } }, soundView(item), el("figcaption", {}, link), provenance(item));
  }
  return el(
    "figure",
    { class: "result", dataset: { testid: "result-file", id: item.id } },
    el("a", { href: `/api/gallery/${item.id}/file`, text: item.path }),
    el("figcaption", {}, link),
  );
}

/** What a piece's provenance says in brief: its seed, key, meter, tempo and length. */
function musicNotes(item) {
  const prov = item.provenance || {};
  const notes = el("dl", { class: "notes" });
  const add = (term, value) => {
    if (value === undefined || value === null || value === "" || typeof value === "object") return;
    notes.append(el("dt", { text: term }), el("dd", { text: String(value) }));
  };
  const settings = prov.settings || {};
  add("seed", item.seed ?? prov.seed);
  add("key", prov.key_played ?? settings.key);
  add("meter", settings.time_signature);
  add("tempo", settings.tempo);
  add("seconds", prov.seconds_of_music);
  if (prov.taste_score !== undefined) add("taste score", prov.taste_score);
  return notes;
}

/** A solid: its turntable, which opens its 3D view (the gallery's detail), what its
 * provenance says of it, and its files to download (STL for printing, OBJ, GLB). */
function meshResult(item, link) {
  const file = `/api/gallery/${item.id}/file`;
  const has = new Set(item.companions || []);
  const stem = item.path.split("/").pop().replace(/\.glb$/i, "");
  const open = el(
    "a",
    { class: "tile-main mesh", href: `#gallery/${item.id}`, title: "turn it in 3D", dataset: { testid: "result-mesh-open" } },
    meshThumb(item),
  );
  const download = (role, ext, text) =>
    el("a", { href: role ? `${file}?companion=${role}` : file, download: `${stem}${ext}`, text, dataset: { testid: `result-mesh-${ext.slice(1)}` } });
  const links = el("div", { class: "row downloads" });
  if (has.has("stl")) links.append(download("stl", ".stl", "STL (printing)"));
  if (has.has("obj")) links.append(download("obj", ".obj", "OBJ"));
  links.append(download(null, ".glb", "GLB"));
  return el(
    "figure",
    { class: "result mesh", dataset: { testid: "result-mesh", id: item.id } },
    open,
    el("figcaption", {}, meshNotes(item), links, link),
    provenance(item),
  );
}

/** What a solid's provenance says in brief: family, size, whether it prints, and for a
 * projection how much of the mesh it covers. */
function meshNotes(item) {
  const prov = item.provenance || {};
  const check = prov.print || {};
  const notes = el("dl", { class: "notes" });
  const add = (term, value) => {
    if (value === undefined || value === null || value === "") return;
    notes.append(el("dt", { text: term }), el("dd", { text: String(value) }));
  };
  add("seed", item.seed ?? prov.seed);
  add("family", prov.family);
  if (Array.isArray(prov.size_mm)) add("size", `${prov.size_mm.map((v) => Math.round(v)).join(" × ")} mm`);
  if (typeof prov.voxel_iou === "number") add("covers", `${Math.round(prov.voxel_iou * 100)}% of the mesh (voxel IoU)`);
  if (check.ok !== undefined) {
    const printer = check.printer?.name ?? prov.args?.printer;
    const repairs = Array.isArray(check.repairs) ? check.repairs : [];
    const problems = Array.isArray(check.problems) ? check.problems : [];
    const verdict = check.ok ? (repairs.length ? `yes, after repair: ${repairs.join("; ")}` : "yes") : `no: ${problems.join("; ") || check.refused || "see provenance"}`;
    add(printer ? `prints (${printer})` : "prints", verdict);
  }
  if (prov.taste_score !== undefined) add("taste score", prov.taste_score);
  return notes;
}

/** The whole provenance, folded away. */
function provenance(item) {
  return el(
    "details",
    { class: "provenance-box" },
    el("summary", { text: "provenance" }),
    el("pre", { class: "provenance", dataset: { testid: "result-provenance" }, text: JSON.stringify(item.provenance || {}, null, 2) }),
  );
}

/** The poem annotated line by line (平仄 and rhyme, or syllables and rhyme), folded away. */
export function formMarks(item) {
  if (!item.annotation) return el("span");
  return el(
    "details",
    { class: "form-marks", dataset: { testid: "form-marks" } },
    el("summary", { text: "form marks" }),
    el("pre", { class: "poem-text", lang: item.provenance?.language || null, text: item.annotation }),
  );
}

/** What the poem's provenance says about its form: the form asked for, and whether it holds. */
export function poemNotes(prov) {
  const notes = el("dl", { class: "notes" });
  const add = (term, value) => {
    if (value === undefined || value === null || value === "") return;
    notes.append(el("dt", { text: term }), el("dd", { text: String(value) }));
  };
  const form = prov.form || {};
  add("form", typeof form === "object" ? form.form || form.name : form);
  if (typeof form === "object") {
    add("rhyme", form.rhyme);
    add("tones", form.tones);
    add("acrostic", form.acrostic);
  }
  add("language", prov.language);
  add("seed", prov.args?.seed ?? prov.seed);
  add("temperature", prov.args?.temperature);
  if (Array.isArray(prov.violations)) {
    add("form check", prov.violations.length ? prov.violations.join("; ") : "meets the form");
  }
  if (prov.taste_score !== undefined) add("taste score", prov.taste_score);
  return notes;
}

/** Open Create with a remixed artwork's model, verb and settings filled in. */
export async function remix(recipe) {
  location.hash = "#create";
  const cat = await catalog();
  if (!cat.models.some((m) => m.name === recipe.model)) {
    showError(`the model '${recipe.model}' is not available in this studio`);
    return;
  }
  $("create-model").value = recipe.model;
  await renderVerbs(recipe.verb);
  const unknown = [];
  for (const [name, value] of Object.entries(recipe.args || {})) {
    const c = fields.find((f) => f.field.name === name);
    if (c) c.write(value);
    else if (!hidden.has(name)) unknown.push(name); // recorded, but not for this model's variant
  }
  showInfo(`Remixing ${recipe.id || "an artwork"}: ${recipe.model} · ${recipe.verb}`);
  if (unknown.length) showError(`settings this form does not have: ${unknown.join(", ")}`);
}
