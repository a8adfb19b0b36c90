// Opens a report or the live dashboard in headless chromium and prints what a reader would
// see, as JSON on stdout, for test/integration/test_report_browser.py:
//   node inspect-page.mjs URL [--offline] [--live] [--max-seconds N] [--after-end-ms N] [--wait CSS]
// { console_errors, page_errors, requests (other than file:, data:, blob:), failed_requests,
//   charts: [{id, drawn, points}], values: [{k, text, scenario, stage}], title, status,
//   live: {rps, statuses, legend_after_end} }
import { launch } from "./browser.mjs";

const args = process.argv.slice(2);
const url = args[0];
const flag = (name) => args.includes(name);
const opt = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const live = flag("--live");

const result = { console_errors: [], page_errors: [], requests: [], failed_requests: [], charts: [], values: [] };
const browser = await launch({ offline: flag("--offline") });
try {
  const page = await browser.context.newPage();
  page.on("console", (m) => { if (m.type() === "error") result.console_errors.push(m.text()); });
  page.on("pageerror", (e) => result.page_errors.push(String(e && e.message || e)));
  page.on("request", (r) => { if (!/^(file|data|blob):/.test(r.url())) result.requests.push(r.url()); });
  page.on("requestfailed", (r) => result.failed_requests.push(`${r.url()}: ${r.failure() && r.failure().errorText}`));
  await page.goto(url, { waitUntil: "load" });
  // A report or the dashboard draws its tiles first; other pages name what to wait for.
  const ready = args.includes("--wait") ? args[args.indexOf("--wait") + 1] : "#slot-tiles .tile";
  await page.waitForFunction((sel) => document.querySelector(sel), ready, { timeout: 15000 });

  if (live) {
    // Sample the req/s tile and the status until the run ends, then stay after the server left.
    result.live = { rps: [], statuses: [] };
    const deadline = Date.now() + opt("--max-seconds", 30) * 1000;
    while (Date.now() < deadline) {
      const s = await page.evaluate(() => ({
        rps: (document.querySelector('[data-k="live-rps"]') || {}).textContent || "",
        status: document.getElementById("status").textContent,
      }));
      if (result.live.rps[result.live.rps.length - 1] !== s.rps) result.live.rps.push(s.rps);
      if (result.live.statuses[result.live.statuses.length - 1] !== s.status) result.live.statuses.push(s.status);
      if (s.status.includes("finished")) break;
      await page.waitForTimeout(200);
    }
    await page.waitForTimeout(opt("--after-end-ms", 0));
    // The page still answers: hovering a chart fills its legend.
    const box = await page.locator("#chart-rps .u-over").boundingBox();
    if (box) await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await page.waitForTimeout(200);
    result.live.legend_after_end = await page.evaluate(() =>
      [...document.querySelectorAll("#chart-rps .u-legend .u-value")].map((e) => e.textContent));
  } else {
    await page.waitForTimeout(300);
  }

  Object.assign(result, await page.evaluate(() => {
    const drawn = (canvas) => {
      if (!canvas || !canvas.width || !canvas.height) return false;
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
      return false;
    };
    return {
      title: document.title,
      status: document.getElementById("status").textContent,
      charts: [...document.querySelectorAll(".chart")].filter((c) => !c.hidden)
        .map((c) => ({ id: c.id, drawn: drawn(c.querySelector("canvas")), points: Number(c.dataset.points || 0) })),
      values: [...document.querySelectorAll("[data-k]")].map((e) => {
        const row = e.closest("tr");
        return { k: e.dataset.k, text: e.textContent, scenario: row && row.dataset.scenario || null,
          stage: row && row.dataset.stage != null ? Number(row.dataset.stage) : null };
      }),
    };
  }));
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result, null, 1) + "\n");
