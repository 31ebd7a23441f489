// Opens the readiness overview in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), reads what a person would see, and saves a screenshot.
// usage: node overview.mjs <page.html> <screenshot.png>   -> prints a JSON summary
import { launch } from "./chromium.mjs";

const [page_path, shot] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
  await page.goto("file://" + page_path);
  const rows = await page.$$eval("#systems tbody tr", (trs) => trs.map((tr) => {
    const badge = tr.querySelector(".badge");
    const r = badge.getBoundingClientRect();
    return {
      system: tr.dataset.system, status: tr.dataset.status, label: badge.textContent,
      colour: getComputedStyle(badge).backgroundColor, visible: r.width > 0 && r.height > 0,
      links: [...tr.querySelectorAll("a")].map((a) => a.getAttribute("href")),
    };
  }));
  const title = await page.title();
  const h1 = await page.$eval("h1", (e) => e.textContent);
  const trendBars = await page.$$eval("svg.trend rect", (r) => r.length);
  // the Japanese text is drawn with a CJK font, not as empty boxes: its width differs from a
  // string of the same length in a Latin font
  const cjkWidth = await page.$eval("h1", (e) => e.getBoundingClientRect().width);
  await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({ title, h1, rows, trendBars, cjkWidth }));
} finally {
  await browser.close();
}
