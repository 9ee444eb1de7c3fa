// Self-contained panel: low-latency IoT readiness of the zones (plan 333/KH-UBND, II.2, first clause).
// Reads GET /v1/readiness/zones with the key the board stored; its own texts in both languages.
const TEXTS = {
  vi: {
    title: "IoT độ trễ thấp tại các khu", zone: "Khu", kind: "Loại", devices: "Thiết bị (gửi gần đây)",
    latency: "Độ trễ", ready: "Sẵn sàng", yes: "có", counted: "tính vào chỉ tiêu", approx: "vị trí gần đúng",
    summary: (t) => `${t.ready}/${t.zones} khu tính vào chỉ tiêu đã sẵn sàng — mục tiêu ${pct(t.target_share)} đến ${t.deadline ?? "—"}: ${STATUS.vi[t.status] ?? t.status}`,
    rule: (r) => `Sẵn sàng: có thiết bị gửi số liệu trong ${r.freshness_window_h} giờ và p${Number(r.quantile) * 100} độ trễ ≤ ${r.latency_bound_s} s.`,
    reasons: { no_device: "chưa có thiết bị", silent: "im lặng", unmeasured: "chưa đo độ trễ", slow: "chậm" },
    kinds: { high_tech_zone: "Khu công nghệ cao", it_park: "Khu CNTT tập trung", research_centre: "Trung tâm nghiên cứu", industrial_park: "Khu công nghiệp" },
  },
  en: {
    title: "Low-latency IoT in the zones", zone: "Zone", kind: "Kind", devices: "Devices (recent)",
    latency: "Latency", ready: "Ready", yes: "yes", counted: "counted by the target", approx: "approximate position",
    summary: (t) => `${t.ready}/${t.zones} counted zones ready — target ${pct(t.target_share)} by ${t.deadline ?? "—"}: ${STATUS.en[t.status] ?? t.status}`,
    rule: (r) => `Ready: a device reported within ${r.freshness_window_h} h and p${Number(r.quantile) * 100} latency ≤ ${r.latency_bound_s} s.`,
    reasons: { no_device: "no device", silent: "silent", unmeasured: "not measured", slow: "slow" },
    kinds: { high_tech_zone: "High-tech zone", it_park: "Concentrated IT park", research_centre: "Research centre", industrial_park: "Industrial park" },
  },
};
const STATUS = {
  vi: { met: "đạt", on_track: "đúng tiến độ", behind: "chậm", missed: "không đạt", no_assets: "chưa có khu", no_target: "không có mục tiêu" },
  en: { met: "met", on_track: "on track", behind: "behind", missed: "missed", no_assets: "no zones", no_target: "no target" },
};
const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(Number(v) * 100)}%`);
const lang = () => (localStorage.getItem("hatang.lang") === "en" ? "en" : "vi");
let last = null;

function td(row, text, cls) {
  const cell = document.createElement("td");
  cell.textContent = text;
  if (cls) cell.className = cls;
  row.append(cell);
}

function render() {
  const section = document.getElementById("zones-section");
  if (!section || !last) return;
  const T = TEXTS[lang()];
  section.querySelector("h2").textContent = T.title;
  section.querySelector("#zones-summary").textContent = T.summary(last.total);
  section.querySelector("#zones-rule").textContent = T.rule(last);
  const table = section.querySelector("#zones");
  const head = document.createElement("tr");
  for (const [text, cls] of [[T.zone], [T.kind], [T.devices, "num"], [T.latency, "num"], [T.ready]]) {
    const th = document.createElement("th");
    th.textContent = text;
    if (cls) th.className = cls;
    head.append(th);
  }
  table.tHead.replaceChildren(head);
  const rows = last.zones.map((z) => {
    const tr = document.createElement("tr");
    tr.dataset.zone = z.code;
    tr.dataset.ready = String(z.ready);
    const name = lang() === "en" && z.name_en ? z.name_en : z.name;
    td(tr, z.approximate ? `${name} *` : name);
    td(tr, `${T.kinds[z.kind] ?? z.kind}${z.in_target ? ` (${T.counted})` : ""}`);
    td(tr, `${z.active_devices} (${z.fresh_devices})`, "num");
    td(tr, z.latency_s === null ? "—" : `≤ ${z.latency_s} s`, "num");
    td(tr, z.ready ? T.yes : T.reasons[z.reason] ?? z.reason, z.ready ? "ok" : "bad");
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
  section.querySelector("#zones-approx").textContent = `* ${T.approx}`;
}

async function load() {
  const key = localStorage.getItem("hatang.key");
  if (!key || document.getElementById("board")?.hidden) return;
  const response = await fetch("/v1/readiness/zones", { headers: { Authorization: `Bearer ${key}` } });
  if (!response.ok) return;
  last = await response.json();
  render();
}

document.getElementById("lang")?.addEventListener("click", () => setTimeout(render, 0));
// The board opens (its `hidden` attribute goes) once a key is known: load then, and on every re-open.
const board = document.getElementById("board");
if (board) new MutationObserver(() => load().catch(console.error)).observe(board, { attributes: true, attributeFilter: ["hidden"] });
load().catch(console.error);
setInterval(() => load().catch(console.error), 60_000);
