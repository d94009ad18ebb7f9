// Talking to the studio server: the launch token, JSON calls with visible errors, and
// following a job's server-sent events.

const TOKEN_KEY = "museforge-token";
const TOKEN_HEADER = "X-Museforge-Token";
const FINISHED = new Set(["done", "failed", "cancelled", "interrupted"]);

/** Keep the launch token from the address bar for this tab and take it out of the URL
 * (so it is not bookmarked, shared in a screenshot or kept in history). */
export function initToken() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }
  return Boolean(sessionStorage.getItem(TOKEN_KEY));
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export class ApiError extends Error {
  constructor(message, status, setting = null) {
    super(message);
    this.status = status;
    this.setting = setting; // the verb setting a 400 names, if any
  }
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  let setting = null;
  try {
    const body = await response.json();
    if (body && body.error) message = body.error;
    if (body && body.setting) setting = body.setting;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 401) message += " (open the address the studio printed)";
  return new ApiError(message, response.status, setting);
}

async function call(url, init = {}) {
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError("cannot reach the studio server; is it still running?", 0);
  }
  if (!response.ok) throw await failure(response);
  return response;
}

export async function getJSON(url) {
  return (await call(url)).json();
}

function postInit(body) {
  const headers = { [TOKEN_HEADER]: token() };
  if (body instanceof FormData) return { method: "POST", headers, body };
  headers["Content-Type"] = "application/json";
  return { method: "POST", headers, body: JSON.stringify(body ?? {}) };
}

export async function postJSON(url, body) {
  return (await call(url, postInit(body))).json();
}

export async function postForBlob(url, body) {
  return (await call(url, postInit(body))).blob();
}

/** Upload one file as the multipart field ``file``. */
export async function upload(url, file) {
  const form = new FormData();
  form.append("file", file, file.name);
  return postJSON(url, form);
}

export function queryString(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") q.set(key, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

// --- messages ---------------------------------------------------------------------------
const MAX_MESSAGES = 5;

function message(text, kind) {
  const area = document.getElementById("messages");
  const box = document.createElement("div");
  box.className = `message ${kind}`;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.dataset.testid = kind === "error" ? "error" : "info";
  const span = document.createElement("span");
  span.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "icon";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => box.remove());
  box.append(span, close);
  area.append(box);
  while (area.children.length > MAX_MESSAGES) area.firstElementChild.remove();
  if (kind !== "error") setTimeout(() => box.remove(), 6000);
}

export function showError(err) {
  message(err instanceof Error ? err.message : String(err), "error");
}

export function showInfo(text) {
  message(text, "info");
}

/** Run an async action; any failure is shown, never swallowed. */
export async function guarded(action) {
  try {
    return await action();
  } catch (err) {
    showError(err);
    return undefined;
  }
}

// --- jobs ---------------------------------------------------------------------------------
/**
 * Follow job ``id`` over SSE from event ``after`` on. Handlers: state(state), progress(data),
 * result(data), error(message), event(type, data, seq). The browser reconnects by itself
 * with Last-Event-ID after a dropped connection; we close once the job has finished.
 * Returns {close, done} where ``done`` resolves with the final state.
 */
export function followJob(id, handlers = {}, after = 0) {
  const source = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events${queryString({ after })}`);
  let resolve;
  const done = new Promise((r) => {
    resolve = r;
  });
  const listen = (type, fn) =>
    source.addEventListener(type, (ev) => {
      const data = JSON.parse(ev.data);
      handlers.event?.(type, data, Number(ev.lastEventId));
      fn(data);
    });
  listen("progress", (data) => handlers.progress?.(data));
  listen("log", () => {});
  listen("result", (data) => handlers.result?.(data));
  listen("error", (data) => handlers.error?.(data.message));
  listen("state", (data) => {
    handlers.state?.(data.state);
    if (FINISHED.has(data.state)) {
      source.close();
      resolve(data.state);
    }
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      handlers.error?.("lost the connection to the job's progress stream");
      resolve("unknown");
    }
  };
  return {
    close() {
      source.close();
      resolve("closed");
    },
    done,
  };
}

/**
 * Follow job ``id`` with its state (and, with ``messages``, its progress messages) shown in
 * ``status`` and its progress in ``bar``. Returns {close, outcome}: ``outcome`` resolves
 * once it has finished with {state, ids, failed} (the artworks made, the error if any).
 */
export function watchJob(id, { bar, status, messages = false }) {
  bar.value = 0;
  status.textContent = "queued";
  let ids = [];
  let failed = null;
  const job = followJob(id, {
    state: (state) => {
      status.textContent = state;
    },
    progress: (p) => {
      bar.value = p.fraction;
      if (messages) status.textContent = p.message || "";
    },
    result: (r) => {
      ids = r.ids || [];
    },
    error: (message) => {
      failed = message;
    },
  });
  const outcome = job.done.then((state) => {
    if (state === "done") bar.value = 1;
    return { state, ids, failed };
  });
  return { close: () => job.close(), outcome };
}

export const isFinished = (state) => FINISHED.has(state);

// --- what the server offers -------------------------------------------------------------
let catalogPromise = null;

/** Models, kinds (with verb forms) and data sets, loaded once; ``reload`` after training. */
export function catalog(reload = false) {
  if (reload || !catalogPromise) {
    catalogPromise = Promise.all([
      getJSON("/api/models"),
      getJSON("/api/kinds"),
      getJSON("/api/datasets"),
    ]).then(([models, kinds, datasets]) => ({ models, kinds, datasets }));
    catalogPromise.catch(() => {
      catalogPromise = null;
    });
  }
  return catalogPromise;
}

export function kindOf(cat, modelName) {
  const model = cat.models.find((m) => m.name === modelName);
  return model ? cat.kinds.find((k) => k.kind === model.kind) : undefined;
}
