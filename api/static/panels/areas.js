// Readiness by area. Which areas: read from the data, never a hard-coded level — by default the
// current children of the top area (districts in 2023; communes once districts are retired, as in
// the 2025 reorganisation), or any level present in the data, chosen in the panel.
import { levelName, number, pct, sectorName } from "../format.js";
import { t } from "../i18n.js";
import { cell, head, note, section, table } from "./section.js";

export const id = "areas";
let areas = [], rows = [], level = null, picker, figures, notes;

export function mount(board) {
  const node = section(id, "areas");
  const label = document.createElement("label");
  label.className = "inline";
  const span = document.createElement("span");
  span.dataset.i18n = "level";
  span.textContent = t("level");
  picker = document.createElement("select");
  picker.id = "area-level";
  picker.addEventListener("change", () => {
    level = picker.value;
    loadRows(board).then(() => render(board)).catch(board.fail);
  });
  label.append(span, " ", picker);
  notes = note();
  figures = table("areas");
  node.append(label, notes, figures.wrap);
  return node;
}

function defaultLevel() {
  const roots = new Set(areas.filter((a) => a.parent === null).map((a) => a.code));
  const children = areas.filter((a) => roots.has(a.parent));
  const counts = new Map();
  for (const a of children) counts.set(a.level, (counts.get(a.level) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? areas[0]?.level ?? null;
}

async function loadRows(board) {
  const chosen = areas.filter((a) => a.level === level);
  const demo = `include_demo=${board.includeDemo}`;
  rows = [];
  for (let i = 0; i < chosen.length; i += 8) {  // a few at a time: a level may hold a hundred communes
    const batch = chosen.slice(i, i + 8);
    rows.push(...await Promise.all(batch.map(async (area) => ({
      area, readiness: await board.api(`/v1/readiness?area=${encodeURIComponent(area.code)}&${demo}`) }))));
  }
}

export async function load(board) {
  areas = await board.pages("/v1/areas");
  const levels = [...new Set(areas.map((a) => a.level))];
  if (!levels.includes(level)) level = defaultLevel();
  picker.replaceChildren(...levels.map((l) => new Option(levelName(l), l, false, l === level)));
  await loadRows(board);
}

export function render(board) {
  for (const option of picker.options) option.textContent = levelName(option.value);
  head(figures.node, [[t("area")], ...board.sectors.map((s) => [sectorName(s), "num"]), [t("total"), "num"]]);
  const body = figures.node.tBodies[0];
  body.replaceChildren();
  for (const { area, readiness } of rows) {
    const tr = document.createElement("tr");
    tr.dataset.area = area.code;
    tr.dataset.level = area.level;
    cell(tr, board.lang() === "en" && area.name_en ? area.name_en : area.name);
    for (const s of board.sectors) {
      const found = readiness.sectors.find((x) => x.sector === s);
      cell(tr, found && found.essential ? `${pct(found.ready_share)} (${number(found.ready)}/${number(found.essential)})` : "—", "num");
    }
    cell(tr, pct(readiness.total.ready_share), "num");
    body.append(tr);
  }
  notes.textContent = `${levelName(level)}: ${number(rows.length)}`;
}
