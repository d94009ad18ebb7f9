// Gallery: thumbnails with search and filters, a detail panel (rate, tag, lineage,
// provenance, remix) and a zip export of the chosen artworks.

import { catalog, getJSON, guarded, postForBlob, postJSON, queryString, showInfo } from "./api.js";
import { formMarks, poemNotes, remix } from "./create.js";
import { meshView, releaseMeshView } from "./mesh.js";
import { $, artTile, clear, el, musicView, setOptions, shortTime, soundView, videoView } from "./ui.js";
import { whyPanel } from "./why.js";

const PAGE = 60;
let offset = 0;
let selected = new Set();
let current = null; // the artwork shown in the detail panel
let debounce = null;

export async function init() {
  $("gallery-q").closest("label").after(meaningToggle());
  const filters = ["gallery-q", "gallery-modality", "gallery-model", "gallery-stars", "gallery-liked", "gallery-tag", "gallery-frames"];
  for (const id of filters) {
    $(id).addEventListener("input", () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => guarded(() => load()), 250);
    });
  }
  $("gallery-filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded(() => load());
  });
  $("gallery-more").addEventListener("click", () => guarded(() => load(true)));
  $("gallery-clear").addEventListener("click", () => {
    selected = new Set();
    for (const box of $("gallery-grid").querySelectorAll("input[type=checkbox]")) box.checked = false;
    updateSelection();
  });
  $("gallery-export").addEventListener("click", () => guarded(exportZip));
  $("detail-close").addEventListener("click", () => {
    location.hash = "#gallery";
  });
  $("detail-like").addEventListener("click", () => guarded(() => toggleLike(true)));
  $("detail-dislike").addEventListener("click", () => guarded(() => toggleLike(false)));
  $("detail-tag-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded(addTag);
  });
  $("detail-remix").addEventListener("click", () =>
    guarded(async () => remix(await getJSON(`/api/gallery/${current.id}/remix`))),
  );
  const stars = $("detail-stars");
  for (let n = 1; n <= 5; n++) {
    stars.append(
      el("button", {
        type: "button",
        class: "star",
        text: "★",
        dataset: { testid: `star-${n}`, stars: String(n) },
        attrs: { "aria-label": `${n} star${n > 1 ? "s" : ""}`, "aria-pressed": "false" },
        onclick: () => guarded(() => rate({ stars: current.stars === n ? 0 : n })),
      }),
    );
  }
  await listModels();
}

async function listModels() {
  const cat = await catalog();
  setOptions($("gallery-model"), [
    { value: "", label: "all" },
    ...cat.models.map((m) => ({ value: m.sha256 || m.name, label: m.name })),
  ]);
}

/** Show the gallery; ``id`` (from #gallery/ID) opens that artwork's details. Moving from
 * one artwork to another keeps the grid (and its scroll position) as it is. */
export async function show(id, entering = true) {
  if (entering || !id) {
    await listModels();
    await load();
  }
  if (id) await openDetail(id);
  else $("detail").hidden = true;
}

function filters() {
  return {
    q: $("gallery-q").value.trim(),
    modality: $("gallery-modality").value,
    model: $("gallery-model").value,
    min_stars: $("gallery-stars").value,
    liked: $("gallery-liked").value,
    tag: $("gallery-tag").value.trim(),
    frames: $("gallery-frames").checked ? "true" : "", // an animation's stills too
    meaning: byMeaning() ? "true" : "",
  };
}

/** "by meaning" beside the search box: the words then rank the pictures by what they
 * show (a text–image encoder), not by the words in their settings. */
function meaningToggle() {
  const box = el("input", {
    type: "checkbox",
    id: "gallery-meaning",
    dataset: { testid: "gallery-meaning" },
    onchange: () => guarded(() => load()),
  });
  const title = "rank the pictures by how well they fit the words (a text–image encoder)";
  return el("label", { class: "check", attrs: { title } }, box, "by meaning");
}

function byMeaning() {
  // With no words there is nothing to rank by: the plain listing is shown.
  return $("gallery-meaning").checked && $("gallery-q").value.trim() !== "";
}

function rankedBy(page) {
  if (!page.encoder) return "";
  return ` · ${page.ranked} pictures ranked by meaning (${page.encoder})${page.note ? ` · ${page.note}` : ""}`;
}

async function load(more = false) {
  offset = more ? offset + PAGE : 0;
  const page = await getJSON(`/api/gallery${queryString({ ...filters(), limit: PAGE, offset })}`);
  const { items, total } = page;
  const grid = $("gallery-grid");
  if (!more) clear(grid);
  for (const item of items) grid.append(tile(item));
  const shown = grid.children.length;
  $("gallery-summary").textContent = `${shown} shown · ${total} in the gallery${rankedBy(page)}`;
  $("gallery-more").hidden = items.length < PAGE;
  if (!shown) grid.append(el("p", { class: "hint", text: "nothing here yet: make something on the Create page" }));
  markCurrent();
}

