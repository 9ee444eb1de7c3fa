// Devices per sector: online, silent, suspended, not activated.
import { number, sectorName } from "../format.js";
import { t } from "../i18n.js";
import { cell, head, section, table } from "./section.js";

export const id = "health";
const STATES = ["online", "silent", "suspended", "provisioned"];
let data = null, figures;

export function mount() {
  const node = section(id, "health");
  figures = table("health");
  node.append(figures.wrap);
  return node;
}

export async function load(board) {
  data = await board.api("/v1/device-health");
}

export function render(board) {
  head(figures.node, [[t("sector")], ...STATES.map((s) => [t(s), "num"])]);
  const body = figures.node.tBodies[0];
  body.replaceChildren();
  if (!data) return;
  for (const s of board.sectors) {
    const tr = document.createElement("tr");
    tr.dataset.sector = s;
    cell(tr, sectorName(s));
    for (const st of STATES) cell(tr, number(data.sectors[s]?.[st] ?? 0), "num").dataset.state = st;
    body.append(tr);
  }
}
