// The city dashboard: reads the public API and the live stream with the visitor's own key.
import { TEXT, applyStatic, language, t } from "./i18n.js";
import { lineChart, pct, readinessBars } from "./charts.js";
import { assetMap } from "./map.js";

// Sectors are data (GET /v1/sectors): the plan's five, and any a later plan adds.
let SECTORS = [];
let SECTOR_NAMES = {};
const FEED_ROWS = 50;
const REFRESH_MS = 60_000;
const state = { key: null, readiness: null, areas: [], health: null, assets: [], series: [], feed: [],
  dropped: 0, socket: null, connected: false, feedUp: true, lastFrame: 0, retryMs: 1000 };

class Unauthorized extends Error {}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${state.key}` } });
  if (response.status === 401) throw new Unauthorized(path);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

async function pages(path, maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const body = await api(`${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return items;
}

const sectorName = (s) => {
  const row = SECTOR_NAMES[s];
  return row ? (language() === "en" && row.name_en ? row.name_en : row.name) : s;
};
const statusName = (s) => TEXT[language()].status[s] ?? s;
const num = (v) => (v === null || v === undefined ? null : Number(v));
const dateText = (d) => (d ? new Date(`${d}T00:00:00`).toLocaleDateString(language() === "vi" ? "vi-VN" : "en-GB") : "—");

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.append(td);
  return td;
}

function head(table, labels) {
  const tr = document.createElement("tr");
  for (const [text, cls] of labels) {
    const th = document.createElement("th");
    th.textContent = text;
    if (cls) th.className = cls;
    tr.append(th);
  }
  table.tHead.replaceChildren(tr);
}

function renderReadiness() {
  const r = state.readiness;
  if (!r) return;
  const rows = r.sectors.map((s) => ({
    sector: s.sector, label: sectorName(s.sector), share: s.ready_share, target: num(s.target_share),
    status: s.status,
    caption: s.essential === 0 ? t("noAssets")
      : `${s.ready} ${t("ready")} ${t("of")} ${s.essential} ${t("essential")} — ${t("target")} ${pct(num(s.target_share))}, ` +
        `${t("deadline")} ${dateText(s.deadline)}, ${t("stillNeeded")} ${s.still_needed ?? "—"} (${statusName(s.status)})`,
  }));
  document.getElementById("readiness").replaceChildren(readinessBars(rows));
  const first = r.sectors.find((s) => s.target_share !== null);
  document.getElementById("readiness-note").textContent =
    `${t("asOf")} ${dateText(r.as_of)}. ` +
    (first ? `${t("target")} ${pct(num(first.target_share))} — ${t("deadline")} ${dateText(first.deadline)}. ` : "") +
    `${t("total")}: ${r.total.ready}/${r.total.essential} (${pct(r.total.ready_share)}).`;
}

function renderAreas() {
  const table = document.getElementById("areas");
  head(table, [[t("area")], ...SECTORS.map((s) => [sectorName(s), "num"]), [t("total"), "num"]]);
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const { area, readiness } of state.areas) {
    const tr = document.createElement("tr");
    tr.dataset.area = area.code;
    cell(tr, language() === "en" && area.name_en ? area.name_en : area.name);
    for (const s of SECTORS) {
      const found = readiness.sectors.find((x) => x.sector === s);
      cell(tr, found && found.essential ? `${pct(found.ready_share)} (${found.ready}/${found.essential})` : "—", "num");
    }
    cell(tr, pct(readiness.total.ready_share), "num");
    body.append(tr);
  }
}

function renderHealth() {
  const table = document.getElementById("health");
  const states = ["online", "silent", "suspended", "provisioned"];
  head(table, [[t("sector")], ...states.map((s) => [t(s), "num"])]);
  const body = table.tBodies[0];
  body.replaceChildren();
  if (!state.health) return;
  for (const s of SECTORS) {
    const tr = document.createElement("tr");
    tr.dataset.sector = s;
    cell(tr, sectorName(s));
    for (const st of states) cell(tr, String(state.health.sectors[s]?.[st] ?? 0), "num").dataset.state = st;
    body.append(tr);
  }
}

function renderMap() {
  document.getElementById("map").replaceChildren(assetMap(state.assets));
}

function renderFeed() {
  const table = document.getElementById("feed");
  head(table, [[t("time")], [t("device")], [t("metric")], [t("value"), "num"], [t("area")]]);
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const r of state.feed) {
    const tr = document.createElement("tr");
    tr.dataset.device = r.device;
    cell(tr, new Date(r.time * 1000).toLocaleTimeString(language() === "vi" ? "vi-VN" : "en-GB"));
    cell(tr, r.device);
    cell(tr, r.metric);
    cell(tr, String(+r.value.toPrecision(6)), "num");
    cell(tr, `${sectorName(r.sector)} / ${r.area}`);
    body.append(tr);
  }
  document.getElementById("feed-note").textContent =
    (state.feedUp ? "" : `${t("feedDown")}. `) + (state.dropped ? `${state.dropped} ${t("dropped")}.` : "");
}

function renderConnection() {
  const node = document.getElementById("connection");
  const up = state.connected && state.feedUp;
  node.className = `status ${state.connected ? (up ? "connected" : "disconnected") : "disconnected"}`;
  node.textContent = !state.connected ? t("disconnected") : up ? t("connected") : t("feedDown");
  node.dataset.state = up ? "connected" : "disconnected";
}

