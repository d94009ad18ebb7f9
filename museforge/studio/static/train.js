// Train: start a training job, watch its loss curve and previews, cancel or resume it;
// the list of all jobs. A kind's own settings (text-to-image: which encoder, which
// architecture) are drawn from its ``train_fields``; models are sent by their studio names.

import { catalog, followJob, getJSON, guarded, isFinished, postJSON, showError, showInfo, upload } from "./api.js";
import { $, clear, el, setOptions, shortTime } from "./ui.js";

const COLOURS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2"];
const NOT_METRICS = new Set(["fraction", "message", "step", "preview"]);

let watched = null; // {id, stream, lastSeq, points: [{step, metrics}], preview}
let uploaded = []; // uploaded data sets as select options

export async function init() {
  $("train-kind").addEventListener("change", () => guarded(renderData));
  $("train-data").addEventListener("change", () => guarded(preferModelsOfData));
  $("train-upload").addEventListener("change", () => guarded(uploadData));
  $("train-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    guarded(start);
  });
  $("train-cancel").addEventListener("click", () =>
    guarded(async () => {
      await postJSON(`/api/jobs/${watched.id}/cancel`);
      showInfo("cancelling: the trainer saves a checkpoint first");
    }),
  );
  $("train-resume").addEventListener("click", () =>
    guarded(async () => {
      await postJSON(`/api/jobs/${watched.id}/resume`);
      follow(watched.id, watched.lastSeq);
    }),
  );
  const cat = await catalog();
  setOptions(
    $("train-kind"),
    cat.kinds.filter((k) => k.trainable).map((k) => ({ value: k.kind, label: `${k.kind} — ${k.description}` })),
  );
  await renderData();
}

export function show() {
  guarded(listJobs);
}

async function renderData() {
  const cat = await catalog();
  const kind = cat.kinds.find((k) => k.kind === $("train-kind").value);
  const modality = kind?.modality;
  const role = modality === "style" ? "content" : "training";
  const sets = cat.datasets.filter((d) => d.modality === modality && d.role === role);
  setOptions($("train-data"), [
    ...sets.map((d) => ({ value: d.name, label: `${d.name} — ${d.description} (${d.size}; ${d.licence})` })),
    ...uploaded,
  ]);
  $("train-style-label").hidden = modality !== "style";
  if (modality === "style") {
    setOptions(
      $("train-style"),
      cat.datasets
        .filter((d) => d.modality === "style" && d.role === "style")
        .map((d) => ({ value: d.name, label: `${d.name} — ${d.description}` })),
    );
  }
  await renderSettings();
}

/** The kind's own settings as selects, keeping the values of fields already shown. */
async function renderSettings() {
  const cat = await catalog();
  const kind = cat.kinds.find((k) => k.kind === $("train-kind").value);
  const box = $("train-settings");
  const previous = Object.fromEntries([...box.querySelectorAll("select")].map((s) => [s.dataset.setting, s.value]));
  const fields = kind?.train_fields || [];
  clear(box);
  box.hidden = !fields.length;
  for (const field of fields) {
    const dataset = { setting: field.name, testid: `train-${field.name}` };
    if (field.type === "model") dataset.modelKind = field.model_kind;
    const select = el("select", { id: `train-setting-${field.name}`, dataset, onchange: () => markField(null) });
    setOptions(select, settingOptions(cat, field));
    if (field.default != null) select.value = field.default;
    if ([...select.options].some((o) => o.value === previous[field.name])) select.value = previous[field.name];
    box.append(
      el(
        "label",
        { class: "field", dataset: { setting: field.name } },
        field.label,
        select,
        el("small", { class: "field-error", hidden: true, dataset: { testid: `train-${field.name}-error` } }),
      ),
    );
  }
  await preferModelsOfData();
}

function settingOptions(cat, field) {
  if (field.type !== "model") return field.choices.map((c) => ({ value: c }));
  const models = cat.models.filter((m) => m.kind === field.model_kind);
  if (!models.length) return [{ value: "", label: `none yet: train a ${field.model_kind} first` }];
  return models.map((m) => ({ value: m.name, label: typeof m.data === "string" ? `${m.name} (${m.data})` : m.name }));
}

