// The page's sections, each built from the document alone. Elements that tests and readers
// look up carry data-k keys (data-k="http_reqs", "ledger-sent", "stage-requests" ...).
"use strict";

function statusOf(doc) {
  const parts = [];
  let cls = "ok";
  if (doc.live && doc.state !== "finished") return { text: doc.disconnected ? "connection lost" : "running", cls: doc.disconnected ? "warn" : "live" };
  const thresholds = doc.thresholds || [];
  if (doc.live) parts.push("finished");
  if (thresholds.length) parts.push(doc.thresholds_ok === false ? "thresholds crossed" : "thresholds passed");
  else if (!doc.live) parts.push("completed");
  if (doc.thresholds_ok === false) cls = "bad";
  if (doc.aborted) {
    parts.push("aborted" + (doc.abort_reason ? ": " + doc.abort_reason : ""));
    cls = "bad";
  }
  if (doc.interrupted) {
    parts.push("interrupted");
    if (cls === "ok") cls = "warn";
  }
  return { text: parts.join(" \u00b7 "), cls };
}

function renderHeader(doc) {
  const name = doc.mode === "quick" ? doc.target : doc.source || doc.target;
  document.getElementById("title").textContent = (doc.live ? "Live: " : "") + (name || "Load test");
  document.title = `pelt ${doc.live ? "live" : "report"}: ${name || ""}`;
  const status = statusOf(doc);
  const pill = document.getElementById("status");
  pill.textContent = status.text;
  pill.className = "pill " + status.cls;
  const bits = [name === doc.target ? null : doc.target, doc.started_at ? fmtTimestamp(doc.started_at) : null,
    isNum(doc.duration_seconds) ? fmtDuration(doc.duration_seconds) : null].filter(Boolean);
  document.getElementById("subtitle").textContent = bits.join(" \u00b7 ");
}

function tile(label, value, sub, opts = {}) {
  return h("div", { class: "tile " + (opts.cls || "") },
    h("div", { class: "label" }, label),
    h("div", { class: "value", k: opts.k }, value),
    sub != null ? h("div", { class: "sub", k: opts.subK }, sub) : null,
    opts.progress != null ? h("div", { class: "progress" }, h("div", { style: `width:${Math.min(100, opts.progress * 100).toFixed(1)}%` })) : null);
}

function thresholdTile(doc) {
  const list = doc.thresholds || [];
  if (!list.length) return tile("Thresholds", "none", "no thresholds set");
  const crossed = list.filter((t) => !t.ok).length;
  return tile("Thresholds", crossed ? `\u2717 ${crossed} of ${list.length}` : `\u2713 ${list.length}`,
    crossed ? "crossed" : "all held", { cls: crossed ? "bad" : "ok", k: "thresholds-tile" });
}

function renderTiles(doc) {
  const m = doc.metrics || {};
  const dur = m.http_req_duration || {};
  const failed = m.http_req_failed || {};
  const reqs = m.http_reqs || {};
  const out = [];
  if (doc.live) {
    const run = runSeries(doc);
    const i = lastCompleteIndex(doc);
    const w = i >= 0 ? doc.timeseries.width[i] || 1 : 1;
    const at = (col) => (run && i >= 0 && col ? col[i] : null);
    const planned = isNum(doc.planned_seconds) ? doc.planned_seconds : doc.duration_seconds;
    const elapsed = isNum(doc.elapsed_seconds) ? doc.elapsed_seconds : doc.duration_seconds;
    out.push(tile("Elapsed", fmtClock(elapsed), isNum(planned) ? "of " + fmtClock(planned) : null,
      { k: "live-elapsed", progress: isNum(planned) && planned > 0 ? elapsed / planned : null }));
    out.push(tile("VUs", fmtCount(at(run && run.vus)), "max " + fmtCount(m.vus_max && m.vus_max.value), { k: "live-vus" }));
    const rps = at(run && run.requests);
    out.push(tile("Requests/s", rps == null ? DASH : fmtRate(rps / w, ""), fmtCount(reqs.count) + " in total", { k: "live-rps" }));
    out.push(tile("p95 latency", fmtMs(at(run && run.latency_ms && run.latency_ms.p95)), "run: " + fmtMs(dur.p95), { k: "live-p95" }));
    const n = at(run && run.requests), f = at(run && run.failed);
    out.push(tile("Error rate", n ? fmtPct(f / n) : DASH, "run: " + fmtPct(failed.rate), { k: "live-error-rate", cls: f ? "bad" : "" }));
    out.push(thresholdTile(doc));
  } else {
    out.push(tile("Requests", fmtCount(reqs.count), fmtRate(reqs.rate), { k: "http_reqs" }));
    out.push(tile("Error rate", fmtPct(failed.rate), `${fmtCount(failed.fails)} of ${fmtCount(failed.total)} failed`,
      { k: "error_rate", cls: failed.fails ? "bad" : "" }));
    out.push(tile("p95 latency", fmtMs(dur.p95), `p50 ${fmtMs(dur.med)} \u00b7 p99 ${fmtMs(dur.p99)}`, { k: "p95" }));
    out.push(tile("Peak VUs", fmtCount(m.vus_max && m.vus_max.value), `${fmtCount(m.iterations && m.iterations.count)} iterations`));
    out.push(tile("Duration", fmtDuration(doc.duration_seconds), `${fmtBytes(m.data_received && m.data_received.count)} received`));
    out.push(thresholdTile(doc));
    if (m.checks && (m.checks.passes || m.checks.fails)) {
      out.push(tile("Checks", fmtPct(m.checks.rate), `${fmtCount(m.checks.fails)} of ${fmtCount(m.checks.passes + m.checks.fails)} failed`,
        { k: "checks-rate" }));
    }
  }
  return out;
}

