// The web view: a grid of camera tiles refreshed from /web/state, pictures from the MJPEG previews.
// Plain JS, no build step. Browsers open at most six connections per host, and each MJPEG stream
// holds one, so only the first MAX_STREAMS pictures are live streams; the others refresh from
// snapshot.jpg once a second. That leaves connections for the page's own requests.
"use strict";

const MAX_STREAMS = 4;
const POLL_MS = 2000;
const SNAPSHOT_MS = 1000;
const STATUS_TEXT = { backoff: "reconnecting" };
const tiles = new Map();  // camera name -> {el, mode}
const grid = document.getElementById("grid");
const errorLine = document.getElementById("error");

function q(el, sel) { return el.querySelector(sel); }
function fmt(v, digits = 1) { return v === null || v === undefined ? "–" : Number(v).toFixed(digits); }
function cameraUrl(name, path) { return `/cameras/${encodeURIComponent(name)}${path}`; }

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (resp.status === 401) { location.reload(); throw new Error("token needed"); }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    throw new Error(detail || `${resp.status} ${resp.statusText}`);
  }
  return data;
}

// -- pictures -------------------------------------------------------------------------------
function showPicture(img, name, view, live) {
  const want = `${view}|${live}`;
  if (img.dataset.want === want) return;
  img.dataset.want = want;
  clearTimeout(img._timer);
  img.onload = null;
  if (view === null) { img.removeAttribute("src"); return; }  // closing the stream stops its encoding
  if (live) {
    img.src = cameraUrl(name, `/preview.mjpg?view=${view}`);
    return;
  }
  const next = () => { img.src = cameraUrl(name, `/snapshot.jpg?view=${view}&t=${Date.now()}`); };
  img.onload = img.onerror = () => { img._timer = setTimeout(() => { if (img.dataset.want === want) next(); }, SNAPSHOT_MS); };
  next();
}

function allocatePictures() {
  let budget = MAX_STREAMS;
  for (const [name, t] of tiles) {
    const needs = { enhanced: ["enhanced"], source: ["source"], split: ["enhanced", "source"] }[t.mode];
    const live = budget >= needs.length;
    if (live) budget -= needs.length;
    showPicture(q(t.el, "img.enhanced"), name, needs.includes("enhanced") ? "enhanced" : null, live);
    showPicture(q(t.el, "img.source"), name, needs.includes("source") ? "source" : null, live);
  }
}

function setMode(t, mode) {
  t.mode = mode;
  const view = q(t.el, ".view");
  view.className = `view ${mode}`;
  for (const b of t.el.querySelectorAll(".modes button")) b.classList.toggle("on", b.dataset.mode === mode);
  applySplit(t);
  allocatePictures();
}

function applySplit(t) {
  const pct = Number(q(t.el, "input.split").value);
  // The source picture lies on top; in split mode only its left `pct` percent shows.
  q(t.el, "img.source").style.clipPath = t.mode === "split" ? `inset(0 ${100 - pct}% 0 0)` : "none";
}

// -- tiles ----------------------------------------------------------------------------------
function makeTile(cam, controls) {
  const el = document.getElementById("tile").content.firstElementChild.cloneNode(true);
  el.dataset.camera = cam.name;
  q(el, ".name").textContent = cam.name;
  q(el, ".controls").hidden = !controls;
  const t = { el, mode: "enhanced" };
  for (const b of el.querySelectorAll(".modes button")) b.addEventListener("click", () => setMode(t, b.dataset.mode));
  q(el, "input.split").addEventListener("input", () => applySplit(t));
  q(el, "button.restart").addEventListener("click", () => act("POST", `/restart`, cam.name));
  const remove = q(el, "button.remove");
  remove.addEventListener("click", () => {
    if (remove.dataset.armed) { act("DELETE", "", cam.name); return; }
    remove.dataset.armed = "1";
    remove.textContent = "really remove?";
    setTimeout(() => { delete remove.dataset.armed; remove.textContent = "remove"; }, 3000);
  });
  return t;
}

async function act(method, path, name) {
  try {
    await api(method, cameraUrl(name, path));
    await refresh();
  } catch (e) {
    errorLine.textContent = `${name}: ${e.message}`;
  }
}

function chart(svg, values) {
  const pts = values.map((v, i) => [i, v]).filter(([, v]) => v !== null);
  svg.innerHTML = "";
  if (pts.length < 2) return;
  const max = Math.max(...pts.map(([, v]) => v), 1e-9);
  const n = values.length - 1;
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", pts.map(([i, v]) => `${(200 * i) / n},${38 - (36 * v) / max}`).join(" "));
  svg.appendChild(line);
  svg.setAttribute("aria-label", `max ${max.toFixed(1)}`);
  svg.parentElement.title = `max ${max.toFixed(1)}`;
}

function update(t, cam) {
  const status = q(t.el, ".status");
  const text = STATUS_TEXT[cam.status] || cam.status;
  status.textContent = text;
  status.className = `status ${text}`;
  q(t.el, ".fps").textContent = `${fmt(cam.fps_in)} / ${fmt(cam.fps_out)}`;
  q(t.el, ".dropped").textContent = cam.dropped;
  q(t.el, ".p95").textContent = cam.latency_p95_ms === null ? "–" : `${fmt(cam.latency_p95_ms)} ms`;
  q(t.el, ".reconnects").textContent = cam.reconnects;
  q(t.el, ".chain").textContent = Object.entries(cam.stages).map(([k, v]) => `${k}: ${v}`).join(", ") || "–";
  q(t.el, ".format").textContent = cam.input ? `${cam.input} → ${cam.output}` : "–";
  q(t.el, ".last-error").textContent = cam.status === "streaming" ? "" : cam.last_error || "";
  chart(q(t.el, ".chart-fps"), cam.history.fps_out);
  chart(q(t.el, ".chart-p95"), cam.history.p95_ms);
}

async function refresh() {
  const state = await api("GET", "/web/state");
  document.getElementById("add").hidden = !state.controls;
  const names = new Set(state.cameras.map((c) => c.name));
  let changed = false;
  for (const [name, t] of tiles) {
    if (!names.has(name)) {
      for (const img of t.el.querySelectorAll("img")) img.removeAttribute("src");
      t.el.remove();
      tiles.delete(name);
      changed = true;
    }
  }
  for (const cam of state.cameras) {
    let t = tiles.get(cam.name);
    if (!t) {
      t = makeTile(cam, state.controls);
      tiles.set(cam.name, t);
      grid.appendChild(t.el);
      changed = true;
    }
    update(t, cam);
  }
  if (changed) allocatePictures();
  const streaming = state.cameras.filter((c) => c.status === "streaming").length;
  document.getElementById("summary").textContent = `${state.cameras.length} camera(s), ${streaming} streaming`;
}

document.getElementById("add").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = {
    name: f.get("name"),
    source: f.get("source"),
    chain: { sr: Number(f.get("sr")), restore: f.get("restore") === "on" },
  };
  const line = document.getElementById("add-error");
  try {
    await api("POST", "/cameras", body);
    line.textContent = "";
    ev.target.reset();
    await refresh();
  } catch (e) {
    line.textContent = e.message;
  }
});

async function loop() {
  try {
    await refresh();
    errorLine.textContent = "";
  } catch (e) {
    errorLine.textContent = `cannot reach the service: ${e.message}`;
  }
  setTimeout(loop, POLL_MS);
}
loop();