/** Model fields default to a model that learnt from the chosen data set, if there is one. */
async function preferModelsOfData() {
  const cat = await catalog();
  const data = $("train-data").value;
  for (const select of $("train-settings").querySelectorAll("select[data-model-kind]")) {
    const match = cat.models.find((m) => m.kind === select.dataset.modelKind && m.data === data);
    if (match) select.value = match.name;
  }
  markField(null);
}

/** Show the server's one-line error next to the setting it names (none: clear them). */
function markField(err) {
  for (const label of $("train-settings").querySelectorAll("label")) {
    const hit = Boolean(err) && label.dataset.setting === err.setting;
    label.classList.toggle("invalid", hit);
    const note = label.querySelector(".field-error");
    note.textContent = hit ? err.message : "";
    note.hidden = !hit;
  }
}

async function uploadData() {
  const file = $("train-upload").files[0];
  if (!file) return;
  const { id, files } = await upload("/api/datasets", file);
  uploaded.push({ value: id, label: `${file.name} (uploaded, ${files} files)` });
  await renderData();
  $("train-data").value = id;
  $("train-upload").value = "";
  showInfo(`uploaded ${files} files from ${file.name}`);
}

async function start() {
  const name = $("train-name").value.trim();
  if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(name)) {
    throw new Error("name: lower-case letters, digits and '-', at most 40");
  }
  const body = {
    kind: $("train-kind").value,
    data: $("train-data").value,
    name,
    time_budget: $("train-budget").value.trim() || "2m",
  };
  const steps = $("train-steps").value.trim();
  if (steps) body.steps = Number(steps);
  if (!$("train-style-label").hidden) body.style = $("train-style").value;
  const settings = [...$("train-settings").querySelectorAll("select")];
  if (settings.length) body.settings = Object.fromEntries(settings.map((s) => [s.dataset.setting, s.value]));
  markField(null);
  let job;
  try {
    ({ job } = await postJSON("/api/train", body));
  } catch (err) {
    markField(err);
    throw err;
  }
  watch(job, name);
  guarded(listJobs);
}

/** Show job ``id`` in the live panel, replaying its events from the start. */
function watch(id, title) {
  watched?.stream?.close();
  watched = { id, stream: null, lastSeq: 0, points: [], preview: null };
  $("train-live").hidden = false;
  $("train-title").textContent = title;
  $("train-preview").hidden = true;
  $("train-progress").value = 0;
  draw();
  follow(id, 0);
}

function follow(id, after) {
  const w = watched;
  w.stream?.close();
  setButtons("running");
  let failed = null;
  w.stream = followJob(
    id,
    {
      event: (_type, _data, seq) => {
        if (seq) w.lastSeq = seq;
      },
      state: (state) => {
        $("train-status").textContent = state;
        setButtons(state);
        guarded(listJobs);
      },
      progress: (p) => {
        $("train-progress").value = p.fraction;
        $("train-status").textContent = p.message;
        if (p.step !== undefined) {
          const metrics = Object.fromEntries(
            Object.entries(p).filter(([k, v]) => !NOT_METRICS.has(k) && typeof v === "number"),
          );
          w.points.push({ step: p.step, metrics });
          draw();
        }
        if (p.preview && p.preview !== w.preview) {
          w.preview = p.preview;
          const img = $("train-preview");
          img.src = `/api/jobs/${id}/preview?v=${encodeURIComponent(p.preview)}`;
          img.hidden = false;
        }
      },
      result: (r) => {
        showInfo(`trained ${r.model}: ${r.steps} steps in ${r.seconds} s` + (r.outlook ? ` — ${r.outlook}` : ""));
        // A new encoder is offered at once to text-to-image's settings.
        guarded(async () => {
          await catalog(true);
          await renderSettings();
        });
      },
      error: (m) => {
        failed = m;
      },
    },
    after,
  );
  w.stream.done.then((state) => {
    if (failed && state !== "closed") showError(failed);
    guarded(listJobs);
  });
}

