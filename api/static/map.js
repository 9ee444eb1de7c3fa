// Assets on a plain equirectangular projection of latitude/longitude, inside the province's
// bounding frame (a schematic frame, not a surveyed boundary): no tile server, nothing fetched.
import { el } from "./charts.js";

// Bắc Ninh (2023 boundaries) lies within about 20.95–21.27 N, 105.90–106.32 E.
const FRAME = { south: 20.95, north: 21.27, west: 105.9, east: 106.32 };

// assets: [{external_id, name, lat, lon, state}] with state one of ready, silent, never_reported,
// no_device, device_not_active, wrong_sector, other.
export function assetMap(assets, { width = 560 } = {}) {
  const known = assets.filter((a) => a.lat !== null && a.lon !== null);
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
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", width: "100%" });
  svg.append(el("rect", { class: "frame", x: x(FRAME.west), y: y(FRAME.north),
    width: x(FRAME.east) - x(FRAME.west), height: y(FRAME.south) - y(FRAME.north) }));
  for (let lat = Math.ceil(box.south * 10) / 10; lat <= box.north; lat += 0.1) {
    svg.append(el("line", { class: "grid", x1: pad, x2: width - pad, y1: y(lat), y2: y(lat) }));
    svg.append(el("text", { x: pad + 2, y: y(lat) - 2 }, `${lat.toFixed(1)}°N`));
  }
  for (const a of known) {
    const dot = el("circle", { class: `dot ${a.state}`, cx: x(a.lon), cy: y(a.lat), r: 5, "data-asset": a.external_id });
    dot.append(el("title", {}, `${a.name || a.external_id} (${a.external_id}) — ${a.stateLabel}`));
    svg.append(dot);
  }
  return svg;
}
