// A small DOM builder. Text always goes in as text nodes, never as HTML, so names, error
// samples and check names from the run can hold any characters.
"use strict";

// h("td", { class: "num", k: "stage-requests" }, "1,234") -> <td class="num" data-k="...">
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "k") el.dataset.k = value;
    else if (key === "style") el.style.cssText = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", null, title) : null, ...children);
}

// columns: [{ title, num }]; rows: [{ cells: [content | { v, k, cls }], cls }].
function table(columns, rows, attrs) {
  const head = h("tr", null, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.title)));
  const body = rows.map((row) =>
    h("tr", { class: row.cls, ...(row.attrs || {}) },
      row.cells.map((cell, i) => {
        const plain = cell == null || typeof cell !== "object" || cell instanceof Node;
        const content = plain ? cell : cell.v;
        const cls = [columns[i] && columns[i].num ? "num" : "", plain ? "" : cell.cls || ""]
          .filter(Boolean).join(" ");
        return h("td", { class: cls || null, k: plain ? null : cell.k }, content);
      })));
  return h("div", { class: "table-wrap" }, h("table", attrs || null, h("thead", null, head), h("tbody", null, body)));
}

// A ✓ or ✗ mark.
function passMark(ok) {
  return h("span", { class: "mark " + (ok ? "ok" : "bad") }, ok ? "\u2713" : "\u2717");
}

// Reads a CSS custom property of the page (theme colours for the charts).
function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
