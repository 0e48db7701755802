// Machines: the machine card with its board map, the board details panel
// with the board's actions, the machine page (actions, utilisation, BMPs
// by cabinet and frame, queue, boards needing attention).

import {
  el, svg, replace, byId, getJSON, machinePath, summary, fillTable, duration, when, ago, xyz, cfb, words,
} from './dom.js';
import { BoardMap, boardKey } from './map.js';
import { showBoardActions, showMachineActions } from './console.js';
import { fillJobRows } from './jobs.js';
import { auditEntries } from './audit.js';

// ---- machine cards, kept across refreshes so maps update in place ----

const cards = new Map(); // "context/machine" -> {card, map}
const known = new Map(); // machine name -> its last board map

function countsText(counts) {
  const order = ['free', 'job', 'powering', 'waiting', 'out_of_service', 'bmp_unreachable', 'dead'];
  return order.filter((k) => counts && counts[k]).map((k) => `${counts[k]} ${words(k)}`).join(' · ');
}

// drainedText says who drained a machine, when and why.
function drainedText(d) {
  return `By ${d.by}, ${when(d.at)}: ${d.reason}`;
}

// machineCard returns the card of machine m for a page context (overview,
// job, machine), drawn with map options opts (see BoardMap).
export function machineCard(context, m, opts, wide) {
  known.set(m.name, m);
  const mapOpts = { ...opts, selected, onSelect: showDetails };
  const head = el('header', {},
    el('h3', {}, el('a', { href: machinePath(m.name), text: m.name })),
    m.drained ? el('span', { class: 'badge drained', title: drainedText(m.drained), text: 'drained' }) : null,
    el('span', { class: 'muted', text: `${m.width}×${m.height} triads · tags ${m.tags.join(', ') || '—'}` }),
    el('span', { class: 'counts', text: `${countsText(m.board_counts)} · ${m.queue_length} queued` }),
    m.reservation ? el('span', { class: 'reserved-note' }, `triads ${m.reservation.x},${m.reservation.y} ${m.reservation.w}×${m.reservation.h} reserved for `,
      el('a', { href: `/jobs/${m.reservation.job}`, text: `job ${m.reservation.job}` })) : null,
    m.drained ? el('p', { class: 'drained-note', text: `Drained: no new jobs start here. ${drainedText(m.drained)}` }) : null);
  const key = `${context}/${m.name}`;
  let c = cards.get(key);
  if (!c) {
    const map = new BoardMap(m, mapOpts);
    c = { card: el('article', { class: 'machine', id: `machine-${m.name}` }, head, map.element), map };
    cards.set(key, c);
  } else {
    c.card.firstChild.replaceWith(head);
    c.map.update(m, mapOpts);
  }
  c.card.classList.toggle('wide', !!wide);
  c.card.classList.toggle('drained', !!m.drained);
  return c.card;
}

// ---- the board details panel ----

const details = byId('details');
let selected = null; // boardKey of the board in the details panel

function closeDetails() {
  details.hidden = true;
  selected = null;
  for (const c of cards.values()) c.map.update(c.map.m, { ...c.map.opts, selected: null });
}

// deadLinksOf lists the dead links of board b, also those marked from the
// neighbour's side (the API clears both directions together).
function deadLinksOf(m, b) {
  const opposite = { east: 'west', west: 'east', north_east: 'south_west', south_west: 'north_east', north: 'south', south: 'north' };
  const W = m.width * 12;
  const H = m.height * 12;
  const at = (c) => `${((c[0] % W) + W) % W},${((c[1] % H) + H) % H}`;
  const here = at(b.chip);
  const chips = new Map(m.boards.map((x) => [x.logical.join(','), x.chip]));
  const dead = new Set();
  for (const l of m.dead_links || []) {
    const from = chips.get(l.board.join(','));
    if (!from) continue;
    if (l.board.join(',') === b.logical.join(',')) dead.add(l.link);
    else if (l.vector && at([from[0] + l.vector[0], from[1] + l.vector[1]]) === here) dead.add(opposite[l.link]);
  }
  return dead;
}

let shown = ''; // what the details panel shows, to redraw it only when that changes

