// Opens the readiness overview in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), with every request that is not a local file blocked and counted (the 庁内
// network is closed), reads what a person would see, and saves a screenshot.
// usage: node overview.mjs <page.html> <screenshot.png>   -> prints a JSON summary
import { cutNetwork, launch } from "./chromium.mjs";

const [page_path, shot] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
  const blocked = await cutNetwork(page);
  await page.goto("file://" + page_path);
  const rows = await page.$$eval("#systems tbody tr", (trs) => trs.map((tr) => {
    const badge = tr.querySelector(".badge");
    const r = badge.getBoundingClientRect();
    const chart = tr.querySelector("td.chart svg");
    return {
      system: tr.dataset.system, status: tr.dataset.status, label: badge.textContent,
      colour: getComputedStyle(badge).backgroundColor, visible: r.width > 0 && r.height > 0,
      links: [...tr.querySelectorAll("a")].map((a) => a.getAttribute("href")),
      diff: [...tr.querySelectorAll("td.diff li")].map((li) => li.dataset.figure),
      chart: chart ? chart.getBoundingClientRect().width : 0,
    };
  }));
  const title = await page.title();
  const h1 = await page.$eval("h1", (e) => e.textContent);
  // the trend chart (Altair, rendered to SVG by vl-convert): its bars, its axis and legend texts
  const trend = await page.$$eval("figure.trend svg", (svgs) => svgs.map((s) => ({
    width: s.getBoundingClientRect().width,
    bars: s.querySelectorAll("path[aria-roledescription='bar'], g.mark-rect path").length,
    texts: [...s.querySelectorAll("text")].map((t) => t.textContent),
  })));
  const nav = await page.$$eval("nav a", (as) => as.map((a) => ({ id: a.id, href: a.getAttribute("href") })));
  // the Japanese text is drawn with a CJK font, not as empty boxes: its width differs from a
  // string of the same length in a Latin font
  const cjkWidth = await page.$eval("h1", (e) => e.getBoundingClientRect().width);
  await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({ title, h1, rows, trend, nav, cjkWidth, blocked }));
} finally {
  await browser.close();
}
