// The city dashboard's shell: the key, the API client, the live stream and the panels.
//
// A panel is a module of panels/ exporting `id`, `mount(board)` (returns its <section>),
// `load(board)` (fetches), `render(board)` (draws; called again on a language or data change) and,
// optionally, `onReadings(rows, board)` for live readings. Adding a panel means adding a module and
// naming it in PANELS; nothing else here changes.
import { applyStatic, language, t } from "./i18n.js";
import { setCatalogue, setSectors } from "./format.js";
import * as readiness from "./panels/readiness.js";
import * as map from "./panels/map.js";
import * as areas from "./panels/areas.js";
import * as health from "./panels/health.js";
import * as chart from "./panels/chart.js";
import * as feed from "./panels/feed.js";

const PANELS = [readiness, map, areas, health, chart, feed];
const REFRESH_MS = 60_000;

class Unauthorized extends Error {}

const board = {
  key: null, includeDemo: localStorage.getItem("hatang.demo") !== "off",
  sectors: [],  // codes, from GET /v1/sectors (sectors are data: the plan's five and any later)
  socket: null, connected: false, feedUp: true, lastFrame: 0, retryMs: 1000, dropped: 0,
  lang: language,
  async api(path) {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${board.key}` } });
    if (response.status === 401) throw new Unauthorized(path);
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  },
  // Every page of a list (no cap: the map shows every asset); onProgress(count) after each page. On a
  // failure part-way the error carries what was loaded (`partial`), so a panel can say it shows less.
  async pages(path, onProgress) {
    const items = [];
    let cursor = null;
    try {
      do {
        const sep = path.includes("?") ? "&" : "?";
        const body = await board.api(`${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        items.push(...body.items);
        cursor = body.next_cursor;
        onProgress?.(items.length);
      } while (cursor);
    } catch (error) {
      error.partial = items;
      throw error;
    }
    return items;
  },
  fail(error) {
    if (error instanceof Unauthorized) { showLogin(t("keyBad")); return; }
    console.warn(error);
  },
  setDemoBadge(on) {
    document.getElementById("demo-badge").hidden = !on;
  },
};

function renderAll() {
  applyStatic();
  for (const panel of PANELS) panel.render(board);
  renderConnection();
}

async function loadAll() {
  await Promise.all(PANELS.map(async (panel) => {
    try {
      await panel.load(board);
      panel.render(board);
    } catch (error) {
      board.fail(error);
    }
  }));
}

function renderConnection() {
  const node = document.getElementById("connection");
  const up = board.connected && board.feedUp;
  node.className = `status ${up ? "connected" : "disconnected"}`;
  node.textContent = !board.connected ? t("disconnected") : up ? t("connected") : t("feedDown");
  node.dataset.state = up ? "connected" : "disconnected";
}

function onFrame(frame) {
  board.lastFrame = Date.now();
  if ((frame.type === "hello" || frame.type === "status" || frame.type === "heartbeat") && frame.feed) {
    board.feedUp = frame.feed === "connected";
  }
  if (frame.type === "error") { board.connected = false; renderConnection(); return; }
  if (frame.type === "readings") {
    board.dropped = frame.dropped;
    const rows = [];
    for (const c of frame.chunks) {
      for (let i = 0; i < c.device.length; i++) {
        rows.push({ sector: c.sector, area: c.area, device: c.device[i], metric: c.metric[i], time: c.time[i], value: c.value[i] });
      }
    }
    for (const panel of PANELS) panel.onReadings?.(rows, board);
  }
  renderConnection();
}

function reconnectLater() {
  setTimeout(connect, board.retryMs);
  board.retryMs = Math.min(board.retryMs * 2, 15_000);
}

// The key never goes into a URL (logs, proxies and history keep URLs): a single-use ticket fetched
// with it opens the stream (docs/security.md).
async function connect() {
  let ticket;
  try {
    const response = await fetch("/v1/streams/tickets", { method: "POST", headers: { Authorization: `Bearer ${board.key}` } });
    if (!response.ok) throw new Error(`ticket: ${response.status}`);
    ticket = (await response.json()).ticket;
  } catch {
    board.connected = false;
    renderConnection();
    reconnectLater();
    return;
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/v1/streams/readings?ticket=${encodeURIComponent(ticket)}`);
  board.socket = socket;
  socket.onopen = () => { board.connected = true; board.retryMs = 1000; board.lastFrame = Date.now(); renderConnection(); };
  socket.onmessage = (event) => onFrame(JSON.parse(event.data));
  socket.onclose = () => {
    if (board.socket !== socket) return;
    board.connected = false;
    renderConnection();
    reconnectLater();
  };
}

// The server sends a heartbeat at least every 15 s: silence for longer means the link is gone.
setInterval(() => {
  if (board.connected && Date.now() - board.lastFrame > 45_000) {
    board.connected = false;
    renderConnection();
    board.socket?.close();
  }
}, 5000);

let mounted = false, refresher = null;

async function start() {
  document.getElementById("login").hidden = true;
  document.getElementById("board").hidden = false;
  document.getElementById("toolbar").hidden = false;
  if (!mounted) {  // before any section index.html already holds (the zones panel's)
    const main = document.getElementById("board");
    const anchor = main.firstElementChild;
    for (const panel of PANELS) main.insertBefore(panel.mount(board), anchor);
    mounted = true;
  }
  applyStatic();
  renderConnection();
  connect();
  try {
    const [metrics, sectors] = await Promise.all([board.api("/v1/metrics"), board.api("/v1/sectors")]);
    setCatalogue(metrics);
    setSectors(sectors);
    board.sectors = sectors.map((s) => s.code);
  } catch (error) {
    board.fail(error);
    if (error instanceof Unauthorized) return;
  }
  await loadAll();
  refresher ??= setInterval(() => loadAll(), REFRESH_MS);
}

function showLogin(message = "") {
  board.socket?.close();
  board.socket = null;
  document.getElementById("board").hidden = true;
  document.getElementById("toolbar").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message;
}

document.getElementById("lang").addEventListener("click", () => {
  localStorage.setItem("hatang.lang", language() === "vi" ? "en" : "vi");
  renderAll();
});
const demoSwitch = document.getElementById("include-demo");
demoSwitch.checked = board.includeDemo;
demoSwitch.addEventListener("change", () => {
  board.includeDemo = demoSwitch.checked;
  localStorage.setItem("hatang.demo", board.includeDemo ? "on" : "off");
  loadAll();
});
document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  board.key = document.getElementById("key").value.trim();
  localStorage.setItem("hatang.key", board.key);
  start();
});

const fromUrl = new URLSearchParams(location.search).get("key");
if (fromUrl) {
  localStorage.setItem("hatang.key", fromUrl);
  history.replaceState(null, "", location.pathname);  // keep the key out of the address bar and history
}
board.key = fromUrl || localStorage.getItem("hatang.key");
applyStatic();
if (board.key) start(); else showLogin();
