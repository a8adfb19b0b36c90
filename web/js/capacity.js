// A capacity-search run (doc.capacity): the answer, every probe in a table, and the probes'
// p95 latency against their rate, passing and failing apart, with the latency objective.
"use strict";

function capacityOf(doc) {
  const c = doc.capacity;
  return c && Array.isArray(c.probes) ? c : null;
}

// The tightest upper limit on the whole run's http_req_duration (ms), for the chart's line.
function durationObjective(c) {
  let best = null;
  for (const o of (c.probes[0] && c.probes[0].objectives) || []) {
    if (o.metric !== "http_req_duration" || o.key !== "http_req_duration" || !isNum(o.limit)) continue;
    if (o.op !== "<" && o.op !== "<=") continue;
    if (best == null || o.limit < best.ms) best = { ms: o.limit, label: o.expression };
  }
  return best;
}

function renderCapacity(doc) {
  const c = capacityOf(doc);
  if (!c) return [];
  const found = isNum(c.max_sustainable_rate);
  const callout = h("div", { class: "callout capacity " + (found ? "ok" : "bad"), k: "capacity-headline" },
    h("strong", null, "Capacity: "), c.headline || "");
  const limited = { objectives: "the objectives (thresholds)", generator: "pelt itself (the load generator)",
    max_rate: "max_rate: every probe up to it passed" }[c.limited_by];
  const facts = h("dl", { class: "meta" },
    h("dt", null, "Maximum sustainable rate"), h("dd", { k: "capacity-max" }, found ? fmtRate(c.max_sustainable_rate, " req/s") : "none"),
    h("dt", null, "First failing rate"), h("dd", { k: "capacity-failing" }, isNum(c.first_failing_rate) ? fmtRate(c.first_failing_rate, " req/s") : DASH),
    h("dt", null, "Limited by"), h("dd", { k: "capacity-limited-by" }, limited || (c.complete ? DASH : "search not finished")),
    h("dt", null, "Search"), h("dd", null,
      `from ${fmtRate(c.start_rate, "")} up to ${fmtRate(c.max_rate, " req/s")}, \u00d7${c.step_factor} while passing, ` +
      `then halving to ${fmtPct(c.precision)}; each probe ${fmtDuration(c.settle_seconds)} settle + ${fmtDuration(c.hold_seconds)} judged`));
  const rows = c.probes.map((p) => ({
    cls: p.ok ? null : "breaking",
    attrs: { "data-probe": p.index },
    cells: [String(p.index + 1), { v: fmtRate(p.rate, ""), k: "probe-rate" }, fmtRate(p.rps, ""),
      fmtMs(p.p50_ms), { v: fmtMs(p.p95_ms), k: "probe-p95" }, fmtMs(p.p99_ms), fmtPct(p.error_rate),
      fmtCount(p.dropped_iterations), fmtMs(p.send_lag_p50_ms),
      { v: h("span", null, passMark(p.ok), " ", p.ok ? "pass" : p.verdict), k: "probe-verdict" },
      h("span", { class: "wrap" }, p.reason || "")],
  }));
  const probes = table([{ title: "#" }, { title: "rate", num: true }, { title: "req/s", num: true }, { title: "p50", num: true },
    { title: "p95", num: true }, { title: "p99", num: true }, { title: "errors", num: true }, { title: "dropped", num: true },
    { title: "send lag p50", num: true }, { title: "verdict" }, { title: "why" }], rows);
  const section = card("Capacity search" + (c.scenario ? ` (${c.scenario})` : ""), callout, facts, probes);
  section.classList.add("wide");
  return [section];
}

// The chart of p95 against rate: one point per probe, passing and failing in two series.
function capacityChartSpecs(doc) {
  const c = capacityOf(doc);
  if (!c || !c.probes.length) return [];
  const probes = [...c.probes].sort((a, b) => a.rate - b.rate);
  const xs = probes.map((p) => p.rate);
  const pass = probes.map((p) => (p.ok ? p.p95_ms : null));
  const fail = probes.map((p) => (p.ok ? null : p.p95_ms));
  const series = [{ label: "p95, passed", color: 2, points: true }, { label: "p95, failed", color: "bad", points: true }];
  const data = [xs, pass, fail];
  const objective = durationObjective(c);
  if (objective) {
    series.push({ label: "objective " + objective.label, color: "target", dash: [6, 4] });
    data.push(xs.map(() => objective.ms));
  }
  const top = Math.max(...xs);
  return [{ id: "chart-capacity", title: "p95 latency against rate (each probe)", wide: true,
    spec: { kind: "rate", xLabel: "rate", series, data, yFormat: fmtMs, xRange: [0, top * 1.08] } }];
}