function renderBreaking(doc) {
  const b = breakingInfo(doc);
  if (!b) return [];
  const st = b.stage;
  const where = st ? `stage ${(st.stage.index ?? 0) + 1} of ${st.scenario.name} (target ${stageTargetText(st.stage)})`
    : `stage ${(b.bp.stage ?? 0) + 1} of ${b.bp.scenario}`;
  return [h("div", { class: "callout", k: "breaking-point" },
    h("strong", null, "Breaking point: "), where,
    isNum(b.at) ? `, ${fmtClock(b.at)} into the run` : "",
    b.bp.description ? ": " + b.bp.description : "",
    b.bp.server ? h("span", { k: "breaking-server" }, "; " + b.bp.server) : null)];
}

function renderThresholds(doc) {
  const list = doc.thresholds || [];
  if (!list.length) return [card("Thresholds", h("p", { class: "note" }, "No thresholds were set for this run."))];
  return [card("Thresholds", table(
    [{ title: "" }, { title: "metric" }, { title: "threshold" }, { title: "observed" }],
    list.map((t) => ({
      cls: t.ok ? null : "breaking",
      cells: [{ v: passMark(t.ok), k: "threshold-mark" }, h("span", { class: "wrap" }, t.key || t.metric),
        h("code", null, t.expression), t.has_data === false ? "no data" : t.text || String(t.observed)],
    }))))];
}

function renderRunInfo(doc) {
  const rows = [];
  const add = (k, v) => { if (v != null && v !== "") rows.push(h("dt", null, k), h("dd", null, v)); };
  add("Command", doc.command_line ? h("code", null, doc.command_line) : null);
  if (doc.mode === "scenario") add("Scenario file", doc.source);
  add("Target", doc.target);
  add("Mode", doc.mode === "quick" ? "quick (command line)" : doc.mode);
  add("Threads", fmtCount(doc.threads));
  if (doc.mode === "quick") {
    add("Connections", fmtCount(doc.connections));
    if (doc.rate) add("Rate", fmtRate(doc.rate));
  }
  add("Started", doc.started_at ? fmtTimestamp(doc.started_at) : null);
  add("Ended", doc.ended_at ? fmtTimestamp(doc.ended_at) : null);
  add("Duration", fmtDuration(doc.duration_seconds));
  for (const sc of doc.scenarios || []) {
    const tags = Object.entries(sc.tags || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    add("Scenario", `${sc.name} \u00b7 ${sc.executor}` + (tags ? ` \u00b7 ${tags}` : ""));
  }
  add("pelt", doc.version);
  add("Run id", doc.run_id);
  return [card("Run", h("dl", { class: "meta" }, rows))];
}

function renderStages(doc) {
  const out = [];
  for (const sc of doc.scenarios || []) {
    if (!(sc.stages || []).length) continue;
    const base = sc.start_seconds || 0;
    const bp = doc.breaking_point;
    const rows = sc.stages.map((st) => {
      const breaking = !!bp && bp.scenario === sc.name && bp.stage === st.index;
      return {
        cls: breaking ? "breaking" : null,
        attrs: { "data-scenario": sc.name, "data-stage": st.index },
        cells: [h("span", null, String((st.index ?? 0) + 1), breaking ? h("span", { class: "tag" }, "breaking point") : null),
          stageTargetText(st), fmtClock(base + (st.start_seconds || 0)),
          fmtDuration(st.ran_seconds ?? st.duration_seconds),
          { v: fmtCount(st.requests), k: "stage-requests" }, fmtRate(st.rps, ""),
          fmtMs(st.p50_ms), fmtMs(st.p95_ms), fmtMs(st.p99_ms),
          { v: fmtPct(st.error_rate), k: "stage-error-rate" }, { v: fmtCount(st.failed), k: "stage-failed" },
          fmtCount(st.dropped_iterations),
          ...observeQueries(doc).map((q) => ({ v: observeCell(q, st.observe && st.observe[q.label]), k: "stage-observe-" + q.label }))],
      };
    });
    out.push(card(`Stages of ${sc.name}` + (sc.executor ? ` (${sc.executor})` : ""), table(
      [{ title: "#" }, { title: "target" }, { title: "start" }, { title: "length" }, { title: "requests", num: true },
        { title: "req/s", num: true }, { title: "p50", num: true }, { title: "p95", num: true }, { title: "p99", num: true },
        { title: "errors", num: true }, { title: "failed", num: true }, { title: "dropped", num: true },
        ...observeQueries(doc).map((q) => ({ title: `server ${q.label} avg (max)`, num: true }))], rows)));
  }
  return out;
}

// [observe]: the queries of the run (doc.observe), and a stage's figure as "42% (97%)".
function observeQueries(doc) {
  return (doc.observe && Array.isArray(doc.observe.queries)) ? doc.observe.queries : [];
}

function observeValue(q, v) {
  if (!isNum(v)) return DASH;
  if (q.unit === "%") return (v * 100).toFixed(0) + "%";
  if (q.unit === "bytes") return fmtBytes(v);
  if (q.unit === "B/s" || q.unit === "bytes/s") return fmtBytes(v) + "/s";
  return v.toLocaleString("en-US", { maximumSignificantDigits: 3 }) + (q.unit ? " " + q.unit : "");
}

function observeCell(q, f) {
  if (!f) return DASH;
  if (f.status === "ok") return `${observeValue(q, f.avg)} (${observeValue(q, f.max)})`;
  if (f.status === "pending") return "\u2026";
  return h("span", { class: "muted", title: f.error || "" }, f.status);
}
