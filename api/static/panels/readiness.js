// Readiness per sector against the plan's target: bars, then the status, target, deadline and the
// assets still needed per sector as text; demo assets labelled (or left out, by the board's switch).
import { readinessBars } from "../charts.js";
import { dateText, number, pct, sectorName, statusName } from "../format.js";
import { t } from "../i18n.js";
import { cell, head, note, section, table } from "./section.js";

export const id = "readiness";
let data = null, bars, notes, figures;

export function mount() {
  const node = section(id, "readiness");
  notes = note("readiness-note");
  bars = document.createElement("div");
  bars.id = "readiness";
  figures = table("readiness-table");
  node.append(notes, bars, figures.wrap);
  return node;
}

export async function load(board) {
  data = await board.api(`/v1/readiness?include_demo=${board.includeDemo}`);
  board.readiness = data;
}

export function render(board) {
  if (!data) return;
  const rows = data.sectors.map((s) => ({
    sector: s.sector, label: sectorName(s.sector), share: s.ready_share, target: s.target_share === null ? null : Number(s.target_share),
    status: s.status, demoShare: s.ready && s.demo_ready ? s.demo_ready / s.ready : 0,
    caption: s.essential === 0 ? t("noAssets")
      : `${number(s.ready)} ${t("ready")} ${t("of")} ${number(s.essential)} ${t("essential")} — ${statusName(s.status)}`,
  }));
  bars.replaceChildren(readinessBars(rows));
  head(figures.node, [[t("sector")], [t("statusCol")], [t("readyCol"), "num"], [t("target"), "num"], [t("deadline")],
    [t("stillNeeded"), "num"]]);
  const body = figures.node.tBodies[0];
  body.replaceChildren();
  const today = data.as_of;
  for (const s of data.sectors) {
    const tr = document.createElement("tr");
    tr.dataset.sector = s.sector;
    cell(tr, sectorName(s.sector));
    const status = cell(tr, statusName(s.status), `status-text ${s.status}`);
    status.dataset.status = s.status;
    const demo = s.demo_ready ? ` · ${number(s.demo_ready)} ${t("demo")}` : "";
    cell(tr, s.essential ? `${pct(s.ready_share)} (${number(s.ready)}/${number(s.essential)})${demo}` : "—", "num");
    cell(tr, s.target_share === null ? "—" : pct(Number(s.target_share)), "num");
    const passed = s.deadline && s.deadline < today ? ` (${t("passed")})` : "";
    cell(tr, s.deadline ? `${dateText(s.deadline)}${passed}` : "—");
    cell(tr, s.still_needed === null ? "—" : number(s.still_needed), "num").dataset.stillNeeded = s.still_needed ?? "";
    body.append(tr);
  }
  const readyDemo = data.sectors.reduce((n, s) => n + (s.demo_ready ?? 0), 0);
  const demoText = !data.include_demo ? ` ${t("demoOff")}`
    : readyDemo ? ` ${number(readyDemo)}/${number(data.total.ready)} ${t("demoShare")}.` : "";
  notes.textContent = `${t("asOf")} ${dateText(data.as_of)}. ${t("total")}: ${number(data.total.ready)}/` +
    `${number(data.total.essential)} (${pct(data.total.ready_share)}).${demoText}`;
  notes.dataset.demoReady = String(readyDemo);
  board.setDemoBadge(data.include_demo && readyDemo > 0);
}
