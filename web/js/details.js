// The detail sections: the request ledger, errors, checks, per-name results, script errors.
"use strict";

function renderLedger(doc) {
  const l = doc.ledger;
  if (!l) return [];
  const parts = [
    ["completed", "completed", 2], ["failed", "failed (broken)", 3], ["timed_out", "timed out", 1], ["in_flight", "in flight", "target"],
  ];
  const colors = themeColors();
  const box = (label, key) => h("div", { class: "box" }, h("div", { class: "label" }, label),
    h("div", { class: "value", k: "ledger-" + key }, fmtCount(l[key])));
  const row = [box("sent", "sent")];
  parts.forEach(([key, label], i) => row.push(h("span", { class: "op" }, i === 0 ? "=" : "+"), box(label, key)));
  const sum = parts.reduce((a, [key]) => a + (l[key] || 0), 0);
  const bar = h("div", { class: "bar" }, parts.map(([key, , c]) =>
    h("span", { style: `width:${l.sent ? ((100 * (l[key] || 0)) / l.sent).toFixed(3) : 0}%;background:${seriesColor(colors, c)}` })));
  const legend = h("div", { class: "legend-row" }, parts.map(([key, label, c]) =>
    h("span", null, h("span", { class: "swatch", style: `background:${seriesColor(colors, c)}` }), label)));
  return [card("Request ledger", h("div", { class: "ledger" }, row), bar, legend,
    h("p", { class: "note" }, sum === l.sent
      ? "Every request sent is accounted for: it completed (any status), failed without a response, timed out, or was still in flight at the end."
      : `The parts add up to ${fmtCount(sum)}, not ${fmtCount(l.sent)}.`))];
}

function renderErrors(doc) {
  const e = doc.errors || {};
  const kinds = [["connect", "could not connect (refused, reset, TLS)"], ["read", "the connection broke while reading"],
    ["write", "the connection broke while writing"], ["timeout", "no response within the timeout"],
    ["status", "responses with status 400 or above"]];
  const children = [table([{ title: "kind" }, { title: "count", num: true }, { title: "meaning" }],
    kinds.map(([k, meaning]) => ({ cells: [k, { v: fmtCount(e[k] || 0), k: "errors-" + k }, h("span", { class: "muted" }, meaning)] })))];
  const reasons = Object.entries(doc.error_reasons || {}).sort((a, b) => b[1] - a[1]);
  if (reasons.length) {
    children.push(h("h3", { style: "margin-top:12px" }, "Reasons"),
      table([{ title: "reason" }, { title: "count", num: true }], reasons.map(([r, n]) => ({ cells: [h("span", { class: "wrap" }, r), fmtCount(n)] }))));
  }
  const codes = Object.entries(doc.status_codes || {}).sort((a, b) => Number(a[0]) - Number(b[0]));
  if (codes.length) {
    children.push(h("h3", { style: "margin-top:12px" }, "Status codes"),
      table([{ title: "status" }, { title: "responses", num: true }],
        codes.map(([c, n]) => ({ cls: Number(c) >= 400 ? "breaking" : null, cells: [c, { v: fmtCount(n), k: "status-" + c }] }))));
  }
  const samples = doc.error_samples || [];
  if (samples.length) {
    children.push(h("h3", { style: "margin-top:12px" }, "Samples"),
      h("ul", { class: "samples" }, samples.map((s) => h("li", { k: "error-sample" }, s))));
  }
  return [card("Errors", ...children)];
}

function renderChecks(doc) {
  const list = doc.checks || [];
  if (!list.length) return [];
  return [card("Checks", table(
    [{ title: "" }, { title: "check" }, { title: "passed", num: true }, { title: "failed", num: true }, { title: "pass rate", num: true }],
    list.map((c) => {
      const n = (c.passes || 0) + (c.fails || 0);
      return { cells: [passMark(!c.fails), { v: c.name, k: "check-name", cls: "wrap" }, { v: fmtCount(c.passes), k: "check-passes" },
        { v: fmtCount(c.fails), k: "check-fails" }, n ? fmtPct(c.passes / n) : DASH] };
    })))];
}

function renderNames(doc) {
  const list = doc.names || [];
  if (!list.length) return [];
  const codes = (o) => Object.entries(o || {}).map(([c, n]) => `${c}\u00d7${fmtCount(n)}`).join(" ");
  const reasons = (o) => Object.entries(o || {}).map(([r, n]) => `${r} \u00d7${fmtCount(n)}`).join(", ");
  const many = new Set(list.map((n) => n.scenario)).size > 1;
  return [card("Requests by name", table(
    [...(many ? [{ title: "scenario" }] : []), { title: "name" }, { title: "method" }, { title: "requests", num: true },
      { title: "failed", num: true }, { title: "errors", num: true }, { title: "p50", num: true }, { title: "p95", num: true },
      { title: "p99", num: true }, { title: "max", num: true }, { title: "status codes" }, { title: "failures" }],
    list.map((n) => {
      const d = n.http_req_duration || {};
      const total = Math.max(n.requests || 0, 1);
      const tags = Object.entries(n.tags || {}).map(([k, v]) => `${k}=${v}`).join(", ");
      return { cells: [...(many ? [n.scenario] : []), { v: tags ? `${n.name} {${tags}}` : n.name, k: "name-name", cls: "wrap" }, n.method,
        { v: fmtCount(n.requests), k: "name-requests" }, { v: fmtCount(n.failed), k: "name-failed" },
        fmtPct((n.failed || 0) / total), fmtMs(d.med), fmtMs(d.p95), fmtMs(d.p99), fmtMs(d.max),
        h("span", { class: "mono" }, codes(n.status_codes)), h("span", { class: "wrap muted" }, reasons(n.failure_reasons))] };
    })))];
}

function renderScriptErrors(doc) {
  const s = doc.script_errors;
  if (!s || !s.count) return [];
  return [card("Script errors", h("p", null, `${fmtCount(s.count)} Lua errors during the run.`),
    h("ul", { class: "samples" }, (s.samples || []).map((x) => h("li", null, x))))];
}

function renderPercentileTable(doc) {
  const d = (doc.metrics || {}).http_req_duration;
  if (!d || !d.count) return null;
  const cols = [["min", d.min], ["p50", d.med], ["p90", d.p90], ["p95", d.p95], ["p99", d.p99], ["p99.9", d.p99_9],
    ["p99.99", d.p99_99], ["max", d.max], ["mean", d.avg]];
  return table(cols.map(([t]) => ({ title: t, num: true })), [{ cells: cols.map(([t, v]) => ({ v: fmtMs(v), k: "latency-" + t })) }]);
}
