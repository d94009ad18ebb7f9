// Small DOM helpers: elements are built from properties and text, never from HTML strings.

/**
 * el("button", {type: "button", class: "x", dataset: {id: "1"}, onclick: fn}, "text", child)
 * Keys starting with "on" become listeners; "class", "dataset", "text" and "attrs" are
 * special; everything else is set as a property.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "attrs") for (const [a, v] of Object.entries(value)) node.setAttribute(a, v);
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

export function clear(node) {
  node.replaceChildren();
  return node;
}

/** Options for a <select>: [{value, label}] or [{group, options: [...]}]. */
export function setOptions(select, entries, keep = true) {
  const previous = select.value;
  clear(select);
  for (const entry of entries) {
    if (entry.group) {
      select.append(el("optgroup", { label: entry.group }, entry.options.map(option)));
    } else {
      select.append(option(entry));
    }
  }
  if (keep && [...select.options].some((o) => o.value === previous)) select.value = previous;
}

function option({ value, label }) {
  return el("option", { value, text: label ?? value });
}

export function firstLines(text, n = 4) {
  return (text || "").split("\n").filter((l) => l.trim()).slice(0, n).join("\n");
}

export function shortTime(epochSeconds) {
  if (!epochSeconds) return "";
  return new Date(epochSeconds * 1000).toLocaleString();
}

export function randomSeed() {
  const buf = new Uint32Array(1);
  crypto.getRandomValues(buf);
  return buf[0] % 2147483647;
}

/** A music artwork's piano roll (its thumbnail); its file name if it has none. */
export function rollThumb(item) {
  return thumbOrName(item, "piano roll of");
}

/** A mesh artwork's turntable (it moves) or still preview; its file name if it has neither. */
export function meshThumb(item) {
  return thumbOrName(item, "preview of");
}

function thumbOrName(item, what) {
  const name = item.path.split("/").pop();
  const img = el("img", { src: `/api/gallery/${item.id}/thumb`, alt: `${what} ${name}`, loading: "lazy" });
  img.addEventListener("error", () => img.replaceWith(el("span", { class: "card-file", text: name })), { once: true });
  return img;
}

/** A sound artwork's spectrogram; its file name if it has none. */
export function soundThumb(item) {
  return thumbOrName(item, "spectrogram of");
}

/** A sound to hear and see: an audio player, its spectrogram and a WAV download. */
export function soundView(item) {
  const file = `/api/gallery/${item.id}/file`;
  const stem = item.path.split("/").pop().replace(/\.wav$/i, "");
  const box = el("div", { class: "music", dataset: { testid: "sound-view" } });
  box.append(el("audio", { controls: true, preload: "metadata", src: file, dataset: { testid: "sound-audio" }, attrs: { "aria-label": `listen to ${stem}` } }));
  if ((item.companions || []).includes("spectrogram")) {
    box.append(el("img", { class: "roll", src: `${file}?companion=spectrogram`, alt: `spectrogram of ${stem}`, dataset: { testid: "sound-spectrogram" } }));
  }
  const links = el("div", { class: "row downloads" }, el("a", { href: file, download: `${stem}.wav`, text: "WAV", dataset: { testid: "sound-wav" } }));
  // An instrument (the verb instrument) downloads as an SFZ with its samples, for a sampler.
  if ((item.companions || []).includes("instrument")) {
    links.append(el("a", { href: `${file}?companion=instrument`, download: `${stem}.sfz.zip`, text: "SFZ instrument (zip)", dataset: { testid: "sound-sfz" } }));
  }
  box.append(links);
  return box;
}

/** A video's poster frame (its thumbnail); its file name if it has none. */
export function videoThumb(item) {
  return thumbOrName(item, "poster of");
}

