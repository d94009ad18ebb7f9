// Write: a poem written together. One row per line (Chinese: per 句): a lock, the line and
// its form marks from the server (POST /api/verse/marks). "Write the rest" runs the poem
// verb with the locked lines kept (--keep); "Alternatives" asks for five versions of one
// line with every other line kept, ranked by the model's own score.

import { catalog, getJSON, guarded, postJSON, showError, watchJob } from "./api.js";
import { $, clear, el, randomSeed, setOptions } from "./ui.js";

const FORMS = {
  zh: [["qijue", "七绝"], ["wujue", "五绝"], ["qilv", "七律"], ["wulv", "五律"]],
  en: [["quatrain"], ["couplet"], ["ballad"], ["limerick"], ["sonnet"], ["haiku"], ["free"]],
};
const ALTERNATIVES = 5;
const MARKS_DELAY_MS = 250;

let models = [];
let rows = []; // {item, lock, input, marks}
let selected = 0;
let marksTimer = null;
let marksAsked = 0; // only the newest answer is drawn
let layoutAsked = 0; // ... and only the newest layout
let job = null;

const language = () => models.find((m) => m.name === $("write-model").value)?.variant || "en";

export async function init() {
  $("write-model").addEventListener("change", () => guarded(() => modelChanged()));
  $("write-form").addEventListener("change", () => guarded(() => layout()));
  $("write-book").addEventListener("change", () => guarded(() => refreshMarks()));
  $("write-rest").addEventListener("click", () => guarded(() => writeRest()));
  $("write-options").addEventListener("click", () => guarded(() => alternatives()));
  $("write-clear").addEventListener("click", () => guarded(() => {
    for (const row of rows) setRow(row, "", false);
    return refreshMarks();
  }));
}

export async function show(_arg, entering) {
  if (!entering) return;
  const cat = await catalog();
  models = cat.models.filter((m) => m.kind === "text-lm");
  setOptions($("write-model"), models.map((m) => ({ value: m.name, label: `${m.name} (${m.variant || "en"})` })));
  if (!models.length) {
    showError("no text model yet: train one on the Train page (or run `museforge demo`)");
    return;
  }
  await modelChanged();
}

async function modelChanged() {
  const lang = language();
  setOptions($("write-form"), FORMS[lang].map(([value, label]) => ({ value, label: label ? `${label} ${value}` : value })));
  $("write-book-label").hidden = lang !== "zh";
  await layout();
}

/** Rows for the chosen form: as many as it has lines, keeping what was written. Only the
 * newest layout is drawn (a model and then a form chosen quickly ask twice), and it keeps
 * what was typed while it waited for the server. */
async function layout() {
  const asked = ++layoutAsked;
  const answer = await marksFor(rows.map((r) => r.input.value));
  if (asked !== layoutAsked) return;
  const before = rows.map((r) => [r.input.value, r.lock.checked]);
  const list = clear($("write-lines"));
  rows = [];
  for (let i = 0; i < answer.rows; i++) {
    const row = makeRow(i);
    list.append(row.item);
    rows.push(row);
    if (before[i]) setRow(row, before[i][0], before[i][1]);
  }
  selected = Math.min(selected, rows.length - 1);
  select(selected);
  await refreshMarks();
}

function makeRow(i) {
  const lock = el("input", { type: "checkbox", dataset: { testid: `write-lock-${i + 1}` }, attrs: { "aria-label": `keep line ${i + 1}` } });
  const input = el("input", { type: "text", maxLength: 200, dataset: { testid: `write-line-${i + 1}` }, attrs: { "aria-label": `line ${i + 1}` } });
  const marks = el("span", { class: "write-marks", dataset: { testid: `write-marks-${i + 1}` } });
  const item = el("li", { class: "write-line" }, el("span", { class: "number", text: String(i + 1) }), lock, input, marks);
  input.addEventListener("input", () => {
    lock.checked = input.value.trim() !== ""; // what a person types is kept
    scheduleMarks();
  });
  input.addEventListener("focus", () => select(i));
  lock.addEventListener("change", () => select(i));
  return { item, lock, input, marks };
}

function setRow(row, text, locked) {
  row.input.value = text;
  row.lock.checked = locked && text.trim() !== "";
}