function tile(item) {
  const box = el("input", {
    type: "checkbox",
    checked: selected.has(item.id),
    dataset: { testid: "gallery-select" },
    attrs: { "aria-label": `choose ${item.path} for export` },
    onchange: (ev) => {
      if (ev.target.checked) selected.add(item.id);
      else selected.delete(item.id);
      updateSelection();
    },
  });
  const stars = item.stars ? "★".repeat(item.stars) : "";
  const score = item.score !== undefined ? item.score.toFixed(2) : ""; // ranked by meaning
  const like = item.like === true ? " ♥" : item.like === false ? " ✗" : "";
  return artTile(item, {
    testid: "gallery-item",
    onclick: () => {
      location.hash = `#gallery/${item.id}`;
    },
    extra: el("div", { class: "tile-foot" }, box, el("span", { class: "tile-marks", text: [stars + like, score].filter(Boolean).join(" · ") })),
  });
}

function updateSelection() {
  $("gallery-selected").textContent = selected.size ? `${selected.size} chosen` : "";
  $("gallery-export").disabled = selected.size === 0;
}

function markCurrent() {
  for (const t of $("gallery-grid").querySelectorAll(".tile")) {
    t.classList.toggle("current", current !== null && t.dataset.id === current.id);
  }
}

async function exportZip() {
  const blob = await postForBlob("/api/gallery/export", { ids: [...selected] });
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: "museforge-export.zip", hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  showInfo(`exported ${selected.size} artworks`);
}

// --- the detail panel ----------------------------------------------------------------------
async function openDetail(id) {
  current = await getJSON(`/api/gallery/${encodeURIComponent(id)}`);
  const picture = current.modality === "image" || current.modality === "animation";
  if (picture) current.looksLike = ["…"];
  renderDetail();
  if (picture) looksLike(current.id); // not awaited: the first call encodes the labels
  $("detail").hidden = false;
  markCurrent();
  // On a narrow screen the panel sits below the grid: bring it into view.
  if (window.matchMedia("(max-width: 760px)").matches) $("detail").scrollIntoView({ block: "start" });
}

function renderDetail() {
  const a = current;
  $("detail-title").textContent = a.path.split("/").pop();
  const view = clear($("detail-view"));
  if (a.modality !== "mesh") releaseMeshView(); // its WebGL context is not kept for nothing
  const file = `/api/gallery/${a.id}/file`;
  if (a.modality === "image" || a.modality === "animation") {
    view.append(el("img", { src: file, alt: a.path }));
    if (a.frames?.length) view.append(frameStrip(a.frames));
    // A sprite sheet's atlas (frame rectangles for a game engine) or a set word's SVG
    // outline downloads beside the picture.
    const has = new Set(a.companions || []);
    if (has.has("atlas") || has.has("svg")) {
      const stem = a.path.split("/").pop().replace(/\.png$/i, "");
      const links = el("div", { class: "row downloads" }, el("a", { href: file, download: `${stem}.png`, text: "PNG", dataset: { testid: "download-png" } }));
      if (has.has("atlas")) links.append(el("a", { href: `${file}?companion=atlas`, download: `${stem}.atlas.json`, text: "atlas (JSON)", dataset: { testid: "download-atlas" } }));
      if (has.has("svg")) links.append(el("a", { href: `${file}?companion=svg`, download: `${stem}.svg`, text: "SVG outline", dataset: { testid: "download-svg" } }));
      view.append(links);
    }
  } else if (a.modality === "text") {
    view.append(el("pre", { class: "poem-text", text: a.text || "" }), formMarks(a), poemNotes(a.provenance || {}));
  } else if (a.modality === "music") view.append(musicView(a));
  else if (a.modality === "mesh") view.append(meshView(a)); // the same view again for the same mesh
  else if (a.modality === "sound") view.append(soundView(a));
  else if (a.modality === "video") view.append(videoView(a));
  else view.append(el("p", { text: a.path }));
  $("detail-file").href = file;
  $("detail-remix").hidden = a.modality === "video"; // made from music by visualise, not a verb

  const meta = clear($("detail-meta"));
  const row = (k, v) => v !== null && v !== undefined && v !== "" && meta.append(el("dt", { text: k }), el("dd", { text: String(v) }));
  row("kind", a.kind);
  row("model", a.provenance?.studio?.model || (a.model || "").split("/").pop());
  row("verb", a.verb);
  const args = a.provenance?.args || {}; // the words a picture or a prompt walk was made of
  row("prompt", args.prompt);
  row("from", args.prompt_a);
  row("to", args.prompt_b);
  row("seed", a.seed);
  row("made", shortTime(a.created));
  row("id", a.id);
  if (a.looksLike) meta.append(el("dt", { text: "looks like" }), looksLikeRow(a.looksLike));
  // What the taste model ranks (pictures and poems) can say why it would be recommended.
  const why = clear($("detail-why"));
  if (a.modality === "image" || a.modality === "text") why.append(whyPanel(a.id));

  for (const b of $("detail-stars").children) {
    const on = Number(b.dataset.stars) <= (a.stars || 0);
    b.classList.toggle("on", on);
    b.setAttribute("aria-pressed", String(Number(b.dataset.stars) === a.stars));
  }
  $("detail-like").setAttribute("aria-pressed", String(a.like === true));
  $("detail-dislike").setAttribute("aria-pressed", String(a.like === false));

  const tags = clear($("detail-tags"));
  for (const tag of a.tags || []) {
    tags.append(
      el(
        "li",
        { class: "tag", dataset: { tag } },
        tag,
        el("button", {
          type: "button",
          class: "icon",
          text: "×",
          dataset: { testid: "tag-remove" },
          attrs: { "aria-label": `remove tag ${tag}` },
          onclick: () => guarded(() => changeTags({ remove: [tag] })),
        }),
      ),
    );
  }
  links($("detail-parents"), a.parents, "no parents");
  links($("detail-children"), a.children, "no children");
  $("detail-provenance").textContent = JSON.stringify(a.provenance, null, 2);
}

