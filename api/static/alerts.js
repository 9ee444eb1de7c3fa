// The alerts panel: open alerts by severity, acknowledge, and alerts on the map. Self-contained (its
// own texts, as [Vietnamese, English] pairs like the page's; styles in alerts.css; its own polling); it
// reads the key and language the page keeps.
import { bilingual } from "./i18n.js";

const TEXTS = bilingual({
  title: ["Cảnh báo đang mở", "Open alerts"], none: ["Không có cảnh báo đang mở.", "No open alerts."],
  ack: ["Xác nhận", "Acknowledge"], acked: ["Đã xác nhận", "Acknowledged"],
  ackNote: ["Ghi chú (không bắt buộc)", "Note (optional)"],
  forbidden: ["Khoá này không được xác nhận cảnh báo.", "This key may not acknowledge alerts."],
  failed: ["Không xác nhận được", "Could not acknowledge"], severity: ["Mức độ", "Severity"],
  rule: ["Quy tắc", "Rule"], subject: ["Đối tượng", "Subject"], area: ["Địa bàn", "Area"], since: ["Từ lúc", "Since"],
  state: ["Trạng thái", "State"], open: ["Đang mở", "Open"], acknowledged: ["Đã xác nhận", "Acknowledged"],
  severities: {
    critical: ["Nghiêm trọng", "Critical"], major: ["Cao", "Major"], minor: ["Thấp", "Minor"],
    info: ["Thông tin", "Info"],
  },
  subjects: {
    device: ["Thiết bị", "Device"], asset: ["Tài sản", "Asset"], organisation: ["Tổ chức", "Organisation"],
  },
});
const SEVERITIES = ["critical", "major", "minor", "info"];
const POLL_MS = 5000;
const lang = () => (localStorage.getItem("hatang.lang") === "en" ? "en" : "vi");
const tx = (key) => TEXTS[lang()][key];
let alerts = [];
let message = "";

function key() {
  return localStorage.getItem("hatang.key");
}

async function call(path, init = {}) {
  const headers = { Authorization: `Bearer ${key()}`, ...(init.headers || {}) };
  return fetch(path, { ...init, headers });
}

function node(tag, attrs = {}, text = null) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text !== null) n.textContent = text;
  return n;
}

function section() {
  let panel = document.getElementById("alerts-panel");
  if (panel) return panel;
  const board = document.getElementById("board");
  if (!board) return null;
  panel = node("section", { id: "alerts-panel", "aria-labelledby": "alerts-title" });
  panel.append(node("h2", { id: "alerts-title" }), node("div", { class: "alert-counts" }),
    node("p", { class: "note alert-message", role: "status" }), node("table", { class: "alert-list" }));
  board.prepend(panel);
  return panel;
}

async function acknowledge(id) {
  const note = document.querySelector(`#alerts-panel input[data-alert="${id}"]`)?.value ?? "";
  const response = await call(`/v1/alerts/${id}/acknowledge`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ note }),
  });
  message = response.ok ? "" : response.status === 403 ? tx("forbidden") : `${tx("failed")} (${response.status})`;
  await refresh();
}

function render() {
  const panel = section();
  if (!panel) return;
  panel.querySelector("h2").textContent = tx("title");
  panel.querySelector(".alert-message").textContent = message;
  const counts = panel.querySelector(".alert-counts");
  counts.replaceChildren(...SEVERITIES.map((s) => {
    const n = alerts.filter((a) => a.severity === s).length;
    return node("span", { class: `alert-count ${s}`, "data-severity": s, "data-count": String(n) },
      `${TEXTS[lang()].severities[s]}: ${n}`);
  }));
  const table = panel.querySelector("table");
  table.replaceChildren();
  if (!alerts.length) {
    table.append(node("caption", {}, tx("none")));
  } else {
    const head = node("tr");
    for (const k of ["severity", "rule", "subject", "area", "since", "state"]) head.append(node("th", {}, tx(k)));
    head.append(node("th"));
    table.append(node("thead"), node("tbody"));
    table.tHead.append(head);
    const order = (a) => SEVERITIES.indexOf(a.severity);
    for (const a of [...alerts].sort((x, y) => order(x) - order(y) || y.id - x.id)) {
      const tr = node("tr", { "data-alert": String(a.id), "data-severity": a.severity, "data-state": a.state });
      tr.append(node("td", { class: `sev ${a.severity}` }, TEXTS[lang()].severities[a.severity]),
        node("td", {}, a.rule[lang()]),
        node("td", {}, `${TEXTS[lang()].subjects[a.subject.kind] ?? a.subject.kind} ${a.subject.id}`),
        node("td", {}, a.area ?? "—"),
        node("td", {}, new Date(a.since).toLocaleString(lang() === "vi" ? "vi-VN" : "en-GB")),
        node("td", {}, tx(a.state)));
      const action = node("td");
      if (a.state === "open") {
        const input = node("input", { "data-alert": String(a.id), placeholder: tx("ackNote"), size: "14" });
        const button = node("button", { type: "button", class: "ack", "data-alert": String(a.id) }, tx("ack"));
        button.addEventListener("click", () => acknowledge(a.id));
        action.append(input, button);
      } else {
        action.textContent = tx("acked");
      }
      tr.append(action);
      table.tBodies[0].append(tr);
    }
  }
  markMap();
}

// Alerts on the map: the asset of each open alert gets a ring of its severity's colour.
function markMap() {
  const svg = document.querySelector("#map svg");
  if (!svg) return;
  for (const ring of svg.querySelectorAll("circle.alert-ring")) ring.remove();
  const worst = new Map();
  for (const a of alerts) {
    if (!a.asset) continue;
    const was = worst.get(a.asset);
    if (!was || SEVERITIES.indexOf(a.severity) < SEVERITIES.indexOf(was)) worst.set(a.asset, a.severity);
  }
  for (const [asset, severity] of worst) {
    const dot = svg.querySelector(`circle.dot[data-asset="${CSS.escape(asset)}"]`);
    if (!dot) continue;
    const ring = document.createElementNS("http://www.w3.org/2000/svg", "circle");
    for (const k of ["cx", "cy"]) ring.setAttribute(k, dot.getAttribute(k));
    ring.setAttribute("r", "9");
    ring.setAttribute("class", `alert-ring ${severity}`);
    ring.setAttribute("data-alert-asset", asset);
    svg.append(ring);
  }
}

async function refresh() {
  if (!key() || document.getElementById("board")?.hidden) return;
  try {
    const response = await call("/v1/alerts?state=open&state=acknowledged&limit=500");
    if (response.ok) alerts = (await response.json()).items;
  } catch {
    // the page's own status shows a lost connection; keep what was shown
  }
  render();
}

document.getElementById("lang")?.addEventListener("click", () => setTimeout(render, 0));
new MutationObserver(() => markMap()).observe(document.getElementById("map") ?? document.body, { childList: true });
setInterval(refresh, POLL_MS);
refresh();
