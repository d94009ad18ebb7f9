// Design: words set in a model's typeface (PNG + SVG), sprite sheets (PNG + atlas), and a
// gallery picture printed on a garment (preview + print tile). Type and sheets run as jobs
// of the verbs typeset and sheet; a garment print is quick and answered at once.

import { catalog, getJSON, guarded, postJSON, showError, showInfo, watchJob } from "./api.js";
import { $, clear, el, setOptions } from "./ui.js";

const PICTURE_KINDS = new Set(["image-gan", "image-vae", "image-flow"]);
let job = null;

export async function init() {
  const on = (form, action) =>
    $(form).addEventListener("submit", (ev) => {
      ev.preventDefault();
      guarded(action);
    });
  on("type-form", setType);
  on("sprite-form", makeSheet);
  on("garment-form", printGarment);
}

export async function show() {
  const cat = await catalog();
  const names = (keep) => cat.models.filter(keep).map((m) => ({ value: m.name }));
  const type = names((m) => m.letters);
  setOptions($("type-model"), type.length ? type : [{ value: "", label: "no type model yet: train one on glyphs" }]);
  const pictures = names((m) => PICTURE_KINDS.has(m.kind) && !m.letters);
  setOptions($("sprite-model"), pictures);
  setOptions($("type-mark"), pictures.map(({ value }) => ({ value: `model:${value}`, label: value })));
}

const number = (id) => Number($(id).value);

async function setType() {
  const model = $("type-model").value;
  if (!model) throw new Error("no type model: train an image-vae on glyphs (recipes/glyphs-vae.toml)");
  const args = { seed: number("type-seed"), layout: $("type-layout").value };
  const text = $("type-text").value.trim();
  if (text) args.text = text;
  if (args.layout === "logo") args.mark = $("type-mark-picture").value.trim() || $("type-mark").value;
  if (args.layout === "logo" && !args.mark) throw new Error("a logo needs a mark: train a picture model or give a gallery picture");
  run(await postJSON("/api/generate", { model, verb: "typeset", args }));
}

async function makeSheet() {
  const args = {
    n: number("sprite-n"),
    seed: number("sprite-seed"),
    colours: number("sprite-colours"),
    scale: number("sprite-scale"),
    team: $("sprite-team").value,
  };
  run(await postJSON("/api/generate", { model: $("sprite-model").value, verb: "sheet", args }));
}

async function printGarment() {
  const body = {
    picture: $("garment-picture").value.trim(),
    garment: $("garment-kind").value,
    repeat: number("garment-repeat"),
    tile_cm: number("garment-cm"),
    dpi: number("garment-dpi"),
  };
  if (!body.picture) throw new Error("give the id of a gallery picture to print");
  const { ids } = await postJSON("/api/design/garment", body);
  await showResults(ids);
}

function run({ job: id }) {
  job?.close();
  $("design-job").hidden = false;
  job = watchJob(id, { bar: $("design-progress"), status: $("design-status") });
  job.outcome.then(({ state, ids, failed }) => {
    if (state === "done") guarded(() => showResults(ids));
    else if (failed) showError(failed);
  });
}

async function showResults(ids) {
  const box = clear($("design-results"));
  for (const id of ids) {
    const item = await getJSON(`/api/gallery/${id}`);
    const file = `/api/gallery/${id}/file`;
    const stem = item.path.split("/").pop().replace(/\.png$/i, "");
    const links = [el("a", { href: `#gallery/${id}`, text: "details" }), el("a", { href: file, download: `${stem}.png`, text: "PNG" })];
    const has = new Set(item.companions || []);
    if (has.has("svg")) links.push(el("a", { href: `${file}?companion=svg`, download: `${stem}.svg`, text: "SVG", dataset: { testid: "design-svg" } }));
    if (has.has("atlas")) links.push(el("a", { href: `${file}?companion=atlas`, download: `${stem}.atlas.json`, text: "atlas", dataset: { testid: "design-atlas" } }));
    box.append(
      el(
        "figure",
        { class: "result", dataset: { testid: "design-result", id } },
        el("img", { src: file, alt: `${item.verb} ${stem}` }),
        el("figcaption", { class: "row downloads" }, ...links),
      ),
    );
  }
  if (!ids.length) showInfo("nothing was made");
}
