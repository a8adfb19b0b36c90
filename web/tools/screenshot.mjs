// node screenshot.mjs REPORT.html OUT.png [--width 1440] [--height 900] [--dark] [--full]
// A screenshot of a report at laptop size (docs/report.png is made with it).
import { launch } from "./browser.mjs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const [input, output] = args.filter((a, i) => !a.startsWith("--") && !["--width", "--height"].includes(args[i - 1]));
if (!input || !output) {
  console.error("usage: node screenshot.mjs REPORT.html OUT.png [--width W] [--height H] [--dark] [--full]");
  process.exit(2);
}
const browser = await launch({ width: Number(opt("--width", 1440)), height: Number(opt("--height", 900)),
  colorScheme: args.includes("--dark") ? "dark" : "light", offline: true });
try {
  const page = await browser.context.newPage();
  await page.goto(pathToFileURL(resolve(input)).href, { waitUntil: "load" });
  await page.waitForSelector(".uplot canvas");
  await page.waitForTimeout(300);
  await page.screenshot({ path: output, fullPage: args.includes("--full") });
} finally {
  await browser.close();
}
