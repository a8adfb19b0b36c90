// Launches Debian's chromium through playwright-core for the report tests and screenshots.
// Nothing is downloaded: the browser is /usr/bin/chromium (PELT_CHROMIUM overrides it), run
// headless with a fresh profile and with its background networking switched off.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CHROMIUM = process.env.PELT_CHROMIUM || "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

// Returns { context, close } for a persistent context in a fresh --user-data-dir.
export async function launch({ width = 1366, height = 900, colorScheme = "light", offline = false } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "pelt-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width, height },
    colorScheme, offline, timeout: 60000,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
