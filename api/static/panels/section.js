// What every panel shares: its <section> with a translated title, table helpers.
import { t } from "../i18n.js";

export function section(id, titleKey) {
  const node = document.createElement("section");
  node.id = `${id}-section`;
  node.setAttribute("aria-labelledby", `${id}-title`);
  const h2 = document.createElement("h2");
  h2.id = `${id}-title`;
  h2.dataset.i18n = titleKey;
  h2.textContent = t(titleKey);
  node.append(h2);
  return node;
}

export function note(id) {
  const p = document.createElement("p");
  p.className = "note";
  if (id) p.id = id;
  return p;
}

// A table inside a wrapper that scrolls sideways on its own, so the page never does.
export function table(id) {
  const wrap = document.createElement("div");
  wrap.className = "scroll";
  const node = document.createElement("table");
  node.id = id;
  node.append(document.createElement("thead"), document.createElement("tbody"));
  wrap.append(node);
  return { wrap, node };
}

export function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.append(td);
  return td;
}

export function head(tableNode, labels) {
  const tr = document.createElement("tr");
  for (const [text, cls] of labels) {
    const th = document.createElement("th");
    th.textContent = text;
    if (cls) th.className = cls;
    tr.append(th);
  }
  tableNode.tHead.replaceChildren(tr);
}