function select(i) {
  selected = i;
  rows.forEach((row, k) => row.item.classList.toggle("selected", k === i));
}

function scheduleMarks() {
  clearTimeout(marksTimer);
  marksTimer = setTimeout(() => guarded(() => refreshMarks()), MARKS_DELAY_MS);
}

function marksFor(lines) {
  const body = { model: $("write-model").value, form: $("write-form").value, lines };
  if (language() === "zh") body.rhyme_book = $("write-book").value;
  return postJSON("/api/verse/marks", body);
}

async function refreshMarks() {
  const asked = ++marksAsked;
  const answer = await marksFor(rows.map((r) => r.input.value));
  if (asked === marksAsked) draw(answer);
}

function draw(answer) {
  rows.forEach((row, i) => {
    const text = answer.marks[i] || "";
    row.marks.textContent = text;
    row.marks.classList.toggle("off", text.includes("✗") || /\d+\/\d+/.test(text) && !sameCount(text));
  });
  const verdict = clear($("write-verdict"));
  if (answer.violations === null || answer.violations === undefined) return;
  if (!answer.violations.length) verdict.append(el("li", { class: "ok", text: "✓ the poem meets the form", dataset: { testid: "write-ok" } }));
  for (const problem of answer.violations) verdict.append(el("li", { text: problem }));
}

function sameCount(text) {
  const [, got, want] = text.match(/(\d+)\/(\d+)/);
  return got === want;
}

/** "N:line" for every locked row that has text, except row ``skip``. */
function kept(skip = -1) {
  return rows.flatMap((row, i) => (i !== skip && row.lock.checked && row.input.value.trim() ? [`${i + 1}:${row.input.value.trim()}`] : []));
}

/** The lines of a written poem, as the rows count them. */
function linesOf(text) {
  if (language() === "zh") {
    const body = text.startsWith("《") ? text.split("\n").slice(1).join("\n") : text;
    return body.split(/[，。\n]/).map((s) => s.trim()).filter(Boolean);
  }
  return text.split("\n").map((s) => s.trim()).filter(Boolean);
}

async function runPoem(keep, n) {
  const args = { form: $("write-form").value, n, seed: randomSeed() };
  if (keep.length) args.keep = keep;
  if (language() === "zh") args.rhyme_book = $("write-book").value;
  const { job: id } = await postJSON("/api/generate", { model: $("write-model").value, verb: "poem", args });
  job?.close();
  $("write-job").hidden = false;
  for (const button of ["write-rest", "write-options"]) $(button).disabled = true;
  const status = $("write-status");
  job = watchJob(id, { bar: $("write-progress"), status });
  const { state, ids, failed } = await job.outcome;
  for (const button of ["write-rest", "write-options"]) $(button).disabled = false;
  status.textContent = state;
  if (state !== "done") throw new Error(failed || `the model did not finish (${state})`);
  return Promise.all(ids.map((art) => getJSON(`/api/gallery/${art}`)));
}

async function writeRest() {
  const [poem] = await runPoem(kept(), 1);
  const lines = linesOf(poem.text);
  rows.forEach((row, i) => {
    if (!row.lock.checked) setRow(row, lines[i] || "", false);
  });
  await refreshMarks();
}

async function alternatives() {
  const others = rows.filter((row, i) => i !== selected && !row.input.value.trim());
  if (others.length) {
    throw new Error("write (or let the model write) every other line first: alternatives keep them all");
  }
  const keep = rows.flatMap((row, i) => (i !== selected ? [`${i + 1}:${row.input.value.trim()}`] : []));
  const line = selected;
  const poems = await runPoem(keep, ALTERNATIVES);
  const list = clear($("write-alternative-list"));
  for (const poem of poems) {
    const text = linesOf(poem.text)[line] || "";
    list.append(el("li", {},
      el("button", {
        type: "button",
        text,
        dataset: { testid: "write-alternative" },
        onclick: () => guarded(() => {
          setRow(rows[line], text, true);
          return refreshMarks();
        }),
      }),
      el("span", { class: "hint", text: `  ${poem.provenance?.bits_per_char ?? ""} bits/char` }),
    ));
  }
  $("write-alternatives").hidden = false;
}
