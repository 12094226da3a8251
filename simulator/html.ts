/**
 * A picture of a simulated run, as one self-contained HTML page (inline CSS and SVG, no script, no
 * font, image or stylesheet fetched): one lane per phase (per shard for a sharded phase) on a shared
 * time axis, one bar per attempt coloured by its outcome and hatched when it ran on-demand, spot's
 * notices and interruptions marked on the bars, each phase execution's budget drawn as a wall, the
 * costs and the verdict. Every figure comes from the report (simulator/report.ts); nothing is read
 * from the scenario. Pure: a string from a report.
 */
import type { LaunchReport, PhaseReport, SimulationReport } from './report';

export interface RenderHtmlOptions {
  /** Width of the time axis in CSS pixels (the page adds the lane headers to its left). */
  plotWidth?: number;
}

/** Escapes a string for HTML text and for attribute values (double- or single-quoted). */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
const esc = escapeHtml;

/** Virtual seconds as hours:minutes ("0:05", "27:30"). */
export function hoursMinutes(seconds: number): string {
  const minutes = Math.floor(Math.max(0, seconds) / 60);
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}`;
}

const usd = (value: number | null) => (value === null ? 'unpriced' : `$${value.toFixed(value !== 0 && Math.abs(value) < 10 ? 4 : 2)}`);
const num = (n: number) => String(Math.round(n * 10) / 10);

/** How the picture colours an outcome (the report's outcome is kept as is in data-outcome). */
export function outcomeClass(outcome: string): 'succeeded' | 'interrupted' | 'failed' | 'other' {
  if (outcome === 'succeeded' || outcome === 'preflight-ok') return 'succeeded';
  if (outcome === 'interrupted' || outcome === 'capacity-exhausted') return 'interrupted';
  if (outcome === 'failed' || outcome === 'timed-out' || outcome === 'hung') return 'failed';
  return 'other';
}

/** Attempts that did not succeed, as the report's wastedUsd counts them. */
const wasted = (launches: readonly LaunchReport[]) => launches.filter((l) => outcomeClass(l.outcome) !== 'succeeded').reduce((sum, l) => sum + (l.costUsd ?? 0), 0);

// Layout, in CSS pixels.
const HEAD_W = 290;
const RIGHT_W = 120;
const AXIS_H = 44;
const PHASE_HEAD_H = 40;
const ROW_H = 24;
const ROW_GAP = 6;
const LANE_PAD = 8;
const MIN_LANE_H = 40;
const MIN_BAR_W = 4;
const CHAR_W = 6.6; // a generous average width of an 11 px sans-serif character
/** A budget wall further than this past the run's end is drawn at the right edge, not stretched to. */
const WALL_STRETCH = 1.5;

interface Lane {
  phase: PhaseReport;
  shard?: string;
  /** Shown in the lane's header. */
  title: string;
  status: string;
  launches: LaunchReport[];
  executions: string[];
}

interface Wall {
  phase: string;
  shard?: string;
  execution: string;
  at: number;
}

/** A phase's lanes: itself, or one per shard (the report's shards, then any shard only its launches name). */
function lanesOf(phase: PhaseReport): Lane[] {
  if (!phase.shards) return [{ phase, title: phase.name, status: phase.status, launches: phase.launches, executions: phase.runs.map((r) => r.execution) }];
  const names = [...phase.shards.map((s) => s.name), ...phase.launches.flatMap((l) => (l.shard === undefined ? [] : [l.shard]))];
  return [...new Set(names)].map((name) => {
    const shard = phase.shards!.find((s) => s.name === name);
    return { phase, shard: name, title: `shard ${name}`, status: shard?.status ?? '?', launches: phase.launches.filter((l) => l.shard === name), executions: shard?.executions ?? [] };
  });
}

/** The budget walls of a lane: each of its phase executions' start (the report's runs) plus the phase's budget. */
function wallsOf(lane: Lane): Wall[] {
  return lane.executions.flatMap((execution) => {
    const run = lane.phase.runs.find((r) => r.execution === execution);
    return run ? [{ phase: lane.phase.name, shard: lane.shard, execution, at: run.start + lane.phase.budgetSeconds }] : [];
  });
}

/** Rows of a lane so that overlapping attempts (a relaunch while the noticed instance still runs) do not hide each other. */
function packRows(launches: readonly LaunchReport[]): LaunchReport[][] {
  const rows: LaunchReport[][] = [];
  for (const launch of [...launches].sort((a, b) => a.start - b.start || a.attempt - b.attempt)) {
    const row = rows.find((r) => r.at(-1)!.end <= launch.start);
    if (row) row.push(launch);
    else rows.push([launch]);
  }
  return rows;
}

/** A tick step (seconds) giving at most about twelve ticks. */
function tickStep(span: number): number {
  const steps = [300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400];
  return steps.find((s) => span / s <= 12) ?? Math.ceil(span / 12 / 86400) * 86400;
}

const textWidth = (text: string) => text.length * CHAR_W;
/** A name cut to fit the lane headers (the whole name is in the header's tooltip). */
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function barTitle(phase: PhaseReport, l: LaunchReport): string {
  return [
    `${phase.name}${l.shard === undefined ? '' : ` [${l.shard}]`} attempt ${l.attempt}: ${l.outcome}`,
    `instance ${l.instanceId ?? 'none (no pool gave capacity)'}, ${l.market}, ${l.pool ?? 'no pool'}`,
    `+${hoursMinutes(l.start)} → +${hoursMinutes(l.end)} (${Math.round((l.end - l.start) / 60)} min)`,
    `execution ${l.execution}`,
    `reason: ${l.reason ?? '—'}`,
    ...(l.detail ? [`detail: ${l.detail}`] : []),
    ...(l.noticeAt === null ? [] : [`spot notice at +${hoursMinutes(l.noticeAt)}`]),
    ...(l.cloud.refusals.length > 0 ? [`refused: ${l.cloud.refusals.join(', ')}`] : []),
    `cost ${usd(l.costUsd)}`,
  ].join('\n');
}

export function renderHtml(report: SimulationReport, options: RenderHtmlOptions = {}): string {
  const plotW = options.plotWidth ?? 1100;
  const lanes = report.phases.flatMap(lanesOf);
  const walls = lanes.flatMap(wallsOf);
  const launches = report.phases.flatMap((p) => p.launches);
  const runEnd = Math.max(60, report.simulatedSeconds, ...launches.map((l) => l.end));
  const axisEnd = Math.max(runEnd, ...walls.map((w) => w.at).filter((at) => at <= runEnd * WALL_STRETCH));
  const x = (t: number) => HEAD_W + (Math.min(Math.max(t, 0), axisEnd) / axisEnd) * plotW;
  const plotRight = HEAD_W + plotW;

  const bands: string[] = [];
  const body: string[] = [];
  let y = AXIS_H;
  report.phases.forEach((phase, index) => {
    const own = lanes.filter((l) => l.phase === phase);
    const sharded = phase.shards !== undefined;
    const top = y;
    const phaseParts: string[] = [];
    const costLine = `${usd(phase.costUsd)} · wasted ${usd(Math.round(wasted(phase.launches) * 1e6) / 1e6)} · ${phase.attempts} attempt(s)`;
    const header = (hy: number) =>
      `<g class="phase-head"><title>${esc(`${phase.name}: ${phase.status}${phase.error ? `, ${phase.error}${phase.cause ? `: ${phase.cause}` : ''}` : ''}`)}</title>` +
      `<text class="phase-name" x="8" y="${hy + 15}">${esc(clip(phase.name, 26))} <tspan class="status status-${esc(phase.status.toLowerCase())}">${esc(phase.status)}</tspan></text>` +
      `<text class="phase-cost" data-phase="${esc(phase.name)}" x="8" y="${hy + 31}">${esc(costLine)}</text></g>`;
    if (sharded) {
      phaseParts.push(header(y));
      y += PHASE_HEAD_H;
    }
    for (const lane of own) {
      const rows = packRows(lane.launches);
      const height = Math.max(MIN_LANE_H, rows.length * (ROW_H + ROW_GAP) - ROW_GAP + 2 * LANE_PAD);
      phaseParts.push(renderLane(lane, rows, y, height, sharded ? undefined : header));
      y += height;
    }
    if (own.length === 0) y += MIN_LANE_H;
    bands.push(`<rect class="phase-band${index % 2 ? ' odd' : ''}" x="0" y="${top}" width="${plotRight + RIGHT_W}" height="${y - top}"/>`);
    body.push(`<g class="phase" data-phase="${esc(phase.name)}" data-status="${esc(phase.status)}">${phaseParts.join('')}</g>`);
  });
  const height = y + 12;

  function renderLane(lane: Lane, rows: LaunchReport[][], top: number, h: number, header?: (y: number) => string): string {
    const shardAttr = lane.shard === undefined ? '' : ` data-shard="${esc(lane.shard)}"`;
    const parts: string[] = [`<g class="lane" data-phase="${esc(lane.phase.name)}"${shardAttr} data-status="${esc(lane.status)}">`];
    parts.push(`<line class="lane-rule" x1="0" x2="${plotRight + RIGHT_W}" y1="${top}" y2="${top}"/>`);
    if (header) parts.push(header(top + 2));
    else parts.push(`<text class="shard-name" x="24" y="${top + 24}"><title>${esc(lane.title)}</title>${esc(clip(lane.title, 28))} <tspan class="status status-${esc(lane.status.toLowerCase())}">${esc(lane.status)}</tspan></text>`);
    if (lane.launches.length === 0) {
      const why = lane.status === 'NOT_RUN' || lane.status === 'SKIPPED' ? lane.status.toLowerCase().replace('_', ' ') : `no launch${lane.phase.error ? `: ${lane.phase.error}` : ''}`;
      parts.push(`<text class="lane-note" x="${HEAD_W + 8}" y="${top + h / 2 + 4}">${esc(why)}</text>`);
    }
    rows.forEach((row, r) => {
      const rowY = top + LANE_PAD + r * (ROW_H + ROW_GAP);
      row.forEach((l, i) => parts.push(renderBar(lane, l, rowY, row[i + 1])));
    });
    wallsOf(lane).forEach((wall, i) => parts.push(renderWall(wall, top, h, i)));
    parts.push('</g>');
    return parts.join('');
  }

  function renderBar(lane: Lane, l: LaunchReport, rowY: number, next?: LaunchReport): string {
    const x0 = x(l.start);
    const w = Math.max(MIN_BAR_W, x(l.end) - x0);
    const kind = outcomeClass(l.outcome);
    const attrs = `data-outcome="${esc(l.outcome)}" data-market="${esc(l.market)}" data-pool="${esc(l.pool ?? '')}" data-attempt="${l.attempt}" data-instance="${esc(l.instanceId ?? '')}" data-start="${l.start}" data-end="${l.end}"`;
    const parts = [`<g class="attempt">`];
    parts.push(`<rect class="bar outcome-${kind} market-${esc(l.market)}" ${attrs} x="${num(x0)}" y="${rowY}" width="${num(w)}" height="${ROW_H}" rx="3"><title>${esc(barTitle(lane.phase, l))}</title></rect>`);
    if (l.market === 'on-demand') parts.push(`<rect class="hatch" x="${num(x0)}" y="${rowY}" width="${num(w)}" height="${ROW_H}" rx="3"/>`);
    // The label: inside the bar if it fits, else just after it if the row leaves room, else shorter.
    const pool = l.pool ?? 'no instance';
    const labelGap = kind === 'interrupted' ? 8 : 4; // clear of the interruption's cross
    const room = (next ? x(next.start) : plotRight + RIGHT_W) - (x0 + w) - labelGap - 4;
    for (const text of [`${pool} #${l.attempt}`, `${pool}`, `#${l.attempt}`]) {
      const tw = textWidth(text);
      if (tw + 10 <= w) {
        parts.push(`<text class="bar-label inside" data-attempt="${l.attempt}" x="${num(x0 + 5)}" y="${rowY + ROW_H / 2 + 4}">${esc(text)}</text>`);
        break;
      }
      if (tw <= room) {
        parts.push(`<text class="bar-label outside" data-attempt="${l.attempt}" x="${num(x0 + w + labelGap)}" y="${rowY + ROW_H / 2 + 4}">${esc(text)}</text>`);
        break;
      }
    }
    if (l.noticeAt !== null) {
      const nx = num(x(l.noticeAt));
      parts.push(
        `<g class="notice" data-attempt="${l.attempt}" data-at="${l.noticeAt}"><title>${esc(`spot's interruption notice reached ${l.instanceId ?? 'the instance'} at +${hoursMinutes(l.noticeAt)}`)}</title>` +
          `<line x1="${nx}" x2="${nx}" y1="${rowY - 3}" y2="${rowY + ROW_H + 3}"/><path d="M${nx} ${rowY + 2} l-5 -7 h10 z"/></g>`,
      );
    }
    if (kind === 'interrupted') {
      const ix = x0 + w;
      const cy = rowY + ROW_H / 2;
      parts.push(
        `<g class="interruption" data-attempt="${l.attempt}" data-at="${l.end}"><title>${esc(`${l.outcome} at +${hoursMinutes(l.end)}${l.reason ? ` (${l.reason})` : ''}`)}</title>` +
          `<path d="M${num(ix - 5)} ${cy - 5} l10 10 M${num(ix + 5)} ${cy - 5} l-10 10"/></g>`,
      );
    }
    parts.push('</g>');
    return parts.join('');
  }

  /** A wall and its label (the lane's i-th wall's label on the i-th line, so a redrive's walls do not overwrite each other). */
  function renderWall(wall: Wall, top: number, h: number, i: number): string {
    const beyond = wall.at > axisEnd;
    const wx = beyond ? plotRight + 6 : x(wall.at);
    const shardAttr = wall.shard === undefined ? '' : ` data-shard="${esc(wall.shard)}"`;
    const label = beyond ? `budget +${hoursMinutes(wall.at)} →` : 'budget';
    return (
      `<g class="budget"><title>${esc(`${wall.phase}${wall.shard === undefined ? '' : ` [${wall.shard}]`}: budget ends at +${hoursMinutes(wall.at)} (execution ${wall.execution})`)}</title>` +
      `<line class="budget-wall${beyond ? ' beyond' : ''}" data-phase="${esc(wall.phase)}"${shardAttr} data-execution="${esc(wall.execution)}" data-at="${wall.at}" data-beyond="${beyond}" x1="${num(wx)}" x2="${num(wx)}" y1="${top + 2}" y2="${top + h - 2}"/>` +
      `<text class="budget-label" x="${num(wx + 3)}" y="${top + 11 + 11 * i}">${esc(label)}</text></g>`
    );
  }

  const step = tickStep(axisEnd);
  const ticks: string[] = [];
  for (let t = 0; t <= axisEnd; t += step) {
    const tx = num(x(t));
    ticks.push(`<line class="grid" x1="${tx}" x2="${tx}" y1="${AXIS_H - 22}" y2="${height - 12}"/><text class="tick" x="${tx}" y="${AXIS_H - 28}">${hoursMinutes(t)}</text>`);
  }
  const endX = num(x(report.simulatedSeconds));
  const runEndMark =
    `<g class="run-end" data-at="${report.simulatedSeconds}"><title>${esc(`the pipeline execution ended at +${hoursMinutes(report.simulatedSeconds)}`)}</title>` +
    `<line x1="${endX}" x2="${endX}" y1="${AXIS_H - 4}" y2="${height - 12}"/><text x="${endX}" y="${AXIS_H - 8}">end +${hoursMinutes(report.simulatedSeconds)}</text></g>`;
  const svg =
    `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="${plotRight + RIGHT_W}" height="${height}" viewBox="0 0 ${plotRight + RIGHT_W} ${height}" role="img" aria-label="${esc(`timeline of ${report.scenario}`)}">` +
    `<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="2.5" height="6" fill="#fff" fill-opacity="0.55"/></pattern></defs>` +
    `<text class="axis-title" x="8" y="${AXIS_H - 28}">elapsed (h:mm)</text>` +
    bands.join('') +
    ticks.join('') +
    runEndMark +
    body.join('') +
    `</svg>`;

  const failed = report.status !== 'SUCCEEDED';
  const why = failed ? `${report.error ?? ''}${report.cause ? `: ${report.cause}` : ''}` : '';
  const shortWhy = why.length > 400 ? `${why.slice(0, 400)}…` : why;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(`${report.status}: ${report.scenario}`)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<div id="verdict" class="verdict verdict-${failed ? 'failed' : 'succeeded'}" data-status="${esc(report.status)}"><span class="status">${esc(report.status)}</span> <span class="scenario">${esc(report.scenario)}</span></div>
