/**
 * The picture of a run (`npm run simulate -- --html FILE`, simulator/html.ts) as a browser draws it:
 * two shipped scenarios run in-process, their pages opened from disk in headless Chromium
 * (playwright-core driving Debian's chromium package), and what is drawn compared with the report:
 * lanes, bars, labels, the spot notice, the budget walls, the verdict; no network request at all.
 * Needs /usr/bin/chromium (or CHROMIUM_PATH): skipped without it, except in CI where it fails.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../simulator/html';
import { buildReport, type SimulationReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { loadScenario } from '../../simulator/scenario';

const ROOT = path.join(__dirname, '..', '..');
const SCENARIOS = path.join(ROOT, 'scenarios');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const RESULTS = path.join(ROOT, 'test-results');

if (!HAVE_CHROMIUM && process.env.CI) {
  describe('the run picture in Chromium', () => {
    it('has a Chromium to run in', () => {
      throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    });
  });
}

const skipped = HAVE_CHROMIUM ? '' : ` (skipped: no Chromium at ${CHROMIUM}; apt-get install chromium or set CHROMIUM_PATH)`;

describe.skipIf(!HAVE_CHROMIUM)(`the run picture in Chromium${skipped}`, () => {
  let dir: string;
  let browser: Browser;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'run-picture-'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a shipped scenario, writes its picture and opens it; every request the page makes is kept. */
  async function open(name: string): Promise<{ report: SimulationReport; page: Page; requests: string[]; url: string }> {
    const report = buildReport(await runSimulation(loadScenario(path.join(SCENARIOS, `${name}.json`)), { baseDir: SCENARIOS }));
    const file = path.join(dir, `${name}.html`);
    writeFileSync(file, renderHtml(report));
    const page = await browser.newPage({ viewport: { width: 1560, height: 900 } });
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    const url = pathToFileURL(file).href;
    await page.goto(url, { waitUntil: 'load' });
    return { report, page, requests, url };
  }

  const attr = async (page: Page, selector: string, name: string) => Promise.all((await page.locator(selector).all()).map((l) => l.getAttribute(name)));

  it('seed 001: a lane per phase, a bar per launch, labels, the notice on the interrupted bar, budget walls, the verdict, no network', async () => {
    // Prepare
    const { report, page, requests, url } = await open('seed-001-dataphase1-reclaimed');
    const launches = report.phases.flatMap((p) => p.launches);
    const interrupted = launches.find((l) => l.outcome === 'interrupted')!;

    // Act
    const lanes = await attr(page, 'g.lane', 'data-phase');
    const bars = await Promise.all(
      (await page.locator('rect.bar').all()).map(async (bar) => ({
        outcome: await bar.getAttribute('data-outcome'),
        market: await bar.getAttribute('data-market'),
        pool: await bar.getAttribute('data-pool'),
        attempt: Number(await bar.getAttribute('data-attempt')),
      })),
    );
    const labels = await page.locator('svg.timeline text.bar-label').allTextContents();
    const noticeBox = await page.locator('g.lane[data-phase="DataPhase1"] .notice').boundingBox();
    const interruptedBox = await page.locator(`g.lane[data-phase="DataPhase1"] rect.bar[data-outcome="interrupted"]`).boundingBox();
    const verdict = await page.locator('#verdict').textContent();
    const shot = path.join(dir, 'run-picture.png');
    await page.screenshot({ path: shot, fullPage: true });
    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: path.join(RESULTS, 'run-picture.png'), fullPage: true });

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(lanes).toEqual(report.phases.map((p) => p.name));
    expect(bars).toEqual(launches.map((l) => ({ outcome: l.outcome, market: l.market, pool: l.pool, attempt: l.attempt })));
    for (const l of launches) expect(labels).toContain(`${l.pool} #${l.attempt}`);
    expect(await page.locator('svg.timeline text.bar-label').first().isVisible()).toBe(true);
    // The notice marker sits on the interrupted bar, before its end.
    expect(interrupted.noticeAt).not.toBeNull();
    expect(await page.locator('svg.timeline .notice').count()).toBe(launches.filter((l) => l.noticeAt !== null).length);
    expect(noticeBox!.x + noticeBox!.width / 2).toBeGreaterThan(interruptedBox!.x);
    expect(noticeBox!.x + noticeBox!.width / 2).toBeLessThan(interruptedBox!.x + interruptedBox!.width);
    expect(await page.locator('svg.timeline .interruption').count()).toBe(1);
    await expectBudgetWalls(page, report);
    expect(verdict).toContain('SUCCEEDED');
    expect(verdict).toContain(report.scenario);
    expect(await page.locator('#total-cost').textContent()).toContain(report.costUsd.toFixed(4));
    for (const phase of report.phases) expect(await page.locator(`.phase-cost[data-phase="${phase.name}"]`).textContent()).toContain(phase.costUsd.toFixed(4));
    expect(requests).toEqual([url]);
    expect(statSync(shot).size).toBeGreaterThan(0);
    expect(statSync(path.join(RESULTS, 'run-picture.png')).size).toBeGreaterThan(0);
    await page.close();
  });

  it('seed 003 (crypto-fanout): a lane per shard, each shard bar in its lane, a budget wall per shard execution', async () => {
    // Prepare
    const { report, page, requests, url } = await open('crypto-fanout');
    const sharded = report.phases.find((p) => p.shards)!;

    // Act
    const lanes = await Promise.all((await page.locator('g.lane').all()).map(async (l) => `${await l.getAttribute('data-phase')}/${(await l.getAttribute('data-shard')) ?? ''}`));
    const perShard = await Promise.all(sharded.shards!.map((s) => page.locator(`g.lane[data-phase="${sharded.name}"][data-shard="${s.name}"] rect.bar`).count()));
    await page.screenshot({ path: path.join(dir, 'run-picture-sharded.png'), fullPage: true });

    // Assess
    expect(lanes).toEqual(report.phases.flatMap((p) => (p.shards ? p.shards.map((s) => `${p.name}/${s.name}`) : [`${p.name}/`])));
    expect(perShard).toEqual(sharded.shards!.map((s) => sharded.launches.filter((l) => l.shard === s.name).length));
    expect(await page.locator('rect.bar').count()).toBe(report.phases.reduce((n, p) => n + p.launches.length, 0));
    expect(await page.locator(`rect.bar[data-outcome="interrupted"]`).getAttribute('data-market')).toBe('spot');
    await expectBudgetWalls(page, report);
    expect(requests).toEqual([url]);
    await page.close();
  });
});

/** A wall per phase execution that launched (per shard execution in a sharded phase), right of its lane's first bar's start. */
async function expectBudgetWalls(page: Page, report: SimulationReport): Promise<void> {
  for (const phase of report.phases) {
    const groups = phase.shards ? phase.shards.map((s) => ({ selector: `[data-phase="${phase.name}"][data-shard="${s.name}"]`, executions: s.executions })) : [{ selector: `[data-phase="${phase.name}"]`, executions: phase.runs.map((r) => r.execution) }];
    for (const { selector, executions } of groups) {
      const launched = executions.filter((e) => phase.launches.some((l) => l.execution === e));
      const walls = page.locator(`line.budget-wall${selector}`);
      expect(await walls.count(), selector).toBe(launched.length);
      const wall = await walls.first().boundingBox();
      const bar = await page.locator(`g.lane${selector} rect.bar`).first().boundingBox();
      expect(wall!.x, selector).toBeGreaterThan(bar!.x);
    }
  }
}
