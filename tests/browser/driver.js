'use strict';
// Drives Debian's Chromium headless with playwright-core (no browser download):
//   node driver.js tests BASE_URL [ECHO_PORT]      run harness.html, print each test, exit 1 on failure
//   node driver.js screenshot BASE_URL OUT.png     open npm/examples/browser.html, screenshot it,
//                                                   check the result it renders
//   node driver.js autobahn BASE_URL WS_URL AGENT  drive Autobahn's fuzzing server from the page
// Environment: CHROMIUM (default /usr/bin/chromium), BROWSER_TEST_TIMEOUT (ms, default 120000).
const { chromium } = require('playwright-core');

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const LIMIT = Number(process.env.BROWSER_TEST_TIMEOUT || 120000);

async function withPage(fn) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ARGS,
    headless: true,
    timeout: 60000,
  });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || process.env.BROWSER_TEST_VERBOSE) console.error(`console.${m.type()}: ${m.text()}`);
    });
    return await fn(page);
  } finally {
    await browser.close();
  }
}

async function runTests(base, echoPort) {
  const url = new URL('tests/browser/harness.html', base);
  if (echoPort) url.searchParams.set('echo', echoPort);
  if (process.env.BROWSER_TEST_ONLY) url.searchParams.set('only', process.env.BROWSER_TEST_ONLY);
  return withPage(async (page) => {
    await page.goto(url.href);
    await page.waitForFunction(() => window.__results && window.__results.done, null, { timeout: LIMIT });
    const res = await page.evaluate(() => window.__results);
    if (res.fatal) {
      console.log(`FATAL ${res.fatal}`);
      return 1;
    }
    let failed = 0;
    for (const r of res.results) {
      console.log(`${r.ok ? 'PASS' : 'FAIL'} ${r.name} (${r.ms} ms)${r.error ? `: ${r.error}` : ''}`);
      if (!r.ok) failed += 1;
    }
    console.log(`browser: ${res.results.length - failed} passed, ${failed} failed`);
    if (!res.results.length) {
      console.log('browser: no test ran');
      return 1;
    }
    return failed ? 1 : 0;
  });
}

async function screenshot(base, out) {
  const url = new URL('npm/examples/browser.html', base);
  return withPage(async (page) => {
    await page.setViewportSize({ width: 900, height: 600 });
    await page.goto(url.href);
    await page.waitForFunction(() => document.body.dataset.done === '1', null, { timeout: LIMIT });
    await page.screenshot({ path: out, fullPage: true });
    const text = await page.locator('#result').innerText();
    // The pixels of the rendered result box: its success colours (green text #060 on #efe)
    // must be what the screenshot shows, not the error colours (#a00 on #fee).
    const png = await page.locator('#result').screenshot({ path: out.replace(/\.png$/, '-result.png') });
    const px = await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const near = (i, r, gg, b) => Math.abs(d[i] - r) < 24 && Math.abs(d[i + 1] - gg) < 24 && Math.abs(d[i + 2] - b) < 24;
      let okBg = 0; let okInk = 0; let errBg = 0; let errInk = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (near(i, 0xee, 0xff, 0xee)) okBg += 1;
        else if (near(i, 0x00, 0x66, 0x00)) okInk += 1;
        else if (near(i, 0xff, 0xee, 0xee)) errBg += 1;
        else if (near(i, 0xaa, 0x00, 0x00)) errInk += 1;
      }
      return { total: d.length / 4, width: c.width, height: c.height, okBg, okInk, errBg, errInk };
    }, png.toString('base64'));
    console.log(`screenshot ${out}; #result says ${JSON.stringify(text)}; its pixels: ${JSON.stringify(px)}`);
    const ok = /^OK: /.test(text) && px.total > 1000 && px.okBg > px.total * 0.5 && px.okInk > px.total * 0.01
      && px.errBg + px.errInk < px.total * 0.01;
    console.log(`${ok ? 'PASS' : 'FAIL'} example page renders its result (screenshot check)`);
    return ok ? 0 : 1;
  });
}

async function autobahn(base, wsUrl, agent) {
  const port = new URL(wsUrl).port;
  const url = new URL('tests/browser/autobahn.html', base);
  url.searchParams.set('port', port);
  url.searchParams.set('agent', agent);
  return withPage(async (page) => {
    page.on('console', (m) => console.error(m.text()));
    await page.goto(url.href);
    await page.waitForFunction(() => window.__autobahn && window.__autobahn.done, null, { timeout: LIMIT, polling: 1000 });
    const res = await page.evaluate(() => window.__autobahn);
    console.error(`autobahn page: ${JSON.stringify(res)}`);
    return res.error ? 1 : 0;
  });
}

async function main() {
  const [mode, ...rest] = process.argv.slice(2);
  let rc;
  if (mode === 'tests') rc = await runTests(rest[0], rest[1]);
  else if (mode === 'screenshot') rc = await screenshot(rest[0], rest[1]);
  else if (mode === 'autobahn') rc = await autobahn(rest[0], rest[1], rest[2]);
  else throw new Error('usage: driver.js tests|screenshot|autobahn ...');
  process.exit(rc);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