${failed && why ? `<p class="error" title="${esc(why)}">${esc(shortWhy)}</p>` : ''}
<p class="summary"><span id="total-cost">total cost ${esc(usd(report.costUsd))}</span> · <span id="wasted-cost">wasted ${esc(usd(report.wastedUsd))}</span> · ${esc(`${launches.length} attempt(s), ${report.instances.launched} instance(s), ${hoursMinutes(report.simulatedSeconds)} simulated (h:mm), mode ${report.mode}`)}</p>
${LEGEND}
</header>
<main>${svg}</main>
</body>
</html>
`;
}

const swatch = (cls: string, extra = '') => `<svg width="28" height="14" aria-hidden="true"><rect class="swatch ${cls}" x="1" y="1" width="26" height="12" rx="2"/>${extra}</svg>`;
const LEGEND = `<ul class="legend">
<li>${swatch('outcome-succeeded')} succeeded</li>
<li>${swatch('outcome-interrupted')} interrupted (spot, or no capacity)</li>
<li>${swatch('outcome-failed')} failed, timed out or hung</li>
<li>${swatch('outcome-other')} other</li>
<li>${swatch('market-spot neutral')} spot (solid)</li>
<li>${swatch('market-on-demand neutral', '<rect class="hatch" x="1" y="1" width="26" height="12" rx="2"/>')} on-demand (hatched, dark outline)</li>
<li><svg width="14" height="16" aria-hidden="true"><g class="notice"><line x1="7" x2="7" y1="2" y2="16"/><path d="M7 9 l-5 -7 h10 z"/></g></svg> spot notice</li>
<li><svg width="14" height="14" aria-hidden="true"><g class="interruption"><path d="M2 2 l10 10 M12 2 l-10 10"/></g></svg> interruption</li>
<li><svg width="14" height="16" aria-hidden="true"><line class="budget-wall" x1="7" x2="7" y1="0" y2="16"/></svg> budget wall (a phase execution's start + its budget)</li>
<li><svg width="14" height="16" aria-hidden="true"><g class="run-end"><line x1="7" x2="7" y1="0" y2="16"/></g></svg> pipeline end</li>
</ul>`;

const CSS = `
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", sans-serif; margin: 16px; color: #1f2328; background: #fff; }
header { margin-bottom: 8px; }
.verdict { font-size: 18px; font-weight: 600; }
.verdict .status { display: inline-block; padding: 1px 8px; border-radius: 4px; color: #fff; margin-right: 6px; }
.verdict-succeeded .status { background: #2e7d32; }
.verdict-failed .status { background: #c62828; }
.error { color: #c62828; margin: 4px 0; white-space: pre-wrap; }
.summary { margin: 4px 0; }
.legend { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 4px 18px; }
.legend li { display: flex; align-items: center; gap: 6px; }
svg text { font-size: 11px; fill: #1f2328; }
.timeline { display: block; max-width: 100%; height: auto; }
.phase-band { fill: #fff; }
.phase-band.odd { fill: #f6f8fa; }
.lane-rule { stroke: #d0d7de; }
.phase-name { font-size: 13px; font-weight: 600; }
.shard-name { font-size: 12px; }
.phase-cost { fill: #57606a; }
.status { font-size: 10px; font-weight: 600; }
tspan.status-succeeded { fill: #2e7d32; }
tspan.status-failed, tspan.status-aborted, tspan.status-timed_out { fill: #c62828; }
tspan.status-not_run, tspan.status-skipped, tspan.status-running { fill: #6e7781; }
.lane-note { fill: #6e7781; font-style: italic; }
.grid { stroke: #d8dee4; stroke-dasharray: 2 3; }
.tick, .axis-title { fill: #57606a; text-anchor: middle; }
.axis-title { text-anchor: start; font-weight: 600; }
.run-end line { stroke: #1f2328; stroke-width: 1.5; stroke-dasharray: 6 3; }
.bar, .swatch { stroke: rgba(0,0,0,.35); stroke-width: 1; }
.bar.market-on-demand, .swatch.market-on-demand { stroke: #1f2328; stroke-width: 2; }
.outcome-succeeded { fill: #2e7d32; }
.outcome-interrupted { fill: #ef6c00; }
.outcome-failed { fill: #c62828; }
.outcome-other { fill: #8c959f; }
.neutral { fill: #d0d7de; }
.run-end text { fill: #1f2328; font-size: 10px; text-anchor: middle; }
.hatch { fill: url(#hatch); pointer-events: none; }
.bar-label { pointer-events: none; }
.bar-label.inside { fill: #fff; font-weight: 600; paint-order: stroke; stroke: rgba(0,0,0,.3); stroke-width: 2px; }
.bar-label.outside { fill: #1f2328; }
.notice line { stroke: #0550ae; stroke-width: 2; }
.notice path { fill: #0550ae; }
.interruption path { stroke: #1f2328; stroke-width: 2.5; fill: none; }
.budget-wall { stroke: #cf222e; stroke-width: 2.5; stroke-dasharray: 5 2; }
.budget-label { fill: #cf222e; font-size: 10px; font-weight: 600; }
`;
