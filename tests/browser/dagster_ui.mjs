// The Dagster UI as the ICT office opens it on the closed 庁内 network: every request that does
// not go to the UI's own loopback address is aborted and counted. Opens the asset page of one gate
// (its Japanese description, its 所管課 owner) and the runs page, and saves a screenshot of each.
// usage: node dagster_ui.mjs <base url> <screenshot dir> <asset path, e.g. readiness/gate_jumin> [text]
//   text: wait (up to 60 s) for it on the asset page: the UI fills the description in after the
//   page has loaded, later still on a loaded machine
//   -> prints JSON per page: blocked (URLs outside the UI), text (visible text)
import path from "node:path";
import { cutNetwork, launch } from "./chromium.mjs";

const [base, shots, asset, awaited] = process.argv.slice(2);
const browser = await launch();
const out = {};
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const blocked = await cutNetwork(context, (url) => url.startsWith(base) || url.startsWith("data:")
    || url.startsWith("blob:"));
  const page = await context.newPage();
  for (const [name, url] of [["gate", `${base}/assets/${asset}`], ["runs", `${base}/runs`]]) {
    const before = blocked.length;
    await page.goto(url, { waitUntil: "load" });
    await page.waitForLoadState("networkidle").catch(() => {});
    await page.waitForTimeout(2000);
    if (name === "gate" && awaited) {
      await page.getByText(awaited).first().waitFor({ timeout: 60000 }).catch(() => {});
    }
    // Dagster's own first-visit dialog (community sign-up) covers the page: close it as a user does
    const skip = page.getByRole("button", { name: "Skip" });
    if (await skip.count()) { await skip.first().click(); await page.waitForTimeout(500); }
    const text = await page.evaluate(() => document.body?.innerText || "");
    await page.screenshot({ path: path.join(shots, `dagster_${name}.png`), fullPage: false });
    out[name] = { blocked: blocked.slice(before), text };
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
