// The live readings as they arrive over the stream: time, device, metric name, value with its unit.
import { metricName, metricUnit, number, quantity, sectorName, timeText } from "../format.js";
import { t } from "../i18n.js";
import { cell, head, note, section, table } from "./section.js";

export const id = "feed";
const ROWS = 50;
let feed = [], figures, notes;

export function mount() {
  const node = section(id, "feed");
  notes = note("feed-note");
  figures = table("feed");
  node.append(notes, figures.wrap);
  return node;
}

export async function load() {}

export function render(board) {
  head(figures.node, [[t("time")], [t("device")], [t("metric")], [t("value"), "num"], [t("area")]]);
  const body = figures.node.tBodies[0];
  body.replaceChildren();
  for (const r of feed) {
    const tr = document.createElement("tr");
    tr.dataset.device = r.device;
    tr.dataset.metric = r.metric;
    cell(tr, timeText(r.time * 1000));
    cell(tr, r.device);
    cell(tr, metricName(r.metric)).title = r.metric;
    cell(tr, quantity(r.value, metricUnit(r.metric), { digits: 6 }), "num").dataset.value = String(r.value);
    cell(tr, `${sectorName(r.sector)} / ${r.area}`);
    body.append(tr);
  }
  notes.textContent = (board.feedUp ? "" : `${t("feedDown")}. `) + (board.dropped ? `${number(board.dropped)} ${t("dropped")}.` : "");
}

export function onReadings(rows, board) {
  feed = [...rows].reverse().concat(feed).slice(0, ROWS);
  render(board);
}
