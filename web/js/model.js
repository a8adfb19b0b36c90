// Reading a summary document (pelt.summary/v1 or v2): the run-scope time series, stages on the
// run's time axis, the breaking point, and the chart specs drawn from them.
"use strict";

function runSeries(doc) {
  const ts = doc.timeseries;
  if (!ts || !Array.isArray(ts.t) || !Array.isArray(ts.series) || ts.t.length === 0) return null;
  return ts.series.find((s) => s && s.scope === "run") || null;
}

// Every stage of every scenario on the run's time axis, with its breaking-point flag.
function stageList(doc) {
  const bp = doc.breaking_point;
  const out = [];
  for (const sc of doc.scenarios || []) {
    const base = sc.start_seconds || 0;
    for (const st of sc.stages || []) {
      const start = base + (st.start_seconds || 0);
      const length = st.ran_seconds || st.duration_seconds || 0;
      const breaking = !!bp && bp.scenario === sc.name && bp.stage === st.index;
      out.push({ scenario: sc, stage: st, start, end: start + length, breaking });
    }
  }
  return out;
}

// The breaking point with its place on the time axis, or null.
function breakingInfo(doc) {
  const bp = doc.breaking_point;
  if (!bp) return null;
  const s = stageList(doc).find((x) => x.breaking);
  const at = isNum(bp.at_seconds) ? bp.at_seconds : s ? s.start : null;
  return { bp, stage: s, at, to: s ? Math.max(s.end, at) : at };
}

function markersOf(doc) {
  // A capacity search: each probe's start, labelled with its rate (failing ones in red).
  if (doc.capacity && Array.isArray(doc.capacity.probes) && doc.capacity.probes.length) {
    return { lines: doc.capacity.probes.map((p) => ({ x: p.start_seconds, label: fmtRate(p.rate, "/s"), breaking: !p.ok })),
      band: null };
  }
  const stages = stageList(doc);
  const many = (doc.scenarios || []).length > 1;
  const lines = stages.map((s) => ({
    x: s.start,
    label: (many ? s.scenario.name + " " : "stage ") + ((s.stage.index ?? 0) + 1),
    breaking: s.breaking,
  }));
  const b = breakingInfo(doc);
  if (b && isNum(b.at) && !b.stage) lines.push({ x: b.at, label: "breaking point", breaking: true });
  return { lines, band: b && isNum(b.at) && isNum(b.to) ? { from: b.at, to: b.to } : null };
}

function stageTargetText(stage) {
  if (!isNum(stage.target)) return DASH;
  return stage.target_unit === "vus" ? `${fmtCount(stage.target)} VUs` : fmtRate(stage.target, " it/s");
}

// The index of the newest bucket that is complete (a live run's last bucket may still fill).
function lastCompleteIndex(doc) {
  const ts = doc.timeseries;
  if (!ts || !ts.t || !ts.t.length) return -1;
  let i = ts.t.length - 1;
  const elapsed = doc.elapsed_seconds;
  if (doc.live && doc.state !== "finished" && isNum(elapsed) && i > 0 && ts.t[i] + (ts.width[i] || 1) > elapsed + 1e-6) i--;
  return i;
}

const anyValue = (col) => Array.isArray(col) && col.some((v) => v != null && v !== 0);
const perSecond = (col, width) => (col || []).map((v, i) => (v == null ? null : v / (width[i] || 1)));

