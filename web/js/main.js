// Entry point: builds the page's sections once, then renders a document into them, once for a
// saved report, and once a second in live mode.
"use strict";

const slots = {};

function buildSlots() {
  const app = document.getElementById("app");
  const add = (name, cls) => (slots[name] = app.appendChild(h("div", { class: cls || null, id: "slot-" + name })));
  add("tiles", "tiles");
  add("breaking");
  add("capacity");
  add("capacity-chart", "charts");
  add("charts", "charts");
  add("overview", "grid2");
  add("stages");
  add("latency", "charts");
  add("percentiles");
  add("ledger", "grid2");
  add("checks");
  add("names");
  add("script");
}

// Keeps one card per chart id in `el` (created on first use, so live updates keep the canvas).
function renderChartGrid(el, items, empty) {
  const want = new Set(items.map((i) => i.id));
  for (const child of [...el.children]) {
    if (!want.has(child.dataset.chart)) {
      destroyChart(child.dataset.chart);
      child.remove();
    }
  }
  if (!items.length && empty && !el.children.length) el.append(empty);
  items.forEach((item, index) => {
    let c = el.querySelector(`[data-chart="${item.id}"]`);
    if (!c) {
      c = h("section", { class: "card" + (item.wide ? " wide" : ""), "data-chart": item.id },
        h("h2", null, item.title), h("div", { class: "chart", id: item.id }), h("p", { class: "note" }));
      el.insertBefore(c, el.children[index] || null);
    }
    const box = c.querySelector(".chart");
    const note = c.querySelector(".note");
    note.textContent = item.note || "";
    note.hidden = !item.note;
    if (item.spec) {
      box.hidden = false;
      drawChart(item.id, box, item.spec);
    } else {
      destroyChart(item.id);
      box.hidden = true;
    }
  });
}

function render(doc) {
  renderHeader(doc);
  slots.tiles.replaceChildren(...renderTiles(doc));
  slots.breaking.replaceChildren(...renderBreaking(doc));
  slots.capacity.replaceChildren(...renderCapacity(doc));
  renderChartGrid(slots["capacity-chart"], capacityChartSpecs(doc), null);
  slots.overview.replaceChildren(...renderThresholds(doc), ...renderRunInfo(doc));
  const noSeries = card("Over time", h("p", { class: "note", k: "no-timeseries" },
    "This summary has no per-second time series (it was written by an older pelt), so there are no charts over time. " +
    "The tables below hold the run's results."));
  noSeries.classList.add("wide");
  renderChartGrid(slots.charts, timeChartSpecs(doc), doc.live ? null : noSeries);
  slots.stages.replaceChildren(...renderStages(doc));
  renderChartGrid(slots.latency, latencyChartSpecs(doc), null);
  const pct = renderPercentileTable(doc);
  slots.percentiles.replaceChildren(...(pct ? [card("Latency percentiles", pct)] : []));
  slots.ledger.replaceChildren(...renderLedger(doc), ...renderErrors(doc));
  slots.checks.replaceChildren(...renderChecks(doc));
  slots.names.replaceChildren(...renderNames(doc));
  slots.script.replaceChildren(...renderScriptErrors(doc));
  const lib = document.body.dataset.chartLib;
  document.getElementById("footer").textContent =
    `pelt ${doc.version || ""}` + (doc.run_id ? ` \u00b7 run ${doc.run_id}` : "") + (lib ? ` \u00b7 charts by ${lib}` : "");
}

function boot() {
  if (document.body.dataset.mode === "compare") {
    let doc = null;
    try {
      doc = JSON.parse(document.getElementById("pelt-data").textContent);
    } catch (e) {
      document.getElementById("app").replaceChildren(card("Unreadable comparison", h("p", null, "The embedded data is not valid JSON: " + e.message)));
      return;
    }
    renderCompare(doc || {});
    return;
  }
  buildSlots();
  if (document.body.dataset.mode === "live") {
    startLive(render);
    return;
  }
  let doc = null;
  try {
    doc = JSON.parse(document.getElementById("pelt-data").textContent);
  } catch (e) {
    slots.tiles.replaceWith(card("Unreadable report", h("p", null, "The embedded run data is not valid JSON: " + e.message)));
    return;
  }
  render(doc || {});
}

boot();