/** An animation's stills in the order they play; each opens that frame's details. */
function frameStrip(frames) {
  return el(
    "div",
    { class: "frame-strip", dataset: { testid: "detail-frames" } },
    el("h4", { text: `${frames.length} frames` }),
    el(
      "ol",
      {},
      frames.map((f, i) =>
        el(
          "li",
          {},
          el(
            "a",
            { href: `#gallery/${f.id}`, dataset: { testid: "detail-frame", id: f.id }, attrs: { title: f.path } },
            el("img", { src: `/api/gallery/${f.id}/thumb`, alt: `frame ${i + 1}`, loading: "lazy" }),
          ),
        ),
      ),
    ),
  );
}

/** Zero-shot tags: the encoder's captions that fit the picture best. Failing (no encoder),
 * the reason is shown in their place rather than as an alarm. */
async function looksLike(id) {
  let lines;
  try {
    const { labels } = await getJSON(`/api/gallery/${encodeURIComponent(id)}/looks-like`);
    lines = labels.map((l) => `${l.label} (${l.score.toFixed(2)})`);
  } catch (err) {
    lines = [err.message];
  }
  if (current?.id !== id) return; // another artwork was opened meanwhile
  current = { ...current, looksLike: lines };
  // Only the row changes: a full redraw would restart an animation that is playing.
  $("detail-meta").querySelector('[data-testid="detail-looks-like"]')?.replaceWith(looksLikeRow(lines));
}

function looksLikeRow(lines) {
  const row = el("dd", { dataset: { testid: "detail-looks-like" } }, lines.map((line) => el("div", { text: line })));
  row.style.wordBreak = "normal"; // labels are sentences: wrap between words, not inside them
  return row;
}

function links(list, items, empty) {
  clear(list);
  if (!items?.length) list.append(el("li", { class: "hint", text: empty }));
  for (const item of items || []) {
    const label = item.label || (item.path ? item.path.split("/").pop() : item.id);
    list.append(el("li", {}, item.id ? el("a", { href: `#gallery/${item.id}`, text: label }) : label));
  }
}

async function rate(change) {
  const summary = await postJSON(`/api/gallery/${current.id}/rate`, change);
  current = { ...current, ...summary };
  renderDetail();
  refreshTile(summary);
}

function toggleLike(like) {
  // Pressing the pressed button again takes the like (or dislike) back.
  return current.like === like ? rate({ clear_like: true }) : rate({ like });
}

async function addTag() {
  const input = $("detail-tag-input");
  const tag = input.value.trim();
  if (!tag) return;
  await changeTags({ add: [tag] });
  input.value = "";
}

async function changeTags(change) {
  const { tags } = await postJSON(`/api/gallery/${current.id}/tags`, change);
  current = { ...current, tags };
  renderDetail();
}

function refreshTile(summary) {
  const old = $("gallery-grid").querySelector(`.tile[data-id="${CSS.escape(summary.id)}"]`);
  if (old) {
    old.replaceWith(tile(summary));
    markCurrent();
  }
}
