// Live mode: the page loads /api/summary, then follows /events. Each `tick` carries the
// document without its time series plus the time-series columns from index `from` on; the page
// replaces its columns from that index. After `end` the page keeps the final state.
"use strict";

const MAX_FAILED_RECONNECTS = 5; // EventSource retries before the page stops asking

// Columns [0, from) of `old` followed by `add` (missing old entries become null).
function spliceColumn(old, from, add) {
  const out = Array.isArray(old) ? old.slice(0, from) : [];
  while (out.length < from) out.push(null);
  return out.concat(Array.isArray(add) ? add : []);
}

// Merges one series' columns (arrays, possibly nested in objects such as latency_ms).
function mergeColumns(prev, next, from) {
  const out = {};
  for (const [key, value] of Object.entries(next)) {
    if (Array.isArray(value)) out[key] = spliceColumn(prev && prev[key], from, value);
    else if (value && typeof value === "object") out[key] = mergeColumns(prev && prev[key], value, from);
    else out[key] = value;
  }
  return out;
}

const seriesKey = (s) => [s.scope, s.scenario || "", s.name || "", s.method || ""].join("\u0000");

function mergeTimeseries(old, tick) {
  const from = Math.max(0, tick.from || 0);
  const base = old && from > 0 ? old : { t: [], width: [], series: [] };
  const byKey = new Map((base.series || []).map((s) => [seriesKey(s), s]));
  return {
    start_unix_ms: tick.start_unix_ms ?? base.start_unix_ms,
    t: spliceColumn(base.t, from, tick.t),
    width: spliceColumn(base.width, from, tick.width),
    series: (tick.series || []).map((s) => mergeColumns(byKey.get(seriesKey(s)), s, from)),
  };
}

function startLive(render) {
  let doc = null;
  let ended = false;
  let failures = 0;
  let source = null;

  const show = (d) => {
    doc = d;
    render(doc);
  };
  const loadSummary = () =>
    fetch("api/summary", { cache: "no-store" })
      .then((r) => {
        if (!r.ok) throw new Error(`GET /api/summary: HTTP ${r.status}`);
        return r.json();
      });

  function onTick(ev) {
    failures = 0;
    const msg = JSON.parse(ev.data);
    const have = doc && doc.timeseries && Array.isArray(doc.timeseries.t) ? doc.timeseries.t.length : 0;
    const tick = msg.timeseries;
    if (tick && (tick.from || 0) > have) {
      // Buckets are missing (the page fell behind): take the whole document again.
      loadSummary().then(show, () => {});
      return;
    }
    const next = Object.assign({}, msg.summary || {}, { live: true });
    next.timeseries = tick ? mergeTimeseries(doc && doc.timeseries, tick) : doc && doc.timeseries;
    show(next);
  }

  function connect() {
    source = new EventSource("events");
    source.addEventListener("tick", onTick);
    source.addEventListener("end", () => {
      ended = true;
      source.close();
      show(Object.assign({}, doc, { state: "finished", disconnected: false }));
    });
    source.onerror = () => {
      if (ended) return;
      failures++;
      if (failures >= MAX_FAILED_RECONNECTS) source.close();
      if (doc) show(Object.assign({}, doc, { disconnected: true }));
    };
  }

  loadSummary().then((d) => {
    show(Object.assign({}, d, { live: true }));
    if (d.state === "finished") ended = true;
    connect();
  }, (err) => {
    document.getElementById("app").prepend(card("Cannot reach pelt", h("p", null, String(err.message || err))));
  });
}
