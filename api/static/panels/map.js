// Assets on a plain equirectangular projection of latitude/longitude inside the province's bounding
// frame (schematic, not a surveyed boundary): no tile server, nothing fetched from outside. Every
// asset is loaded (page after page, with progress); beyond CLUSTER_ABOVE points they are drawn as
// clusters on a grid, and the note says so, as it says when assets could not be placed or loaded.
import { el } from "../charts.js";
import { number, reasonName } from "../format.js";
import { t } from "../i18n.js";
import { note, section } from "./section.js";

export const id = "map";
const FRAME = { south: 20.95, north: 21.27, west: 105.9, east: 106.32 };  // Bắc Ninh, 2023 boundaries
const CLUSTER_ABOVE = 3000;
const GRID = 36;
// Legend order; every class a dot can have is listed.
const STATES = ["ready", "silent", "never_reported", "no_device", "device_not_active", "wrong_sector", "other"];
let assets = [], complete = true, plot, legend, notes;

export function mount() {
  const node = section(id, "map");
  plot = document.createElement("div");
  plot.id = "map";
  legend = document.createElement("ul");
  legend.id = "map-legend";
  legend.className = "legend";
  notes = note("map-note");
  const fixed = note();
  fixed.dataset.i18n = "mapNote";
  fixed.textContent = t("mapNote");
  node.append(plot, legend, notes, fixed);
  return node;
}

export async function load(board) {
  notes.textContent = t("loading");
  const demo = board.includeDemo ? "" : "?demo=false";
  complete = true;
  const [found, gaps] = await Promise.all([
    board.pages(`/v1/assets${demo}`, (n) => { notes.textContent = `${t("loading")} ${number(n)} ${t("loadedAssets")}`; })
      .catch((error) => { complete = false; return error.partial ?? []; }),
    board.pages(`/v1/readiness/gaps?include_demo=${board.includeDemo}`),
  ]);
  const reasons = new Map(gaps.map((g) => [g.external_id, g.reason]));
  assets = found.map((a) => ({ ...a, state: !a.essential ? "other" : reasons.get(a.external_id) ?? "ready" }));
}

function frame(known, width) {
  const box = { ...FRAME };
  for (const a of known) {
    box.south = Math.min(box.south, a.lat); box.north = Math.max(box.north, a.lat);
    box.west = Math.min(box.west, a.lon); box.east = Math.max(box.east, a.lon);
  }
  const kx = Math.cos(((box.north + box.south) / 2) * Math.PI / 180);
  const pad = 16, w = width - 2 * pad;
  const height = Math.round(w * (box.north - box.south) / ((box.east - box.west) * kx)) + 2 * pad;
  const x = (lon) => pad + ((lon - box.west) / (box.east - box.west)) * w;
  const y = (lat) => pad + ((box.north - lat) / (box.north - box.south)) * (height - 2 * pad);
  return { box, height, pad, x, y };
}

function tooltip(a) {
  const demo = a.demo ? ` · ${t("demo")}` : "";
  return `${a.name || a.external_id} (${a.external_id}) — ${reasonName(a.state)}${demo}`;
}

export function render(board, width = 560) {
  const known = assets.filter((a) => a.lat !== null && a.lon !== null);
  const f = frame(known, width);
  const svg = el("svg", { viewBox: `0 0 ${width} ${f.height}`, role: "img", width: "100%" });
  svg.append(el("rect", { class: "frame", x: f.x(FRAME.west), y: f.y(FRAME.north),
    width: f.x(FRAME.east) - f.x(FRAME.west), height: f.y(FRAME.south) - f.y(FRAME.north) }));
  for (let lat = Math.ceil(f.box.south * 10) / 10; lat <= f.box.north; lat += 0.1) {
    svg.append(el("line", { class: "grid", x1: f.pad, x2: width - f.pad, y1: f.y(lat), y2: f.y(lat) }));
    svg.append(el("text", { x: f.pad + 2, y: f.y(lat) - 2 }, `${lat.toFixed(1)}°N`));
  }
  const clustered = known.length > CLUSTER_ABOVE;
  if (!clustered) {
    for (const a of known) {
      const dot = el("circle", { class: `dot ${a.state}${a.demo ? " demo" : ""}`, cx: f.x(a.lon), cy: f.y(a.lat), r: 5,
        "data-asset": a.external_id });
      dot.append(el("title", {}, tooltip(a)));
      svg.append(dot);
    }
  } else {
    const cells = new Map();
    for (const a of known) {
      const key = `${Math.floor((f.x(a.lon) / width) * GRID)},${Math.floor((f.y(a.lat) / f.height) * GRID)}`;
      const c = cells.get(key) ?? { n: 0, x: 0, y: 0, states: new Map() };
      c.n += 1; c.x += f.x(a.lon); c.y += f.y(a.lat);
      c.states.set(a.state, (c.states.get(a.state) ?? 0) + 1);
      cells.set(key, c);
    }
    for (const c of cells.values()) {
      const major = [...c.states].sort((a, b) => b[1] - a[1])[0][0];
      const dot = el("circle", { class: `dot cluster ${major}`, cx: c.x / c.n, cy: c.y / c.n, r: Math.min(14, 3 + Math.sqrt(c.n)),
        "data-count": c.n });
      const parts = [...c.states].map(([s, n]) => `${number(n)} ${reasonName(s)}`).join(", ");
      dot.append(el("title", {}, `${number(c.n)} ${t("clusterOf")}: ${parts}`));
      svg.append(dot);
    }
  }
  plot.replaceChildren(svg);
  legend.replaceChildren(...STATES.map((s) => {
    const li = document.createElement("li");
    li.dataset.state = s;
    const swatch = document.createElement("span");
    swatch.className = `swatch ${s}`;
    li.append(swatch, ` ${reasonName(s)} (${number(assets.filter((a) => a.state === s).length)})`);
    return li;
  }));
  const parts = [`${number(known.length)} ${t("loadedAssets")}`];
  if (known.length < assets.length) parts.push(`${number(assets.length - known.length)} ${t("noPosition")}`);
  if (clustered) parts.push(t("clustered"));
  if (!complete) parts.unshift(`${t("partial")} ${number(assets.length)}`);
  notes.textContent = parts.join(" · ") + ".";
  notes.dataset.clustered = String(clustered);
  notes.dataset.shown = String(known.length);
}
