// Debian's headless Chromium driven by playwright-core (installed with the project's npm
// packages under node/), launched the way this closed machine needs: no sandbox as root, no
// background network. Shared by the page tests.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.resolve(process.env.KIKAN_NODE_DIR || "node", "package.json"));
const { chromium } = require("playwright-core");

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
}

// The closed 庁内 network: every request of ``target`` (a page or a context) that ``allowed``
// refuses is aborted and recorded; returns the list the refused URLs are pushed to.
export async function cutNetwork(target, allowed = (url) => url.startsWith("file://") || url.startsWith("data:")) {
  const blocked = [];
  await target.route("**/*", (route) => {
    const url = route.request().url();
    if (allowed(url)) return route.continue();
    blocked.push(url);
    return route.abort("internetdisconnected");
  });
  return blocked;
}
