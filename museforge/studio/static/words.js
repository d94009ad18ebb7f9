// The words a model learnt from (text-to-image models record their caption words): the
// prompt's language, its unseen words and suggestions. The rules mirror the server's
// (museforge/crossmodal/folders.py language_of, museforge/crossmodal/vocabulary.py): a
// prompt with Chinese characters is Chinese; a word is a run of letters outside Chinese
// script, lower-cased, and in Chinese a pair of neighbouring characters.

import { getJSON } from "./api.js";
import { el } from "./ui.js";

const HAN = "\\u3400-\\u9fff\\uf900-\\ufaff";
const HAN_CHAR = new RegExp(`[${HAN}]`);
const LETTERS = `(?:(?![${HAN}])\\p{L})+`; // letters outside Chinese script
const WORD = new RegExp(`[${HAN}]+|${LETTERS}`, "gu");
const LANGUAGES = { en: "English", zh: "Chinese" };
const SUGGESTIONS = 12;
const cache = new Map(); // model name -> Promise of {words, complete}

export const languageOf = (text) => (HAN_CHAR.test(text) ? "zh" : "en");

/** The model's recorded words ({words: {lang: [...]}, complete: {lang: bool}}), fetched once;
 * empty lists for models that record none. */
export function vocabularyOf(model) {
  if (!model) return Promise.resolve({ words: {}, complete: {} });
  if (!cache.has(model)) {
    const found = getJSON(`/api/models/${model.split("/").map(encodeURIComponent).join("/")}/vocabulary`).catch((err) => {
      cache.delete(model); // try again next time
      throw err;
    });
    cache.set(model, found);
  }
  return cache.get(model);
}

export const hasWords = (vocab) => Object.values(vocab?.words || {}).some((w) => w.length);

/** The words of ``text`` as the server counts them (for suggestions). */
function tokens(text) {
  const out = [];
  for (const [run] of text.matchAll(WORD)) {
    if (!HAN_CHAR.test(run[0])) out.push(run.toLowerCase());
    else for (let i = 0; i + 1 < run.length; i++) out.push(run.slice(i, i + 2));
  }
  return out;
}

function seenSet(vocab) {
  if (!vocab._seen) vocab._seen = new Set(Object.values(vocab.words || {}).flat());
  return vocab._seen;
}

/** ``text`` cut into [part, unseen] pieces by the server's rule (vocabulary.unseen_words):
 * a letter word is unseen if not recorded; a Chinese character where it makes a recorded
 * pair with neither neighbour (a lone one: where no recorded pair has it). */
export function markUnseen(text, vocab) {
  const seen = seenSet(vocab);
  const unseen = new Array(text.length).fill(false);
  for (const m of text.matchAll(WORD)) {
    const run = m[0];
    let marks;
    if (!HAN_CHAR.test(run[0])) marks = new Array(run.length).fill(!seen.has(run.toLowerCase()));
    else if (run.length === 1) marks = [!seen.has(run) && ![...seen].some((w) => w.includes(run))];
    else {
      marks = new Array(run.length).fill(true);
      for (let i = 0; i + 1 < run.length; i++) {
        if (seen.has(run.slice(i, i + 2))) marks[i] = marks[i + 1] = false;
      }
    }
    marks.forEach((u, i) => {
      unseen[m.index + i] = u;
    });
  }
  const pieces = [];
  for (let i = 0; i < text.length; i++) {
    const last = pieces.at(-1);
    if (last && last[1] === unseen[i]) last[0] += text[i];
    else pieces.push([text[i], unseen[i]]);
  }
  return pieces;
}

/** Words to offer for ``text``: those of its language starting with the word being typed
 * (its last, unfinished word), else the commonest not yet in it. [fragment, words]. */
export function suggestions(text, vocab) {
  const lang = languageOf(text);
  const list = vocab.words?.[lang] || [];
  const tail = text.match(new RegExp(lang === "zh" ? `[${HAN}]$` : `${LETTERS}$`, "u"));
  const fragment = tail ? tail[0] : "";
  const low = fragment.toLowerCase();
  const used = new Set(tokens(text));
  const fits = fragment
    ? list.filter((w) => w.startsWith(low) && w !== low)
    : list.filter((w) => !used.has(w) && (lang === "zh" || w.length > 2));
  return [fragment, fits.slice(0, SUGGESTIONS)];
}

/** Word help under a text input: the language, the prompt with unseen words marked, and
 * suggestions to click. Returns a function that redraws it (after the value is set). */
export function wordHelp(input, vocab) {
  const language = el("span", { class: "word-language", dataset: { testid: "prompt-language" } });
  const marked = el("span", { class: "word-marks", dataset: { testid: "prompt-words" } });
  const offers = el("div", { class: "word-suggestions", dataset: { testid: "prompt-suggestions" } });
  const box = el("div", { class: "word-help" }, el("div", { class: "row" }, language, marked), offers);
  const capped = Object.values(vocab.complete || {}).some((c) => !c);
  const unseenTitle = capped ? "not among the model's commonest caption words" : "the model never saw this word in its captions";
  const refresh = () => {
    const text = input.value;
    language.textContent = text.trim() ? LANGUAGES[languageOf(text)] : "";
    marked.replaceChildren(
      ...markUnseen(text, vocab).map(([part, unseen]) =>
        unseen ? el("mark", { class: "unseen", text: part, attrs: { title: unseenTitle } }) : document.createTextNode(part),
      ),
    );
    marked.hidden = !markUnseen(text, vocab).some(([, unseen]) => unseen);
    const [fragment, words] = suggestions(text, vocab);
    offers.replaceChildren(
      ...words.map((word) =>
        el("button", {
          type: "button",
          class: "chip",
          text: word,
          dataset: { testid: "prompt-suggestion" },
          onclick: () => {
            const head = input.value.slice(0, input.value.length - fragment.length);
            const gap = head && !/\s$/.test(head) && languageOf(word) === "en" && !fragment ? " " : "";
            input.value = head + gap + word + (languageOf(word) === "en" ? " " : "");
            refresh();
            input.focus();
          },
        }),
      ),
    );
  };
  input.addEventListener("input", refresh);
  input.after(box);
  refresh();
  return refresh;
}
