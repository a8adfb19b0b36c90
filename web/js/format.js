// Number and time formatting, and the decoder of pelt's encoded latency histograms.
// Counts are always exact ("12,777"); rates, durations and percentages are rounded.
"use strict";

const DASH = "\u2014";
const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function isNum(x) {
  return typeof x === "number" && Number.isFinite(x);
}

// An exact count with thousands separators: 1234567 -> "1,234,567".
function fmtCount(n) {
  return isNum(n) ? numberFormat.format(Math.round(n)) : DASH;
}

// A per-second rate: three significant digits below 1000, whole numbers above.
function fmtRate(x, unit = "/s") {
  if (!isNum(x)) return DASH;
  const a = Math.abs(x);
  const digits = a >= 100 || a === 0 ? 0 : a >= 10 ? 1 : 2;
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) + unit;
}

// A plain number for an axis tick: whole numbers grouped, others with up to two decimals.
function fmtTick(x) {
  if (!isNum(x)) return "";
  return Number.isInteger(x) ? fmtCount(x) : x.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

// Milliseconds as a latency: 850µs, 4.25ms, 42.5ms, 667ms, 1.25s, 2m 5s.
function fmtMs(ms) {
  if (!isNum(ms)) return DASH;
  const a = Math.abs(ms);
  if (a === 0) return "0ms";
  if (a < 1) return (ms * 1000).toFixed(0) + "\u00b5s";
  if (a < 10) return ms.toFixed(2) + "ms";
  if (a < 100) return ms.toFixed(1) + "ms";
  if (a < 1000) return ms.toFixed(0) + "ms";
  if (a < 60000) return (ms / 1000).toFixed(2) + "s";
  return fmtDuration(ms / 1000);
}

// A fraction 0..1 as a percentage: 0.0412 -> "4.12%".
function fmtPct(x) {
  if (!isNum(x)) return DASH;
  if (x === 0) return "0%";
  if (Math.abs(x) < 0.0001) return "<0.01%";
  return (x * 100).toFixed(2) + "%";
}

// Bytes with binary units: 1536 -> "1.50 KiB".
function fmtBytes(n) {
  if (!isNum(n)) return DASH;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(n)} B` : `${n.toFixed(2)} ${units[i]}`;
}

// A length of time in seconds: 42.4 -> "42.4s", 61 -> "1m 1s", 3725 -> "1h 2m 5s".
function fmtDuration(s) {
  if (!isNum(s)) return DASH;
  if (s < 60) return (s < 10 ? s.toFixed(1) : s.toFixed(s % 1 ? 1 : 0)) + "s";
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h ? `${h}h ${m}m ${sec}s` : `${m}m ${sec}s`;
}

// Run time on a chart axis: 75 -> "1:15", 3725 -> "1:02:05".
function fmtClock(s) {
  if (!isNum(s)) return "";
  const neg = s < 0;
  let t = Math.round(Math.abs(s));
  const h = Math.floor(t / 3600);
  t %= 3600;
  const m = Math.floor(t / 60);
  const sec = String(t % 60).padStart(2, "0");
  const text = h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  return neg ? "-" + text : text;
}

// An ISO-8601 time as "2025-12-06 05:46:40 UTC" (UTC keeps printed reports unambiguous).
function fmtTimestamp(iso) {
  if (!iso) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
}

// Decodes "h1 <count> <min> <max> <overflow> <sum> <sum_sq> v:c,v:c,..." (values in µs).
// Returns null for an empty or malformed text.
function decodeHistogram(text) {
  if (typeof text !== "string" || !text.startsWith("h1 ")) return null;
  const parts = text.trim().split(" ");
  if (parts.length < 7) return null;
  const count = Number(parts[1]);
  const hist = { count, min: Number(parts[2]), max: Number(parts[3]), sum: Number(parts[5]), buckets: [] };
  if (!(count > 0)) return null;
  for (const pair of (parts[7] || "").split(",")) {
    const colon = pair.indexOf(":");
    if (colon < 0) continue;
    const v = Number(pair.slice(0, colon));
    const c = Number(pair.slice(colon + 1));
    if (isNum(v) && c > 0) hist.buckets.push([v, c]);
  }
  return hist.buckets.length ? hist : null;
}

// Nearest-rank percentile of a decoded histogram, in µs (min for 0, max for 100).
function histPercentile(hist, p) {
  if (!hist) return null;
  if (p <= 0) return hist.min;
  if (p >= 100) return hist.max;
  const rank = Math.ceil((p / 100) * hist.count);
  let seen = 0;
  for (const [v, c] of hist.buckets) {
    seen += c;
    if (seen >= rank) return Math.min(Math.max(v, hist.min), hist.max);
  }
  return hist.max;
}
