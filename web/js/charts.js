// Charts drawn with uPlot: time series over the run (with stage boundaries and the breaking
// point), the percentile curve and the latency histogram. A chart is described by a spec;
// drawing the same spec shape again only swaps the data, so live updates are cheap.
"use strict";

const CHART_HEIGHT = 220;
const PRINT_WIDTH = 680; // px: an A4 page's printable width at 96 dpi, less the margins
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400];
const charts = new Map(); // id -> { u, spec, container, signature }
let printing = false;

function themeColors() {
  return {
    text: cssVar("--muted"),
    grid: cssVar("--grid"),
    bad: cssVar("--bad"),
    target: cssVar("--target"),
    series: ["--c1", "--c2", "--c3", "--c4", "--c5", "--c6", "--c7"].map(cssVar),
  };
}

// The colour of a series: an index into the palette, "target" or "bad".
function seriesColor(colors, c) {
  if (c === "target") return colors.target;
  if (c === "bad") return colors.bad;
  return colors.series[(c || 0) % colors.series.length];
}

function chartWidth(container) {
  return printing ? PRINT_WIDTH : Math.max(200, container.clientWidth);
}

// Stage boundaries (dashed lines, labelled) and the breaking stage (a shaded band).
function drawMarkers(u, markers, colors) {
  if (!markers) return;
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  const px = uPlot.pxRatio || 1;
  const clampX = (x) => Math.min(left + width, Math.max(left, x));
  ctx.save();
  if (markers.band) {
    const x0 = clampX(u.valToPos(markers.band.from, "x", true));
    const x1 = clampX(u.valToPos(markers.band.to, "x", true));
    ctx.globalAlpha = 0.1;
    ctx.fillStyle = colors.bad;
    ctx.fillRect(x0, top, x1 - x0, height);
    ctx.globalAlpha = 1;
  }
  ctx.font = `${11 * px}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  ctx.textAlign = "left";
  for (const m of markers.lines || []) {
    const x = u.valToPos(m.x, "x", true);
    if (x < left - 1 || x > left + width + 1) continue;
    ctx.strokeStyle = m.breaking ? colors.bad : colors.text;
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = (m.breaking ? 2 : 1) * px;
    ctx.setLineDash(m.breaking ? [] : [4 * px, 4 * px]);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    if (m.label) ctx.fillText(m.label, x + 4 * px, top + 3 * px);
  }
  ctx.restore();
}

// Axis options for run time in seconds shown as m:ss.
function timeAxis(colors) {
  return {
    stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid },
    incrs: TIME_STEPS, values: (u, splits) => splits.map(fmtClock),
  };
}

// Axis options for the percentile curve: x = -log10(1 - q) shown as 0%, 90%, 99%, 99.9% ...
function percentileAxis(colors) {
  return {
    stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid },
    splits: (u, i, min, max) => Array.from({ length: Math.floor(max) + 1 }, (_, k) => k),
    values: (u, splits) => splits.map((k) => (k === 0 ? "0%" : percentileLabel(k))),
  };
}

// Axis options for a log-scaled latency axis in ms: grid at 1, 2, 5 x 10^k, labels where they fit.
function logAxis(colors) {
  const splits = (u, i, min, max) => {
    const out = [];
    for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * Math.pow(10, e);
        if (v >= min && v <= max) out.push(v);
      }
    }
    return out;
  };
  return {
    stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid }, splits,
    values: (u, vals) => {
      const decades = Math.log10(u.scales.x.max / u.scales.x.min);
      return vals.map((v) => (decades <= 2 || Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-6 ? fmtMs(v) : ""));
    },
  };
}

// Axis options for a rate (requests per second) on a linear scale.
function rateAxis(colors) {
  return {
    stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid },
    values: (u, splits) => splits.map(fmtTick),
  };
}

function percentileLabel(x) {
  const pct = 100 - Math.pow(10, 2 - x);
  return pct.toFixed(Math.max(0, Math.ceil(x) - 2)) + "%";
}

// uPlot options for a spec. Callbacks read `state.spec`, so a live update that swaps the spec
// (new data, a longer time axis) needs no new chart.
function buildOptions(spec, container, colors) {
  const state = { spec };
  const fmtY = (v) => (state.spec.yFormat || String)(v);
  const xAxis = spec.kind === "percentile" ? percentileAxis(colors)
    : spec.kind === "histogram" ? logAxis(colors) : spec.kind === "rate" ? rateAxis(colors) : timeAxis(colors);
  const xValue = spec.kind === "percentile" ? (u, v) => (v == null ? DASH : percentileLabel(v))
    : spec.kind === "histogram" ? (u, v) => fmtMs(v) : spec.kind === "rate" ? (u, v) => fmtRate(v, " req/s")
    : (u, v) => fmtClock(v);
  const series = [{ label: spec.xLabel || "time", value: xValue }];
  for (const s of spec.series) {
    const color = seriesColor(colors, s.color);
    series.push({
      label: s.label, stroke: color, width: s.width || 1.5, dash: s.dash, spanGaps: false,
      fill: s.fill ? color + "22" : undefined,
      points: s.points ? { show: true, size: 9, fill: color } : { show: false },
      paths: s.points ? () => null : spec.kind === "histogram" ? uPlot.paths.bars({ size: [0.85, 64] })
        : s.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
      value: (u, v) => (v == null ? DASH : fmtY(v)),
    });
  }
  const xRange = (u, min, max) => state.spec.xRange || [min, max];
  return {
    state,
    opts: {
      width: chartWidth(container), height: spec.height || CHART_HEIGHT, series,
      legend: { live: true },
      cursor: spec.kind === "time" ? { sync: { key: "pelt-time" }, drag: { x: true, y: false } }
        : { drag: { x: false, y: false } },
      scales: {
        x: { time: false, distr: spec.kind === "histogram" ? 3 : 1, range: spec.kind === "histogram" ? undefined : xRange },
        y: { range: (u, min, max) => [state.spec.yMin ?? 0, max > 0 ? max * 1.08 : 1] },
      },
      axes: [xAxis, { stroke: colors.text, grid: { stroke: colors.grid, width: 1 }, ticks: { stroke: colors.grid },
        size: 64, values: (u, splits) => splits.map((v) => (state.spec.yTicks || fmtY)(v)) }],
      hooks: { draw: [(u) => drawMarkers(u, state.spec.markers, colors)] },
    },
  };
}

// Draws the chart `id` into `container`, or updates it when it already exists. The container's
// data-points attribute counts the values drawn (tests read it).
function drawChart(id, container, spec) {
  container.dataset.points = spec.data.slice(1).reduce((n, col) => n + col.filter((v) => v != null).length, 0);
  const signature = spec.kind + "|" + spec.series.map((s) => s.label).join("|");
  const old = charts.get(id);
  if (old && old.signature === signature && old.container === container) {
    old.spec = spec;
    old.state.spec = spec;
    old.u.setData(spec.data);
    return old.u;
  }
  if (old) destroyChart(id);
  const colors = themeColors();
  const { opts, state } = buildOptions(spec, container, colors);
  container.textContent = "";
  const u = new uPlot(opts, spec.data, container);
  charts.set(id, { u, spec, state, container, signature });
  resizeObserver.observe(container);
  return u;
}

// Draws every chart again from its last spec (after a theme change).
function redrawAllCharts() {
  for (const [id, c] of [...charts]) {
    destroyChart(id);
    drawChart(id, c.container, c.spec);
  }
}

function resizeAllCharts() {
  for (const c of charts.values()) {
    const width = chartWidth(c.container);
    if (Math.abs(width - c.u.width) > 1) c.u.setSize({ width, height: c.spec.height || CHART_HEIGHT });
  }
}

const resizeObserver = new ResizeObserver(() => {
  if (!printing) resizeAllCharts();
});
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redrawAllCharts);
window.addEventListener("beforeprint", () => {
  printing = true;
  resizeAllCharts();
});
window.addEventListener("afterprint", () => {
  printing = false;
  resizeAllCharts();
});

function destroyChart(id) {
  const c = charts.get(id);
  if (!c) return;
  resizeObserver.unobserve(c.container);
  c.u.destroy();
  charts.delete(id);
}
