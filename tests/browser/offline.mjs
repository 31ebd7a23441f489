// Opens each page the ICT office or an owner opens in a real headless Chromium with the network
// cut as on the closed 庁内 network: every request that is not a local file (or an inline data:
// URL) is aborted and counted. Reads what a person would see and saves a screenshot of each.
// usage: node offline.mjs <screenshot dir> <name>=<page.html> ...   -> prints a JSON summary
// per page: blocked (the URLs it asked for), failed (local files it could not load), title,
// text (characters of visible text), tables, svgs, styled (the body's font is the page's CJK font,
// not the browser default: a style sheet that did not load leaves it at the default).
import path from "node:path";
import { cutNetwork, launch } from "./chromium.mjs";

const [shots, ...pages] = process.argv.slice(2);
const browser = await launch();
const out = {};
try {
  for (const arg of pages) {
    const i = arg.indexOf("=");
    const name = arg.slice(0, i), file = arg.slice(i + 1);
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const failed = [];
    const blocked = await cutNetwork(context, (url) => url.startsWith("file://") || url.startsWith("data:")
      || url.startsWith("blob:") || url === "about:blank");
    page.on("requestfailed", (r) => { if (r.url().startsWith("file://")) failed.push(r.url()); });
    await page.goto("file://" + path.resolve(file), { waitUntil: "load" });
    await page.waitForTimeout(0);
    // dbt docs is an app: let it draw from its inlined manifest before reading it
    await page.waitForLoadState("networkidle").catch(() => {});
    const seen = await page.evaluate(() => ({
      title: document.title,
      text: (document.body?.innerText || "").trim().length,
      tables: document.querySelectorAll("table").length,
      svgs: document.querySelectorAll("svg").length,
      font: getComputedStyle(document.body).fontFamily,
    }));
    await page.screenshot({ path: path.join(shots, `offline_${name}.png`), fullPage: false });
    out[name] = { blocked, failed, ...seen };
    await context.close();
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