export function showDetails(m, b) {
  selected = boardKey(m.name, b);
  const dead = deadLinksOf(m, b);
  const state = JSON.stringify([selected, b, [...dead]]);
  if (state === shown && !details.hidden) return;
  shown = state;
  const rows = [
    ['Machine', el('a', { href: machinePath(m.name), text: m.name })],
    ['Board', xyz(b.logical)],
    ['Position', b.physical ? `cabinet ${b.physical[0]}, frame ${b.physical[1]}, board ${b.physical[2]}` : 'none'],
    ['IP', b.ip || '—'],
    ['Ethernet chip', `(${b.chip[0]}, ${b.chip[1]})`],
    ['State', words(b.state)],
    ['Power', b.power ? 'on' : 'off'],
    ['Job', b.job_id ? el('a', { href: `/jobs/${b.job_id}`, text: `job ${b.job_id}` }) : '—'],
    b.waiting_job_id && ['Freed by', el('a', { href: `/jobs/${b.waiting_job_id}`, text: `job ${b.waiting_job_id}` })],
    b.out_of_service && ['Out of service', [b.out_of_service,
      el('div', { class: 'why', text: [b.out_of_service_by ? `by ${b.out_of_service_by}` : 'after BMP errors', b.out_of_service_at && when(b.out_of_service_at)].filter(Boolean).join(', ') })]],
    b.bmp_unreachable && ['BMP', 'unreachable: the board is unavailable until it answers'],
    b.pending_ops && ['Pending ops', String(b.pending_ops)],
    b.last_error && ['Last BMP error', b.last_error],
    ['Reports', String(b.reports)],
  ];
  if (details.dataset.board !== selected || details.hidden) {
    const base = `/api/v1${machinePath(m.name)}/boards/${b.logical.join('/')}`;
    replace(details,
      el('button', { type: 'button', class: 'close', title: 'close', text: '×', onclick: closeDetails }),
      el('h4', { text: `Board ${xyz(b.logical)}` }),
      el('div', { class: 'board-summary' }),
      el('p', {}, el('a', { href: `${base}/history`, text: 'allocation history' }), ' · ',
        el('a', { href: `${base}/reports`, text: 'issue reports' })),
      el('div', { class: 'board-actions' }),
      el('section', { class: 'board-audit' }));
  }
  // The summary is text and links; the actions keep their buttons while
  // they stay the same.
  replace(details.querySelector('.board-summary'), summary(rows, 'kv'));
  showBoardActions(details.querySelector('.board-actions'), m.name, b, dead);
  showBoardAudit(m.name, b);
  details.hidden = false;
  details.dataset.board = selected;
  for (const c of cards.values()) c.map.update(c.map.m, { ...c.map.opts, selected });
}

// showBoardAudit shows the latest operator actions on board b of machine
// name in the details panel (read anew whenever the board changes).
async function showBoardAudit(name, b) {
  const key = selected;
  let content;
  try {
    content = await auditEntries(`machine=${encodeURIComponent(name)}&board=${b.logical.join(',')}`, 5);
  } catch (e) {
    content = el('p', { class: 'error', text: e.message });
  }
  if (selected !== key) return; // another board was chosen meanwhile
  replace(details.querySelector('.board-audit'), el('h5', { text: 'Operator actions' }), content);
}

// refreshDetails redraws the open details panel from the latest data.
export function refreshDetails() {
  if (!selected || details.hidden) return;
  const [name, ...pos] = selected.split('/');
  const m = known.get(name);
  const b = m && m.boards.find((x) => x.logical.join('/') === pos.join('/'));
  if (b) showDetails(m, b);
}

// ---- the machine page ----

let utilisationAt = 0; // when the utilisation history was last read (ms)

