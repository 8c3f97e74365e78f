// Screenshots of MLflow UI pages through the Chrome DevTools Protocol, no dependency:
//   node --experimental-websocket docs/cdp_screenshot.mjs DEVTOOLS_HTTP BASE_URL \
//        OUT.png URL WAIT_TEXT WIDTHxHEIGHT SCRIPT [OUT.png URL WAIT_TEXT WIDTHxHEIGHT SCRIPT ...]
// DEVTOOLS_HTTP: http://127.0.0.1:<port> of a Chromium started with --remote-debugging-port.
// Each page is loaded in a WIDTHxHEIGHT window, given time until WAIT_TEXT is on it (then 3 s
// for tables and plots to settle), SCRIPT (JavaScript, may be empty) is run on it, and the
// window is captured. The MLflow assistant panel (which opens itself on a first visit) is closed
// first through the app's own localStorage keys, so the screenshots show the runs.
const [devtools, base, ...shots] = process.argv.slice(2);

const targets = await (await fetch(`${devtools}/json/list`)).json();
const page = targets.find((t) => t.type === "page");
const ws = new WebSocket(page.webSocketDebuggerUrl);
await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
let nextId = 0;
const pending = new Map();
ws.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  if (msg.id && pending.has(msg.id)) {
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) reject(new Error(JSON.stringify(msg.error))); else resolve(msg.result);
  }
};
const send = (method, params = {}) => new Promise((resolve, reject) => {
  const id = ++nextId;
  pending.set(id, { resolve, reject });
  ws.send(JSON.stringify({ id, method, params }));
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const evaluate = async (expression) =>
  (await send("Runtime.evaluate", { expression, returnByValue: true })).result.value;

async function open(url, waitText, timeoutMs = 60000) {
  await send("Page.navigate", { url });
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    await sleep(500);
    const text = await evaluate("document.body ? document.body.innerText : ''");
    if (!waitText || (text && text.includes(waitText))) { await sleep(3000); return true; }
  }
  return false;
}

const resize = async (size) => {
  const [width, height] = size.split("x").map(Number);
  await send("Emulation.setDeviceMetricsOverride",
             { width, height, deviceScaleFactor: 1, mobile: false });
};
await send("Page.enable");
await resize(shots[3]);
const STEP = 5;
await open(base, "");
await evaluate(`(() => {
  localStorage.setItem("mlflow.assistant.fab.autoOpenedOnFirstLoad_v1", "true");
  for (const k of Object.keys(localStorage))
    if (k.startsWith("mlflow.assistant.panelOpen")) localStorage.setItem(k, "false");
  localStorage.setItem("mlflow.assistant.panelOpen_v1", "false");
})()`);
let failed = 0;
for (let i = 0; i + STEP - 1 < shots.length; i += STEP) {
  const [out, url, waitText, size, script] = shots.slice(i, i + STEP);
  await resize(size);
  const ok = await open(url, waitText);
  if (script) { await evaluate(script); await sleep(1500); }
  if (!ok) { console.error(`timed out waiting for "${waitText}" on ${url}`); failed += 1; }
  const { data } = await send("Page.captureScreenshot", { format: "png" });
  const fs = await import("node:fs");
  fs.writeFileSync(out, Buffer.from(data, "base64"));
  console.log(`${out}: ${url}${ok ? "" : " (incomplete)"}`);
}
ws.close();
process.exit(failed ? 1 : 0);
