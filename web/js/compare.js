// `pelt compare --html`: runs side by side (a pelt.compare/v1 document): each section's figures
// with their change against the baseline and the noise mark, who was fastest and slowest, the
// --fail-if gates, and req/s and p95 second by second, one line per run.
"use strict";

const NOISE_TEXT = { beyond: "*", within: "~", unknown: "", baseline: "" };

function compareValue(row, v) {
  if (!isNum(v)) return DASH;
  if (row.unit === "req/s") return fmtRate(v, "");
  if (row.unit === "ms") return fmtMs(v);
  if (row.unit === "ratio") return fmtPct(v);
  if (row.unit === "%") return (v * 100).toFixed(1) + "%";
  if (row.unit === "bytes") return fmtBytes(v);
  if (row.unit === "B/s" || row.unit === "bytes/s") return fmtBytes(v) + "/s";
  return v.toLocaleString("en-US", { maximumSignificantDigits: 4 }) + (row.unit ? " " + row.unit : "");
}

function compareChange(row, i) {
  if (row.unit === "ratio") return isNum(row.diffs[i]) ? `${row.diffs[i] >= 0 ? "+" : ""}${(row.diffs[i] * 100).toFixed(2)}pp` : "";
  const c = row.changes[i];
  return isNum(c) ? `${c >= 0 ? "+" : ""}${(c * 100).toFixed(1)}%` : "";
}

// worse / better / "" for a candidate's cell, from the row's direction and its noise mark.
function compareClass(row, i) {
  if (row.marks[i] !== "beyond" || !row.better || !isNum(row.diffs[i])) return "";
  const up = row.diffs[i] > 0;
  return (row.better === "higher") === up ? "better" : "worse";
}

function compareSection(doc, s) {
  const runs = doc.runs || [];
  const columns = [{ title: "" }];
  runs.forEach((r, i) => {
    columns.push({ title: r.label + (i === 0 ? " (baseline)" : ""), num: true });
    if (i > 0) columns.push({ title: "change", num: true });
  });
  const rows = s.rows.map((row) => {
    const cells = [row.metric];
    runs.forEach((r, i) => {
      cells.push({ v: compareValue(row, row.values[i]), k: "compare-value" });
      if (i > 0) {
        const mark = NOISE_TEXT[row.marks[i]] || "";
        cells.push({ v: compareChange(row, i) + (mark ? " " + mark : ""), k: "compare-change", cls: compareClass(row, i) });
      }
    });
    return { cells, attrs: { "data-metric": row.metric, "data-section": s.title } };
  });
  return card(s.title, table(columns, rows));
}

function compareTimeSpecs(doc) {
  const runs = (doc.runs || []).filter((r) => r.series && Array.isArray(r.series.t) && r.series.t.length);
  if (!runs.length) return [];
  const end = Math.max(...runs.map((r) => r.series.t[r.series.t.length - 1] + 1));
  const xs = [];
  for (let t = 0; t < end; t++) xs.push(t + 0.5);
  const column = (r, key) => {
    const out = xs.map(() => null);
    r.series.t.forEach((t, i) => { const k = Math.floor(t); if (k >= 0 && k < out.length) out[k] = r.series[key][i]; });
    return out;
  };
  const series = runs.map((r, i) => ({ label: r.label, color: i }));
  const spec = (key, yFormat, yTicks) =>
    ({ kind: "time", series, data: [xs, ...runs.map((r) => column(r, key))], yFormat, yTicks, xRange: [0, end] });
  return [
    { id: "chart-compare-rps", title: "Requests per second", spec: spec("rps", (v) => fmtRate(v, ""), fmtTick) },
    { id: "chart-compare-p95", title: "p95 latency, second by second", spec: spec("p95_ms", fmtMs) },
  ];
}

function renderCompare(doc) {
  const app = document.getElementById("app");
  const runs = doc.runs || [];
  document.getElementById("title").textContent = "Compare: " + runs.map((r) => r.label).join(" vs ");
  const pill = document.getElementById("status");
  const gates = doc.fail_if || [];
  pill.textContent = gates.length ? (doc.failed ? "a --fail-if rule fired" : "every --fail-if rule held") : `${runs.length} runs`;
  pill.className = "pill " + (doc.failed ? "bad" : "ok");
  document.getElementById("subtitle").textContent = "The first run is the baseline.";
  const parts = [];
  parts.push(card("Runs", table([{ title: "run" }, { title: "file" }, { title: "target" }, { title: "started" }, { title: "duration", num: true }],
    runs.map((r) => ({ cells: [{ v: r.label, k: "compare-label" }, h("span", { class: "wrap" }, r.file || ""),
      h("span", { class: "wrap" }, r.target || ""), r.started_at ? fmtTimestamp(r.started_at) : DASH, fmtDuration(r.duration_seconds)] })))));
  const verdicts = (doc.rankings || []).map((rk) => {
    const latency = rk.metric === "p(95)";
    const fmt = (v) => (latency ? fmtMs(v) : fmtRate(v, " req/s"));
    return h("li", { k: "compare-ranking" }, `by ${rk.metric}: ${latency ? "fastest" : "highest"} ${rk.best_label} (${fmt(rk.best_value)}), ` +
      `${latency ? "slowest" : "lowest"} ${rk.worst_label} (${fmt(rk.worst_value)})` +
      (rk.noise === "beyond" ? ", beyond the noise" : rk.noise === "within" ? ", within the noise" : ""));
  });
  if (verdicts.length) parts.push(card("Verdict", h("ul", null, verdicts)));
  if (gates.length) {
    parts.push(card("--fail-if", table([{ title: "" }, { title: "rule" }, { title: "outcome" }],
      gates.map((g) => ({ cls: g.fired ? "breaking" : null, cells: [{ v: passMark(!g.fired), k: "fail-if-mark" }, h("code", null, g.rule), g.text] })))));
  }
  for (const s of doc.sections || []) parts.push(compareSection(doc, s));
  parts.push(card("About the marks", h("p", { class: "note" },
    "* the change is beyond the runs' own noise, ~ within it. Method: " + (doc.noise_method || "") + ". No mark: the noise cannot be told.")));
  const charts = h("div", { class: "charts" });
  app.replaceChildren(...parts.slice(0, 3), charts, ...parts.slice(3));
  renderChartGrid(charts, compareTimeSpecs(doc), null);
  document.getElementById("footer").textContent = "pelt compare" + (document.body.dataset.chartLib ? " \u00b7 charts by " + document.body.dataset.chartLib : "");
}
