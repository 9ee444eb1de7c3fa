// Hand-drawn SVG: readiness bars against the target line, and a line chart with a min–max band.
const NS = "http://www.w3.org/2000/svg";

export function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
export { pct };

// rows: [{sector, label, share (0..1|null), target (0..1|null), status, caption}]
export function readinessBars(rows, { width = 560, rowHeight = 34 } = {}) {
  const left = 110, right = 70, top = 8, plot = width - left - right;
  const svg = el("svg", { viewBox: `0 0 ${width} ${top + rows.length * rowHeight + 18}`, role: "img", width: "100%" });
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const x = left + f * plot;
    svg.append(el("line", { class: "grid", x1: x, x2: x, y1: top, y2: top + rows.length * rowHeight }));
    svg.append(el("text", { x, y: top + rows.length * rowHeight + 14, "text-anchor": "middle" }, `${f * 100}%`));
  }
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    const group = el("g", { class: "sector-row", "data-sector": row.sector, "data-share": row.share ?? "" });
    group.append(el("text", { x: left - 8, y: y + rowHeight / 2 + 4, "text-anchor": "end" }, row.label));
    const w = Math.max(0, Math.min(1, row.share ?? 0)) * plot;
    const bar = el("rect", { class: `bar ${row.status}`, x: left, y: y + 6, width: w, height: rowHeight - 12, rx: 3 });
    bar.append(el("title", {}, row.caption));
    group.append(bar);
    group.append(el("text", { x: left + w + 6, y: y + rowHeight / 2 + 4, class: "share" }, pct(row.share)));
    if (row.target !== null && row.target !== undefined) {
      const x = left + row.target * plot;
      group.append(el("line", { class: "target", x1: x, x2: x, y1: y + 2, y2: y + rowHeight - 2, "data-target": row.target }));
    }
    svg.append(group);
  });
  return svg;
}

// points: [{t: Date, avg, min, max}]
export function lineChart(points, { width = 560, height = 220, unit = "" } = {}) {
  const left = 52, right = 12, top = 10, bottom = 26;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", width: "100%" });
  if (points.length === 0) return svg;
  const t0 = points[0].t.getTime(), t1 = Math.max(points[points.length - 1].t.getTime(), t0 + 1);
  let lo = Math.min(...points.map((p) => p.min)), hi = Math.max(...points.map((p) => p.max));
  if (hi === lo) { hi += 1; lo -= 1; }
  const x = (t) => left + ((t.getTime() - t0) / (t1 - t0)) * (width - left - right);
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom);
  for (const f of [0, 0.5, 1]) {
    const v = lo + f * (hi - lo);
    svg.append(el("line", { class: "grid", x1: left, x2: width - right, y1: y(v), y2: y(v) }));
    svg.append(el("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end" }, `${+v.toPrecision(4)}`));
  }
  const band = points.map((p) => `${x(p.t)},${y(p.max)}`).concat([...points].reverse().map((p) => `${x(p.t)},${y(p.min)}`));
  svg.append(el("polygon", { class: "band", points: band.join(" ") }));
  svg.append(el("polyline", { class: "line", points: points.map((p) => `${x(p.t)},${y(p.avg)}`).join(" ") }));
  const fmt = (d) => d.toLocaleTimeString(document.documentElement.lang === "en" ? "en-GB" : "vi-VN", { hour: "2-digit", minute: "2-digit" });
  svg.append(el("text", { x: left, y: height - 6 }, fmt(points[0].t)));
  svg.append(el("text", { x: width - right, y: height - 6, "text-anchor": "end" }, `${fmt(points[points.length - 1].t)} ${unit}`));
  return svg;
}