/** A video to watch with its sound (a visualisation), and an MP4 download. */
export function videoView(item) {
  const file = `/api/gallery/${item.id}/file`;
  const stem = item.path.split("/").pop().replace(/\.mp4$/i, "");
  const has = new Set(item.companions || []);
  const video = el("video", {
    controls: true,
    preload: "metadata",
    playsInline: true,
    src: file,
    dataset: { testid: "video-player" },
    attrs: { "aria-label": `watch ${stem}`, ...(has.has("poster") ? { poster: `${file}?companion=poster` } : {}) },
  });
  const links = el("div", { class: "row downloads" }, el("a", { href: file, download: `${stem}.mp4`, text: "MP4", dataset: { testid: "video-mp4" } }));
  return el("div", { class: "video", dataset: { testid: "video-view" } }, video, links);
}

/**
 * A music artwork to hear and see: an audio player, its piano roll, links to download the
 * MIDI and the MusicXML score. ``item`` is a gallery detail (with ``companions``).
 */
export function musicView(item) {
  const file = `/api/gallery/${item.id}/file`;
  const has = new Set(item.companions || []);
  const stem = item.path.split("/").pop().replace(/\.midi?$/i, "");
  const box = el("div", { class: "music", dataset: { testid: "music-view" } });
  if (has.has("audio")) {
    box.append(
      el("audio", {
        controls: true,
        preload: "metadata",
        src: `${file}?companion=audio`,
        dataset: { testid: "music-audio" },
        attrs: { "aria-label": `listen to ${stem}` },
      }),
    );
  }
  const views = el("div", { class: "music-views" });
  if (has.has("sheet")) {
    const sheet = el("img", { class: "sheet", src: `${file}?companion=sheet`, alt: `engraved score of ${stem}`, dataset: { testid: "music-sheet" } });
    views.append(el("a", { href: `${file}?companion=sheet`, target: "_blank", rel: "noopener", title: "open the score full size" }, sheet));
  }
  if (has.has("roll")) {
    views.append(el("img", { class: "roll", src: `${file}?companion=roll`, alt: `piano roll of ${stem}`, dataset: { testid: "music-roll" } }));
  }
  box.append(views);
  const links = el("div", { class: "row downloads" }, el("a", { href: file, download: `${stem}.mid`, text: "MIDI", dataset: { testid: "music-midi" } }));
  if (has.has("score")) {
    links.append(el("a", { href: `${file}?companion=score`, download: `${stem}.musicxml`, text: "MusicXML score", dataset: { testid: "music-score" } }));
  }
  if (has.has("pdf")) {
    links.append(el("a", { href: `${file}?companion=pdf`, download: `${stem}.score.pdf`, text: "score (PDF)", dataset: { testid: "music-pdf" } }));
  }
  if (has.has("svg")) {
    links.append(el("a", { href: `${file}?companion=svg`, download: `${stem}.score.svg`, text: "score (SVG)", dataset: { testid: "music-svg" } }));
  }
  box.append(links);
  return box;
}

/** A gallery thumbnail tile (picture, poem card, piano roll, mesh turntable or file card);
 * ``extra`` goes inside. */
export function artTile(item, { onclick, selected = false, testid = "art", extra = null } = {}) {
  const body =
    item.modality === "image" || item.modality === "animation"
      ? el("img", { src: `/api/gallery/${item.id}/thumb`, alt: `${item.kind || item.modality} ${item.path}`, loading: "lazy" })
      : item.modality === "text"
        ? el("pre", { class: "card-text", text: firstLines(item.text) || item.path })
        : item.modality === "music"
          ? rollThumb(item)
          : item.modality === "mesh"
            ? meshThumb(item)
            : item.modality === "sound"
              ? soundThumb(item)
              : item.modality === "video"
                ? videoThumb(item)
                : el("span", { class: "card-file", text: item.path.split("/").pop() });
  const button = el(
    "button",
    {
      type: "button",
      class: `tile-main ${item.modality}`,
      onclick,
      attrs: { "aria-pressed": String(selected), title: item.path },
    },
    body,
  );
  return el(
    "div",
    { class: `tile${selected ? " selected" : ""}`, dataset: { id: item.id, testid } },
    button,
    extra,
  );
}
