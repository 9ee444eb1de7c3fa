// One device's metric: the last six hours from the aggregate API (mean per minute, so the chart has
// data from the start), then every live reading of it appended as it arrives. The picker is
// searchable and grouped by sector.
import { lineChart } from "../charts.js";
import { metricName, quantity, sectorName } from "../format.js";
import { t } from "../i18n.js";
import { note, section } from "./section.js";

export const id = "chart";
const HISTORY_MS = 6 * 3600_000;
let series = [], points = [], search, picker, plot, notes, chosen = "";

export function mount(board) {
  const node = section(id, "chart");
  const controls = document.createElement("div");
  controls.className = "picker";
  search = document.createElement("input");
  search.type = "search";
  search.id = "series-search";
  search.dataset.i18nPlaceholder = "searchSeries";
  search.placeholder = t("searchSeries");
  search.setAttribute("aria-label", t("searchSeries"));
  search.addEventListener("input", () => fillPicker());
  const label = document.createElement("label");
  const span = document.createElement("span");
  span.dataset.i18n = "chooseSeries";
  span.textContent = t("chooseSeries");
  picker = document.createElement("select");
  picker.id = "series";
  picker.addEventListener("change", () => { chosen = picker.value; loadHistory(board).then(() => draw()).catch(board.fail); });
  label.append(span, " ", picker);
  controls.append(search, label);
  plot = document.createElement("div");
  plot.id = "chart";
  notes = note("chart-note");
  node.append(controls, plot, notes);
  return node;
}

function fillPicker() {
  const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const groups = new Map();
  for (const s of series) {
    const text = `${s.device} ${s.metric} ${metricName(s.metric)} ${sectorName(s.sector)}`.toLowerCase();
    if (!words.every((w) => text.includes(w))) continue;
    if (!groups.has(s.sector)) groups.set(s.sector, []);
    groups.get(s.sector).push(s);
  }
  const nodes = [];
  for (const [sector, items] of groups) {
    const group = document.createElement("optgroup");
    group.label = sectorName(sector);
    group.dataset.sector = sector;
    for (const s of items) group.append(new Option(`${s.device} — ${metricName(s.metric)}`, `${s.device}|${s.metric}`));
    nodes.push(group);
  }
  picker.replaceChildren(...nodes);
  if (chosen && [...picker.options].some((o) => o.value === chosen)) picker.value = chosen;
  else if (picker.options.length && !chosen) chosen = picker.options[0].value;
}

async function loadHistory(board) {
  const [device, metric] = chosen.split("|");
  if (!device) { points = []; return; }
  const end = new Date(), start = new Date(end.getTime() - HISTORY_MS);
  const body = await board.api(`/v1/readings/aggregate?metric=${encodeURIComponent(metric)}&device=${encodeURIComponent(device)}` +
    `&group_by=device&bucket=1m&start=${start.toISOString()}&end=${end.toISOString()}`);
  points = body.items.map((i) => ({ t: new Date(i.bucket), avg: i.avg, min: i.min, max: i.max, last: i.last }));
}

export async function load(board) {
  series = await board.pages("/v1/latest");
  series.sort((a, b) => a.sector.localeCompare(b.sector) || a.device.localeCompare(b.device) || a.metric.localeCompare(b.metric));
  fillPicker();
  await loadHistory(board);
}

function current() {
  const [device, metric] = chosen.split("|");
  return series.find((s) => s.device === device && s.metric === metric);
}

function draw() {
  const s = current();
  if (!s || points.length === 0) { plot.replaceChildren(document.createTextNode(t("noData"))); notes.textContent = ""; return; }
  plot.replaceChildren(lineChart(points, { unit: s.unit }));
  const last = points[points.length - 1];
  notes.textContent = `${metricName(s.metric)}: ${quantity(last.last ?? last.avg, s.unit, { digits: 6 })} — ${t("history6h")}.`;
  notes.dataset.unit = s.unit;
}

export function render() {
  search.placeholder = t("searchSeries");
  fillPicker();
  draw();
}

// Live readings of the chosen series extend the chart at once.
export function onReadings(rows) {
  const [device, metric] = chosen.split("|");
  let changed = false;
  for (const r of rows) {
    if (r.device !== device || r.metric !== metric) continue;
    points.push({ t: new Date(r.time * 1000), avg: r.value, min: r.value, max: r.value, last: r.value });
    changed = true;
  }
  if (changed) {
    points.sort((a, b) => a.t - b.t);
    draw();
  }
}
