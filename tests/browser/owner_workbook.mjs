// Opens an owner workbook's HTML twin in a real headless Chromium at 1280 px, as an owner would,
// with every request that is not a local file blocked (the 庁内 network is closed), and measures
// each table column: none may be narrower than 4 characters of the page's font.
// usage: node owner_workbook.mjs <page.html> <screenshot.png>   -> prints a JSON summary
import { cutNetwork, launch } from "./chromium.mjs";

const [page_path, shot] = process.argv.slice(2);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const blocked = await cutNetwork(page);
  const [file, anchor] = page_path.split("#");
  await page.goto("file://" + file);
  if (anchor) await page.$eval("#" + anchor, (e) => e.scrollIntoView());
  const tables = await page.$$eval("table", (ts) => ts.map((t) => {
    const fs = parseFloat(getComputedStyle(t).fontSize);
    const head = t.querySelector("tr");
    const widths = [...head.children].map((c) => c.getBoundingClientRect().width);
    return { heading: t.closest("div")?.previousElementSibling?.textContent || "", font_px: fs,
             columns: widths.length, narrowest_px: Math.min(...widths),
             narrowest_chars: Math.min(...widths) / fs };
  }));
  const images = await page.$$eval("td img", (imgs) => imgs.map((i) => ({ w: i.naturalWidth, ok: i.complete })));
  await page.screenshot({ path: shot, fullPage: false });
  const title = await page.title();
  console.log(JSON.stringify({ title, blocked, tables, images }));
} finally {
  await browser.close();
}
