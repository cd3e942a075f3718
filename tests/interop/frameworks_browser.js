'use strict';
// Chromium's own WebSocket against a server on 127.0.0.1 (headless Debian Chromium
// driven by playwright-core from tests/browser; no browser download):
//
//   node frameworks_browser.js PAGE_URL WS_URL
//
// Opens PAGE_URL (for https://, over HTTP/2 when the server offers h2: Chromium then
// opens the WebSocket on that connection with an extended CONNECT if the server allows
// it), then in the page: a WebSocket to WS_URL offering subprotocol "chat"; messages of
// 0 B, 16 B and 100 KiB (text and binary) must come back equal; then close 1000. Prints
// the page's protocol, the WebSocket's protocol and extensions, and "ok" or the failure;
// exits 1 on failure. The test certificate is accepted with --ignore-certificate-errors.
const path = require('path');
const { chromium } = require(path.join(__dirname, '../browser/node_modules/playwright-core'));

const [pageUrl, wsUrl] = process.argv.slice(2);
if (!pageUrl || !wsUrl) {
  console.error('usage: node frameworks_browser.js PAGE_URL WS_URL');
  process.exit(2);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--ignore-certificate-errors'],
    headless: true,
    timeout: 60000,
  });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    await page.goto(pageUrl);
    const nav = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
    console.log(`page ${pageUrl} over ${nav}`);
    const result = await page.evaluate(async (url) => {
      const ws = new WebSocket(url, ['chat']);
      ws.binaryType = 'arraybuffer';
      const inbox = [];
      let waiting = null;
      const closed = new Promise((resolve) => { ws.onclose = resolve; });
      ws.onmessage = (e) => { inbox.push(e.data); if (waiting) { waiting(); waiting = null; } };
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('the WebSocket failed to open'));
      });
      const next = async () => {
        while (!inbox.length) await new Promise((r) => { waiting = r; });
        return inbox.shift();
      };
      const bytes = (n) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 7919) >> 3; return b; };
      const cases = ['', 'sixteen bytes ..', 'x'.repeat(100 * 1024), bytes(0), bytes(16), bytes(100 * 1024)];
      for (const m of cases) ws.send(m);
      for (const m of cases) {
        const back = await next();
        const same = typeof m === 'string'
          ? back === m
          : back instanceof ArrayBuffer && back.byteLength === m.length && new Uint8Array(back).every((v, i) => v === m[i]);
        if (!same) throw new Error(`a ${typeof m === 'string' ? 'text' : 'binary'} message of ${m.length} B came back different`);
      }
      ws.close(1000, 'done');
      const c = await closed;
      return { protocol: ws.protocol, extensions: ws.extensions, code: c.code, wasClean: c.wasClean, count: cases.length };
    }, wsUrl);
    console.log(`websocket ${wsUrl}: protocol=${JSON.stringify(result.protocol)} extensions=${JSON.stringify(result.extensions)}`);
    if (result.code !== 1000 || !result.wasClean) throw new Error(`closed with ${result.code}, clean: ${result.wasClean}`);
    console.log(`ok ${result.count} messages echoed (0 B, 16 B, 100 KiB; text and binary), close 1000 clean`);
    return 0;
  } finally {
    await browser.close();
  }
}

main().then((rc) => process.exit(rc), (e) => { console.log(`FAIL ${e.message}`); process.exit(1); });