async function renderChart() {
  const select = document.getElementById("series");
  const [device, metric] = (select.value || "").split("|");
  const target = document.getElementById("chart");
  if (!device) { target.textContent = t("noData"); return; }
  const end = new Date(), start = new Date(end.getTime() - 6 * 3600_000);
  const body = await api(`/v1/readings/aggregate?metric=${metric}&device=${device}&group_by=device&bucket=5m` +
    `&start=${start.toISOString()}&end=${end.toISOString()}`);
  const unit = state.series.find((s) => s.device === device && s.metric === metric)?.unit ?? "";
  const points = body.items.map((i) => ({ t: new Date(i.bucket), avg: i.avg, min: i.min, max: i.max }));
  target.replaceChildren(points.length ? lineChart(points, { unit }) : document.createTextNode(t("noData")));
}

function renderAll() {
  applyStatic();
  renderReadiness(); renderAreas(); renderHealth(); renderMap(); renderFeed(); renderConnection();
}

async function loadBoard() {
  const sectors = await api("/v1/sectors");
  SECTORS = sectors.map((s) => s.code);
  SECTOR_NAMES = Object.fromEntries(sectors.map((s) => [s.code, s]));
  state.readiness = await api("/v1/readiness");
  renderReadiness();
  const [health, districts] = await Promise.all([api("/v1/device-health"), pages("/v1/areas?level=district")]);
  state.health = health;
  renderHealth();
  state.areas = await Promise.all(districts.map(async (area) => ({
    area, readiness: await api(`/v1/readiness?area=${encodeURIComponent(area.code)}`) })));
  renderAreas();
  const [assets, gaps] = await Promise.all([pages("/v1/assets"), pages("/v1/readiness/gaps")]);
  const reasons = new Map(gaps.map((g) => [g.external_id, g.reason]));
  state.assets = assets.map((a) => {
    const st = !a.essential ? "other" : reasons.get(a.external_id) ?? "ready";
    return { ...a, state: st, stateLabel: st === "ready" ? t("ready") : st };
  });
  renderMap();
}

async function loadSeries() {
  state.series = await pages("/v1/latest", 2);
  const select = document.getElementById("series");
  const chosen = select.value;
  select.replaceChildren(...state.series.map((s) => {
    const option = document.createElement("option");
    option.value = `${s.device}|${s.metric}`;
    option.textContent = `${s.device} — ${s.metric} (${s.unit})`;
    return option;
  }));
  if (chosen) select.value = chosen;
  await renderChart();
}

function onFrame(frame) {
  state.lastFrame = Date.now();
  if (frame.type === "hello" || frame.type === "status" || frame.type === "heartbeat") {
    if (frame.feed) state.feedUp = frame.feed === "connected";
  }
  if (frame.type === "error") { state.connected = false; renderConnection(); return; }
  if (frame.type === "readings") {
    state.dropped = frame.dropped;
    const fresh = [];
    for (const c of frame.chunks) {
      for (let i = 0; i < c.device.length; i++) {
        fresh.push({ sector: c.sector, area: c.area, device: c.device[i], metric: c.metric[i], time: c.time[i], value: c.value[i] });
      }
    }
    state.feed = fresh.reverse().concat(state.feed).slice(0, FEED_ROWS);
    renderFeed();
  }
  renderConnection();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/v1/streams/readings?key=${encodeURIComponent(state.key)}`);
  state.socket = socket;
  socket.onopen = () => { state.connected = true; state.retryMs = 1000; state.lastFrame = Date.now(); renderConnection(); };
  socket.onmessage = (event) => onFrame(JSON.parse(event.data));
  socket.onclose = () => {
    if (state.socket !== socket) return;
    state.connected = false;
    renderConnection();
    setTimeout(connect, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 15_000);
  };
}

// The server sends a heartbeat at least every 15 s: silence for longer means the link is gone.
setInterval(() => {
  if (state.connected && Date.now() - state.lastFrame > 45_000) {
    state.connected = false;
    renderConnection();
    state.socket?.close();
  }
}, 5000);

async function start() {
  document.getElementById("login").hidden = true;
  document.getElementById("board").hidden = false;
  applyStatic();
  renderConnection();
  connect();
  try {
    await loadBoard();
    await loadSeries();
  } catch (error) {
    if (error instanceof Unauthorized) { showLogin(t("keyBad")); return; }
    console.error(error);
  }
  setInterval(() => loadBoard().catch(console.error), REFRESH_MS);
  setInterval(() => renderChart().catch(console.error), REFRESH_MS);
}

function showLogin(message = "") {
  state.socket?.close();
  state.socket = null;
  document.getElementById("board").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message;
}

document.getElementById("lang").addEventListener("click", () => {
  localStorage.setItem("hatang.lang", language() === "vi" ? "en" : "vi");
  renderAll();
});
document.getElementById("series").addEventListener("change", () => renderChart().catch(console.error));
document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  state.key = document.getElementById("key").value.trim();
  localStorage.setItem("hatang.key", state.key);
  start();
});

const fromUrl = new URLSearchParams(location.search).get("key");
if (fromUrl) {
  localStorage.setItem("hatang.key", fromUrl);
  history.replaceState(null, "", location.pathname);  // keep the key out of the address bar and history
}
state.key = fromUrl || localStorage.getItem("hatang.key");
applyStatic();
if (state.key) start(); else showLogin();
