// What every page of the console shares: reading the APIs, building the DOM (never from
// HTML strings: everything shown is data), the filters kept in the URL, the live refresh.
"use strict";

/** How often a page reads its APIs again. */
const REFRESH_MS = 3000;

/**
 * Where this browser keeps the API key the pages send: a `read` key shows everything, an
 * `operate` key also acknowledges and resolves incidents.
 */
const KEY_STORAGE = "obs-console-api-key";

/** The `Authorization` header of the key kept, if any. */
function keyHeaders() {
  const key = localStorage.getItem(KEY_STORAGE);
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** GET a JSON API: `{ok, status, body}`, `body` null when the answer is not JSON. */
async function getJson(path) {
  const response = await fetch(path, { headers: { accept: "application/json", ...keyHeaders() } });
  return { ok: response.ok, status: response.status, body: await bodyOf(response) };
}

/** POST a JSON body, answered as `getJson` answers. */
async function postJson(path, data) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...keyHeaders() },
    body: JSON.stringify(data),
  });
  return { ok: response.ok, status: response.status, body: await bodyOf(response) };
}

async function bodyOf(response) {
  try {
    return await response.json();
  } catch (_) {
    return null;
  }
}

/** `el("a", {href: "/x"}, "text", child, [more])`: attributes `on*` are listeners. */
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

/**
 * Replaces what `node` shows. The element that had the keyboard focus in it gets it back
 * in the new content when it is there again (the same id, or a link to the same place):
 * a refresh must not throw a keyboard user back to the top of the page.
 */
function fill(node, ...children) {
  const focused = node !== document.activeElement && node.contains(document.activeElement)
    ? focusSelector(document.activeElement) : null;
  node.replaceChildren();
  append(node, children);
  const again = focused && node.querySelector(focused);
  if (again) again.focus({ preventScroll: true });
}

/** A selector finding `element`'s like in redrawn content, or null. */
function focusSelector(element) {
  if (element.id) return `#${CSS.escape(element.id)}`;
  const href = element.getAttribute("href");
  return href === null ? null : `${element.localName}[href="${CSS.escape(href)}"]`;
}

/** Each state's shape, so that no state is told by its colour alone. */
const MARKS = {
  failing: "✖", silent: "◌", anomalous: "▲", ok: "●",
  critical: "◆", warning: "▲", error: "✖", info: "ℹ", debug: "·",
  open: "●", acknowledged: "◐", resolved: "✓",
  reachable: "●", unreachable: "✖",
  ingested: "→", standardized: "→", processed: "✓", dead_lettered: "✖",
};

/** A state as a shape and a word. */
function badge(state) {
  const word = String(state);
  return el("span", { class: `badge badge-${word}` },
    el("span", { "aria-hidden": "true" }, MARKS[word] || "•"), " ", word.replace(/_/g, " "));
}

/** `75 s`, `12 min`, `3 h 5 min`, `2 d 4 h`. */
function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  const minutes = Math.round(s / 60);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** How long before now (the browser's clock) `iso` was. */
function ago(iso) {
  if (!iso) return "—";
  return `${duration((Date.now() - Date.parse(iso)) / 1000)} ago`;
}

/** An RFC 3339 time as `2025-09-05 16:45:26 UTC`, the full value in its tooltip. */
function when(iso) {
  if (!iso) return "—";
  const shown = iso.replace("T", " ").replace(/\.\d+/, "").replace(/(Z|\+00:00)$/, " UTC");
  return el("time", { datetime: iso, title: iso }, shown);
}

function percent(rate) {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(rate < 0.1 && rate > 0 ? 1 : 0)} %`;
}

function number(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en");
}

/** The error of an API answer, in words. */
function problem(answer) {
  const error = answer.body && answer.body.error;
  const text = error ? `${error.message} (${answer.status} ${error.code})` : `the API answered ${answer.status}`;
  return el("p", { class: "problem", role: "alert" }, text);
}

/** A note for the live line when a view was still reading its topics. */
function partial(body) {
  return body && body.view_caught_up === false ? "partial: the view is still catching up" : "";
}

/** The page's filters, from its URL. */
function query() {
  return new URLSearchParams(location.search);
}

/** Writes the filters into the URL (empty ones left out), so the view is a link. */
function setQuery(values) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value) params.set(name, value);
  const search = params.toString();
  history.replaceState(null, "", search ? `?${search}` : location.pathname);
}

/** The query string of an API call: the named filters of the URL. */
function apiQuery(names, extra) {
  const params = new URLSearchParams(extra || {});
  const current = query();
  for (const name of names) if (current.get(name)) params.set(name, current.get(name));
  const search = params.toString();
  return search ? `?${search}` : "";
}

/** A table: `columns` are headings, `rows` arrays of cells. */
function table(columns, rows, attributes) {
  return el("table", attributes || {},
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))));
}

/** A labelled form field. */
function field(label, control) {
  return el("label", {}, el("span", {}, label), control);
}

/**
 * Runs `refresh` now and every REFRESH_MS while the page is visible (one at a time); the
 * line in the header says when the page was last updated. Returns a function that
 * refreshes at once (after a change of filters).
 */
function live(refresh) {
  const line = document.getElementById("live");
  let running = false;
  async function tick() {
    if (running || document.hidden) return;
    running = true;
    try {
      const note = await refresh();
      // When the page first showed its data: what the page-load measure reads
      // (scripts/console-page-load.py).
      if (!performance.getEntriesByName("console-data").length) performance.mark("console-data");
      line.textContent = `updated ${new Date().toLocaleTimeString("en-GB")}${note ? ` · ${note}` : ""}`;
      line.classList.toggle("stale", Boolean(note));
    } catch (error) {
      line.textContent = `refresh failed: ${error.message}`;
      line.classList.add("stale");
    } finally {
      running = false;
    }
  }
  tick();
  setInterval(tick, REFRESH_MS);
  document.addEventListener("visibilitychange", tick);
  return tick;
}

for (const link of document.querySelectorAll("[data-nav]")) {
  if (link.dataset.nav.split(" ").includes(document.body.dataset.page)) {
    link.setAttribute("aria-current", "page");
  }
}

// The key form: a key entered is kept in this browser (an empty one forgets it).
{
  const form = document.getElementById("key-form");
  const input = document.getElementById("api-key");
  input.placeholder = localStorage.getItem(KEY_STORAGE) ? "key kept · paste to change" : "paste a read key";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    location.reload();
  });
}

// "/" goes to the page's first filter, as in most tools.
document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (event.key !== "/" || typing) return;
  const first = document.querySelector("main input, main select");
  if (first) {
    event.preventDefault();
    first.focus();
  }
});