// The time charts of a document, each { id, title, spec, wide, note }.
function timeChartSpecs(doc) {
  const run = runSeries(doc);
  if (!run) return [];
  const ts = doc.timeseries;
  const width = ts.width || ts.t.map(() => 1);
  const x = ts.t.map((t, i) => t + (width[i] || 1) / 2);
  const end = Math.max(doc.live && isNum(doc.planned_seconds) ? doc.planned_seconds : 0,
    isNum(doc.duration_seconds) ? doc.duration_seconds : 0, ts.t[ts.t.length - 1] + (width[width.length - 1] || 1));
  const markers = markersOf(doc);
  const time = (series, data, yFormat, yTicks) =>
    ({ kind: "time", series, data: [x, ...data], yFormat, yTicks, markers, xRange: [0, end] });
  const lat = run.latency_ms || {};
  const lag = run.send_lag_ms || {};
  const errors = run.errors || {};
  const out = [];

  const rps = [{ label: "req/s", color: 0, fill: true }, { label: "failed/s", color: "bad" }];
  const rpsData = [perSecond(run.requests, width), perSecond(run.failed, width)];
  if (anyValue(run.target_rate)) {
    rps.push({ label: "target rate", color: "target", dash: [6, 4] });
    rpsData.push(run.target_rate);
  }
  out.push({ id: "chart-rps", title: "Requests per second", wide: true, spec: time(rps, rpsData, (v) => fmtRate(v, ""), fmtTick) });

  const vus = [{ label: "VUs", color: 2, fill: true }, { label: "VUs allocated", color: 4, dash: [3, 3] }];
  const vusData = [run.vus || [], run.vus_max || []];
  if (anyValue(run.target_vus)) {
    vus.push({ label: "target VUs", color: "target", dash: [6, 4] });
    vusData.push(run.target_vus);
  }
  out.push({ id: "chart-vus", title: "Virtual users", spec: time(vus, vusData, fmtCount, fmtTick) });

  out.push({ id: "chart-latency", title: "Latency", spec: time(
    [{ label: "p50", color: 0 }, { label: "p95", color: 1 }, { label: "p99", color: 3 }],
    [lat.p50 || [], lat.p95 || [], lat.p99 || []], fmtMs) });

  const kinds = ["connect", "read", "write", "timeout", "status"];
  out.push({ id: "chart-errors", title: "Errors per second by kind", spec: time(
    kinds.map((k, i) => ({ label: k, color: [5, 1, 6, 3, 4][i], step: true })),
    kinds.map((k) => perSecond(errors[k] || ts.t.map(() => 0), width)), (v) => fmtRate(v, ""), fmtTick) });

  const lagSpec = time([{ label: "p50", color: 0 }, { label: "p99", color: 1 }, { label: "max", color: 3, dash: [3, 3] }],
    [lag.p50 || [], lag.p99 || [], lag.max || []], fmtMs);
  const hasLag = ["p50", "p99", "max"].some((k) => Array.isArray(lag[k]) && lag[k].some((v) => v != null));
  out.push({ id: "chart-lag", title: "Send lag (how late requests left, open loop)", spec: hasLag ? lagSpec : null,
    note: hasLag ? null : "No send lag: this run had no arrival-rate (open-loop) scenario." });
  return out;
}

// The percentile curve (HdrHistogram style) and a histogram, from the run's encoded histogram.
function latencyChartSpecs(doc) {
  const hist = decodeHistogram(doc.latency_histogram_us);
  if (!hist) return [];
  const xs = [], ys = [];
  const maxX = Math.max(1, Math.log10(hist.count));
  const toX = (q) => Math.min(maxX, -Math.log10(Math.max(1 - q, 1e-12)));
  let seen = 0;
  for (const [v, c] of hist.buckets) {
    const ms = Math.min(Math.max(v, hist.min), hist.max) / 1000;
    xs.push(toX(seen / hist.count), toX((seen + c) / hist.count));
    ys.push(ms, ms);
    seen += c;
  }
  const curve = { kind: "percentile", xLabel: "percentile", series: [{ label: "latency", color: 0, width: 2 }],
    data: [xs, ys], yFormat: fmtMs, xRange: [0, maxX] };

  // Histogram: about 40 log-spaced bins between min and max.
  const lo = Math.max(1, hist.min), hi = Math.max(lo + 1, hist.max);
  const bins = Math.max(1, Math.min(40, hist.buckets.length));
  const step = Math.log(hi / lo) / bins || 1;
  const counts = new Array(bins).fill(0);
  for (const [v, c] of hist.buckets) {
    const i = Math.min(bins - 1, Math.max(0, Math.floor(Math.log(Math.max(v, lo) / lo) / step)));
    counts[i] += c;
  }
  const centers = counts.map((_, i) => (lo * Math.exp((i + 0.5) * step)) / 1000);
  const histogram = { kind: "histogram", xLabel: "latency", series: [{ label: "requests", color: 0, fill: true }],
    data: [centers, counts], yFormat: fmtCount };
  return [
    { id: "chart-percentiles", title: "Latency by percentile", spec: curve },
    { id: "chart-histogram", title: "Latency histogram", spec: histogram },
  ];
}
