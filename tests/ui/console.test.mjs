// The console end to end: a real `skillhost run` of the sample project on
// loopback (in-memory store, a bearer token), its /ui in headless Chromium
// driven by Playwright. Sends a message from the page and watches the
// booking workflow (BookingFlow → BookingDeskFlow → BookingFlow) in the
// conversation, the run tree, the instance's state and the flow graph.
//
//   SKILLHOST_BIN=target/debug/skillhost node tests/ui/console.test.mjs
//
// Screenshots go to tests/ui/artifacts/ (gitignored); with
// UPDATE_SCREENSHOT=1 the README's docs/console.png is written too.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });
const bin = process.env.SKILLHOST_BIN || join(repo, 'target', 'debug', 'skillhost');
const token = randomBytes(12).toString('hex');

function startServer() {
  const child = spawn(bin, ['run', join(repo, 'flows'), '--no-watch', '--store', 'memory',
    '--listen', '127.0.0.1:0', '--token', token], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      log += chunk;
      const m = log.match(/^listening on (\S+)$/m);
      if (m) resolve({ child, url: m[1], log: () => log });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => { log += c; });
    child.on('exit', (code) => reject(new Error(`skillhost run exited (${code}):\n${log}`)));
    setTimeout(() => reject(new Error(`skillhost run did not start in 5 minutes:\n${log}`)), 300_000);
  });
}

const step = (name) => console.log(`ui-test: ${name}`);

const server = await startServer();
step(`server at ${server.url}`);
const profile = mkdtempSync(join(tmpdir(), 'skillhost-ui-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Without the background-networking flags Chromium reaches for the
  // network at start, which a closed network makes it hang on.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 800 },
});
const problems = [];
let failed = false;
try {
  const page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()} for ${r.url()}`); });
  // Nothing may come from anywhere but the host itself.
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url)) problems.push(`request off the host: ${r.url()}`);
  });
  const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

  // Without the token: asked for it.
  const refused = await page.goto(`${server.url}/ui`);
  assert.equal(refused.status(), 401);
  await page.fill('input[name=token]', token);
  await page.click('form button');
  await page.waitForURL(`${server.url}/ui`);
  await page.waitForSelector('#status.ok');
  // The 401 of the first visit was the point; from here on, no failures.
  problems.length = 0;
  step('opened /ui with the token');

  // Conversations: send a message, see the reply and the run tree.
  await page.click('button[data-tab=chat]');
  await page.fill('#say-text', 'book a table for two');
  await page.press('#say-text', 'Enter');
  const reply = page.locator('.turn.agent_message', { hasText: 'Booked a table for two, reference BK-' });
  await reply.waitFor();
  await page.locator('.turn.user_message', { hasText: 'book a table for two' }).waitFor();
  const chatTree = page.locator('#chat-tree');
  await page.waitForFunction(() => {
    const t = document.getElementById('chat-tree').textContent;
    return t.includes('events sent:') && !t.includes('still running');
  });
  const sent = await chatTree.textContent();
  for (const line of [
    /^user_message [0-9a-f]{8} \(matched 1\)$/m,
    /^└─ BookingFlow\/BookingSkill \[queue\] ok in [\d.]+(ns|µs|ms|s)$/m,
    /^ {3}└─ booking_requested [0-9a-f]{8} \(matched 1\)$/m,
    /^ {6}└─ BookingDeskFlow\/DeskSkill \[queue\] ok in /m,
    /^ {9}└─ booking_confirmed [0-9a-f]{8} \(matched 1\)$/m,
    /^ {12}└─ BookingFlow\/BookingSkill \[queue\] ok in /m,
    /^ {2}web <- BookingFlow\/BookingSkill: Booked a table for two, reference BK-/m,
  ]) assert.match(sent, line);
  await shot('conversation');
  step('sent a message: reply and run tree shown');

  // Any event, with arguments, from the same box.
  await page.fill('#say-text', '/event echo text=hello');
  await page.press('#say-text', 'Enter');
  await page.locator('.turn.agent_message', { hasText: 'echo: hello' }).waitFor();
  await chatTree.filter({ hasText: 'EchoFlow/EchoSkill [queue] ok' }).waitFor();
  step('sent /event echo text=hello');

  // Live events: both listed; the booking's tree on a click.
  await page.click('button[data-tab=events]');
  const rows = page.locator('#event-rows tr');
  await rows.filter({ hasText: 'echo' }).waitFor();
  const booking = rows.filter({ hasText: 'user_message' });
  await booking.filter({ hasText: 'settled' }).waitFor();
  await page.fill('#event-filter', 'echo');
  await booking.waitFor({ state: 'hidden' });
  await page.fill('#event-filter', '');
  await booking.click();
  const tree = page.locator('#event-tree');
  await tree.filter({ hasText: 'booking_confirmed' }).waitFor();
  assert.equal(await tree.textContent(), sent, 'the event view shows the tree the chat did');
  await shot('events');
  step('event list and run tree');

  // Instances: the user's BookingFlow state, value and default.
  await page.click('button[data-tab=instances]');
  await page.locator('#flow-list li[data-flow=BookingFlow]').click();
  const status = page.locator('#state-table tr[data-field=booking_status]');
  await status.filter({ hasText: 'confirmed' }).waitFor();
  assert.deepEqual(await status.locator('td').allTextContents(), ['booking_status', 'confirmed', '"none"', 'user']);
  await page.locator('#instance-detail', { hasText: 'Idle' }).waitFor();
  await shot('instances');
  step('instance state');

  // The flow graph: the workflow's chain, with the sends that were seen.
  await page.click('button[data-tab=graph]');
  await page.locator('#graph-svg').waitFor();
  for (const node of ['e:user_message', 's:BookingFlow/BookingSkill', 'e:booking_requested',
    's:BookingDeskFlow/DeskSkill', 'e:booking_confirmed']) {
    await page.locator(`#graph-svg g[data-node="${node}"]`).waitFor();
  }
  assert.equal(await page.locator('#graph-svg path.edge.send').count(), 2, 'the two sends seen are drawn');
  assert.ok(await page.locator('#graph-svg path.edge.sub').count() >= 20, 'every subscription is drawn');
  await shot('graph');
  step('flow graph');

  // Health: charts from /metrics.
  await page.click('button[data-tab=health]');
  await page.locator('figure.chart[data-chart="events/s"]').waitFor();
  assert.ok(await page.locator('figure.chart').count() >= 8);
  await shot('health');
  step('health charts');

  // The README's picture: the event list with a run tree.
  await page.click('button[data-tab=events]');
  await tree.filter({ hasText: 'booking_confirmed' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'console.png') });
  if (process.env.UPDATE_SCREENSHOT === '1') {
    copyFileSync(join(artifacts, 'console.png'), join(repo, 'docs', 'console.png'));
  }
  assert.deepEqual(problems, []);
  step('ok');
} catch (e) {
  failed = true;
  console.error(e);
  console.error(problems.join('\n'));
  console.error(`server log:\n${server.log()}`);
  try {
    await context.pages()[0]?.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true });
  } catch { /* the browser is gone */ }
} finally {
  await context.close();
  server.child.kill();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
