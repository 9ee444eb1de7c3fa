// Hand-drawn SVG: readiness bars against the target line, and a line chart with a min–max band.
import { locale, number, pct, unitText } from "./format.js";

const NS = "http://www.w3.org/2000/svg";

export function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// rows: [{sector, label, share (0..1|null), target (0..1|null), status, caption}]
export function readinessBars(rows, { width = 560, rowHeight = 34 } = {}) {
  const left = 100, right = 60, top = 8, plot = width - left - right;
  const svg = el("svg", { viewBox: `0 0 ${width} ${top + rows.length * rowHeight + 18}`, role: "img", width: "100%" });
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const x = left + f * plot;
    svg.append(el("line", { class: "grid", x1: x, x2: x, y1: top, y2: top + rows.length * rowHeight }));
    svg.append(el("text", { x, y: top + rows.length * rowHeight + 14, "text-anchor": "middle" }, pct(f).replace(/[.,]0(?=\s?%)/, "")));
  }
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    const group = el("g", { class: "sector-row", "data-sector": row.sector, "data-share": row.share ?? "" });
    group.append(el("text", { x: left - 8, y: y + rowHeight / 2 + 4, "text-anchor": "end" }, row.label));
    const w = Math.max(0, Math.min(1, row.share ?? 0)) * plot;
    const bar = el("rect", { class: `bar ${row.status}`, x: left, y: y + 6, width: w, height: rowHeight - 12, rx: 3 });
    bar.append(el("title", {}, row.caption));
    group.append(bar);
    if (row.demoShare) {  // the part of the bar that demo assets make, hatched
      group.append(el("rect", { class: "demo-part", x: left + w * (1 - row.demoShare), y: y + 6,
        width: w * row.demoShare, height: rowHeight - 12 }));
    }
    group.append(el("text", { x: left + w + 6, y: y + rowHeight / 2 + 4, class: "share" }, pct(row.share)));
    if (row.target !== null && row.target !== undefined) {
      const x = left + row.target * plot;
      group.append(el("line", { class: "target", x1: x, x2: x, y1: y + 2, y2: y + rowHeight - 2, "data-target": row.target }));
    }
    svg.append(group);
  });
  return svg;
}

// Round tick values (1, 2 or 5 times a power of ten) over [lo, hi]; never two equal labels.
export function ticks(lo, hi, count = 4) {
  if (!(hi > lo)) {
    const pad = Math.max(Math.abs(hi) * 0.02, 1e-3);
    lo -= pad; hi += pad;
  }
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const first = Math.floor(lo / step) * step, last = Math.ceil(hi / step) * step;
  const values = [];
  for (let v = first; v <= last + step / 2; v += step) values.push(+v.toPrecision(12));
  const fraction = Math.max(0, -Math.floor(Math.log10(step)));
  return { values, lo: first, hi: last, fraction };
}

// points: [{t: Date, avg, min, max}]; a single point is drawn as a dot (the line starts with the next).
export function lineChart(points, { width = 560, height = 220, unit = "" } = {}) {
  const left = 64, right = 12, top = 10, bottom = 26;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", width: "100%" });
  if (points.length === 0) return svg;
  const t0 = points[0].t.getTime(), t1 = Math.max(points[points.length - 1].t.getTime(), t0 + 60_000);
  const axis = ticks(Math.min(...points.map((p) => p.min)), Math.max(...points.map((p) => p.max)));
  const x = (t) => left + ((t.getTime() - t0) / (t1 - t0)) * (width - left - right);
  const y = (v) => top + (1 - (v - axis.lo) / (axis.hi - axis.lo)) * (height - top - bottom);
  for (const v of axis.values) {
    svg.append(el("line", { class: "grid", x1: left, x2: width - right, y1: y(v), y2: y(v) }));
    svg.append(el("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end", class: "tick" }, number(v, { fraction: axis.fraction })));
  }
  svg.append(el("text", { x: 2, y: top + 2, class: "unit" }, unitText(unit)));
  if (points.length > 1) {
    const band = points.map((p) => `${x(p.t)},${y(p.max)}`).concat([...points].reverse().map((p) => `${x(p.t)},${y(p.min)}`));
    svg.append(el("polygon", { class: "band", points: band.join(" ") }));
    svg.append(el("polyline", { class: "line", points: points.map((p) => `${x(p.t)},${y(p.avg)}`).join(" ") }));
  }
  const last = points[points.length - 1];
  svg.append(el("circle", { class: "last", cx: x(last.t), cy: y(last.avg), r: 3.5 }));
  const fmt = (d) => d.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
  svg.append(el("text", { x: left, y: height - 6 }, fmt(points[0].t)));
  svg.append(el("text", { x: width - right, y: height - 6, "text-anchor": "end" }, fmt(new Date(t1))));
  return svg;
}