function setButtons(state) {
  $("train-cancel").hidden = isFinished(state);
  $("train-resume").hidden = !["cancelled", "failed", "interrupted"].includes(state);
}

/** The loss curve: each metric with "loss" in its name (or every metric if none has). */
function draw() {
  const canvas = $("train-curve");
  const ctx = canvas.getContext("2d");
  const { width: W, height: H } = canvas;
  const pad = { l: 48, r: 12, t: 12, b: 28 };
  ctx.clearRect(0, 0, W, H);
  const points = watched?.points || [];
  const all = [...new Set(points.flatMap((p) => Object.keys(p.metrics)))];
  const names = all.some((n) => n.includes("loss")) ? all.filter((n) => n.includes("loss")) : all;
  const legend = clear($("train-legend"));
  ctx.strokeStyle = "#9ca3af";
  ctx.strokeRect(pad.l, pad.t, W - pad.l - pad.r, H - pad.t - pad.b);
  if (points.length < 1 || !names.length) {
    ctx.fillStyle = "#6b7280";
    ctx.font = "13px sans-serif";
    ctx.fillText("waiting for the first steps…", pad.l + 10, H / 2);
    return;
  }
  const values = points.flatMap((p) => names.map((n) => p.metrics[n]).filter(Number.isFinite));
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi - lo < 1e-9) {
    hi += 0.5;
    lo -= 0.5;
  }
  const s0 = points[0].step;
  const s1 = Math.max(points[points.length - 1].step, s0 + 1);
  const x = (s) => pad.l + ((s - s0) / (s1 - s0)) * (W - pad.l - pad.r);
  const y = (v) => H - pad.b - ((v - lo) / (hi - lo)) * (H - pad.t - pad.b);
  ctx.fillStyle = "#374151";
  ctx.font = "11px sans-serif";
  ctx.fillText(hi.toPrecision(3), 4, pad.t + 10);
  ctx.fillText(lo.toPrecision(3), 4, H - pad.b);
  ctx.fillText(`step ${s0}`, pad.l, H - 8);
  ctx.fillText(`step ${s1}`, W - pad.r - 60, H - 8);
  names.forEach((name, i) => {
    const colour = COLOURS[i % COLOURS.length];
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let started = false;
    for (const p of points) {
      const v = p.metrics[name];
      if (!Number.isFinite(v)) continue;
      if (started) ctx.lineTo(x(p.step), y(v));
      else ctx.moveTo(x(p.step), y(v));
      started = true;
    }
    ctx.stroke();
    const last = points.findLast((p) => Number.isFinite(p.metrics[name]));
    legend.append(
      el("span", { class: `legend-item c${i % COLOURS.length}` }, `${name} ${last ? last.metrics[name].toPrecision(4) : ""}`),
    );
  });
}

async function listJobs() {
  const jobs = await getJSON("/api/jobs?limit=50");
  const body = clear($("jobs-body"));
  for (const job of jobs) {
    const what =
      job.kind === "train"
        ? `${job.params.kind} on ${job.params.data} → ${job.params.name}`
        : `${job.params.model} · ${job.params.verb}`;
    const watchButton =
      job.kind === "train"
        ? el("button", { type: "button", text: "watch", onclick: () => watch(job.id, job.params.name) })
        : job.result?.ids?.length
          ? el("a", { href: `#gallery/${job.result.ids[0]}`, text: "open" })
          : "";
    body.append(
      el(
        "tr",
        { dataset: { id: job.id, state: job.state, testid: "job-row" } },
        el("td", { class: "mono", text: job.id }),
        el("td", { text: job.kind }),
        el("td", { text: what }),
        el("td", { class: `state ${job.state}`, text: job.state, title: job.error || "" }),
        el("td", {}, el("progress", { max: 1, value: job.progress })),
        el("td", { text: shortTime(job.started || job.created) }),
        el("td", {}, watchButton),
      ),
    );
  }
  if (!jobs.length) body.append(el("tr", {}, el("td", { colSpan: 7, class: "hint", text: "no jobs yet" })));
}
