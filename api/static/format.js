// Numbers, units, dates and metric names as people read them, in vi-VN or en-GB.
import { TEXT, language } from "./i18n.js";

export const locale = () => (language() === "vi" ? "vi-VN" : "en-GB");

// SenML symbols (RFC 8428/8798) as printed; ratios and counts print no unit.
const UNIT_TEXT = {
  Cel: "°C", "m3/h": "m³/h", m3: "m³", "ug/m3": "µg/m³", "W/m2": "W/m²", "/": "", count: "", "/h": "/h",
  pH: "", NTU: "NTU", "mg/L": "mg/L",
};
export const unitText = (unit) => (unit in UNIT_TEXT ? UNIT_TEXT[unit] : unit ?? "");

// The catalogue (GET /v1/metrics), loaded once: metric -> {label_vi, label_en, unit, sector}.
const catalogue = new Map();
export function setCatalogue(items) {
  catalogue.clear();
  for (const m of items) catalogue.set(m.metric, m);
}
export function metricName(metric) {
  const m = catalogue.get(metric);
  if (!m) return metric;
  return (language() === "vi" ? m.label_vi : m.label_en) || metric;
}
export const metricUnit = (metric, fallback = "") => catalogue.get(metric)?.unit ?? fallback;

export function number(value, { digits = 4, fraction } = {}) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const options = fraction !== undefined
    ? { minimumFractionDigits: fraction, maximumFractionDigits: fraction }
    : Math.abs(value) >= 10 ** digits ? { maximumFractionDigits: 0 } : { maximumSignificantDigits: digits };
  return new Intl.NumberFormat(locale(), options).format(value);
}

export function quantity(value, unit, options) {
  const u = unitText(unit);
  return u ? `${number(value, options)} ${u}` : number(value, options);
}

export const pct = (x) => (x === null || x === undefined ? "—"
  : new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1, minimumFractionDigits: 1 }).format(x));

export const dateText = (d) => (d ? new Date(`${d}T00:00:00`).toLocaleDateString(locale()) : "—");
export const timeText = (ms) => new Date(ms).toLocaleTimeString(locale());

// Sectors are data (GET /v1/sectors): their names in both languages come with them.
const sectors = new Map();
export function setSectors(rows) {
  sectors.clear();
  for (const row of rows) sectors.set(row.code, row);
}
export function sectorName(code) {
  const row = sectors.get(code);
  if (row) return (language() === "en" && row.name_en ? row.name_en : row.name) || code;
  return TEXT[language()].sectors?.[code] ?? code;
}
export const statusName = (s) => TEXT[language()].status[s] ?? s;
export const reasonName = (r) => TEXT[language()].reasons[r] ?? r;
export const levelName = (l) => TEXT[language()].levels[l] ?? l;