export async function refreshMachine(health) {
  const name = document.body.dataset.machine;
  const path = machinePath(name);
  const [m, bmps, queued] = await Promise.all([
    getJSON(path), getJSON(`${path}/bmps`), getJSON(`/jobs?state=queued&machine=${encodeURIComponent(name)}&limit=500`),
  ]);
  showMachineActions(byId('machine-actions'), m, health.emergency_stop);
  replace(byId('machine-summary'), summary([
    ['Size', `${m.width}×${m.height} triads, ${m.boards.length} boards`],
    ['Tags', m.tags.join(', ') || '—'],
    ['Priority', String(m.priority)],
    ['Boards', countsText(m.board_counts)],
    m.drained && ['Drained', drainedText(m.drained)],
    ['Dead links', String((m.dead_links || []).length)],
  ]));
  replace(byId('machine-map'), machineCard('machine', m, {}, true));
  refreshBMPs(bmps);
  queued.jobs.sort((a, b) => a.job_id - b.job_id);
  fillJobRows(byId('queue-rows'), queued.jobs, 'Nothing is queued.');
  const attention = m.boards.filter((b) => b.out_of_service || b.bmp_unreachable || b.last_error || b.reports || b.dead);
  fillTable(byId('attention-rows'), attention.map((b) => el('tr', {},
    el('td', {}, el('a', { href: '#machine-map', text: xyz(b.logical), onclick: () => showDetails(m, b) })),
    el('td', { text: cfb(b.physical) }), el('td', { text: b.ip || '' }),
    el('td', { text: words(b.state) }), el('td', { text: b.out_of_service || '' }),
    el('td', { text: b.last_error || '' }), el('td', { text: String(b.reports) }))), 'All boards are fine.');
  // The history moves slowly: read it once a minute, not on every change.
  if (Date.now() - utilisationAt > 60000) {
    utilisationAt = Date.now();
    refreshUtilisation(await getJSON(`${path}/utilisation`));
  }
}

function refreshUtilisation(u) {
  const pct = (f) => `${Math.round(f * 100)}%`;
  replace(byId('utilisation-now'), `${pct(u.now)} now (${u.in_use} of ${u.boards} working boards in jobs)`);
  const n = u.history.length;
  const W = 480;
  const H = 70;
  const bw = W / n;
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img',
    'aria-label': `utilisation over the last ${duration(n * u.step)}` },
  [0.5, 1].map((f) => svg('line', { class: 'grid', x1: 0, x2: W, y1: H - f * H, y2: H - f * H })),
  u.history.map((f, i) => svg('rect', { class: 'bar', x: (i * bw + 0.5).toFixed(2), width: Math.max(bw - 1, 0.5).toFixed(2),
    y: (H - f * H).toFixed(2), height: (f * H).toFixed(2) },
  svg('title', { text: `${when(u.from + i * u.step)}: ${pct(f)}` }))));
  replace(byId('utilisation-chart'), chart,
    el('div', { class: 'axis muted' }, el('span', { text: `${duration(n * u.step)} ago` }),
      el('span', { text: `mean ${pct(u.history.reduce((s, f) => s + f, 0) / (n || 1))} · peak ${pct(Math.max(0, ...u.history))}` }),
      el('span', { text: 'now' })));
}

// refreshBMPs shows the machine's BMPs grouped by cabinet, one line per
// frame: reachability, last error, open operations.
function refreshBMPs(bmps) {
  const down = bmps.filter((b) => b.unreachable).length;
  const ops = bmps.reduce((s, b) => s + b.open_ops, 0);
  replace(byId('bmp-summary'), `${bmps.length} BMP${bmps.length === 1 ? '' : 's'}: ${bmps.length - down} answering, ${down} unreachable · ${ops} operation${ops === 1 ? '' : 's'} open`);
  const cabinets = new Map();
  for (const b of bmps) {
    if (!cabinets.has(b.cabinet)) cabinets.set(b.cabinet, []);
    cabinets.get(b.cabinet).push(b);
  }
  replace(byId('bmp-panel'), [...cabinets].map(([c, frames]) => el('section', { class: 'cabinet', 'data-cabinet': c },
    el('h4', { text: `Cabinet ${c}` }),
    el('ul', {}, frames.map(bmpLine)))));
}

function bmpLine(b) {
  const state = b.unreachable ? 'down' : b.failing_ops ? 'failing' : b.open_ops ? 'busy' : 'ok';
  const status = b.unreachable ? `unreachable since ${when(b.unreachable_since)}` : 'answering';
  return el('li', { class: `bmp ${state}`, 'data-frame': b.frame, title: b.address },
    el('span', { class: 'frame', text: `Frame ${b.frame}` }),
    el('span', { class: 'status', text: status }),
    el('span', { class: 'muted', text: `${b.address} · ${b.boards} boards` }),
    b.open_ops ? el('span', { class: 'ops', text: `${b.open_ops} open op${b.open_ops === 1 ? '' : 's'}, oldest ${ago(b.oldest_op_at)}${b.failing_ops ? `, ${b.failing_ops} failing` : ''}` }) : null,
    b.last_error ? el('span', { class: 'error', text: `last error: ${b.last_error}` }) : null);
}
