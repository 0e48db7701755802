// Shared helpers of the dashboard: DOM building, the JSON API, formatting
// and colours. Every text that comes from users (job owners, reasons) is
// inserted as text, never as HTML.

export const API = '/api/v1';
const SVGNS = 'http://www.w3.org/2000/svg';

// ---- DOM ----

export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  append(e, children);
  return e;
}

export function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVGNS, tag);
  setAttrs(e, attrs);
  append(e, children);
  return e;
}

export function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.setAttribute('class', v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(e, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace makes children the content of target. Content that is already
// exactly these nodes is left in place (a live map keeps its DOM nodes,
// focus and hover).
export function replace(target, ...children) {
  if (!target) return;
  const nodes = children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
  if (nodes.length === target.childNodes.length && nodes.every((n, i) => n === target.childNodes[i])) return;
  target.replaceChildren();
  append(target, nodes);
}

// keep fills target with build() unless it already shows what key names:
// controls stay the same nodes across refreshes (a click never lands on a
// button that a refresh has just replaced).
export function keep(target, key, build) {
  if (!target || target.dataset.key === key) return;
  replace(target, build());
  target.dataset.key = key;
}

export const byId = (id) => document.getElementById(id);

// summary is a definition list of [label, value] rows.
export function summary(rows, cls = 'summary') {
  return el('dl', { class: cls }, rows.filter(Boolean).map(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)]));
}

// table rows: every cell carries its column's name, which narrow screens
// show in front of the value (the header row is hidden there).
export function fillTable(tbody, rows, emptyText) {
  if (!tbody) return;
  if (!rows.length) {
    const cols = tbody.closest('table').querySelectorAll('thead th').length || 1;
    replace(tbody, el('tr', { class: 'empty' }, el('td', { colspan: cols, text: emptyText })));
    return;
  }
  replace(tbody, rows);
  labelCells(tbody);
}

function labelCells(tbody) {
  const names = [...tbody.closest('table').querySelectorAll('thead th')].map((th) => th.textContent);
  for (const tr of tbody.rows) {
    [...tr.cells].forEach((td, i) => { if (names[i]) td.dataset.label = names[i]; });
  }
}

// ---- the JSON API ----

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// request sends a request and returns the decoded reply; a failed one
// throws an APIError with the server's own message.
export async function request(method, path, body, token) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let resp;
  try {
    resp = await fetch(API + path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new APIError(0, `cannot reach the server (${e.message})`);
  }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new APIError(resp.status, data.error || `${resp.status} ${resp.statusText}`);
  return data;
}

export const getJSON = (path) => request('GET', path);

export const machinePath = (name) => `/machines/${encodeURIComponent(name)}`;

// ---- formatting ----

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return '';
  let s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

export function when(t) {
  if (!t) return '';
  return new Date(t * 1000).toLocaleString();
}

export function now() { return Date.now() / 1000; }

export function ago(t) { return t ? `${duration(now() - t)} ago` : ''; }

export const xyz = (b) => `(${b[0]}, ${b[1]}, ${b[2]})`;
export const cfb = (p) => (p ? `c${p[0]} f${p[1]} b${p[2]}` : 'no slot');
export const words = (s) => String(s).replace(/_/g, ' ');

// jobSize describes a job by its boards, or by its request while it has none.
export function jobSize(j) {
  if (j.boards && j.boards.length) return j.boards.length === 1 ? '1 board' : `${j.boards.length} boards`;
  return requestedSize(j.args);
}

function requestedSize(args) {
  const a = Array.isArray(args) ? args.filter((v) => v !== null) : [];
  if (a.length === 0 || (a.length === 1 && a[0] === 1)) return '1 board';
  if (a.length === 1) return `${a[0]} boards`;
  if (a.length === 2) return `${a[0]}×${a[1]} triads`;
  if (a.length === 3) return `board (${a.join(', ')})`;
  return `args ${JSON.stringify(args)}`;
}

// requestInWords says what a job asked for, e.g. "2×1 triads on machine
// demo-4x2, min_ratio 0".
export function requestInWords(j) {
  const k = j.kwargs || {};
  let where = 'on any machine tagged default';
  if (k.machine !== undefined && k.machine !== null) where = `on machine ${k.machine}`;
  else if (Array.isArray(k.tags) && k.tags.length) where = `on a machine tagged ${k.tags.join(' and ')}`;
  const constraints = ['min_ratio', 'max_dead_boards', 'max_dead_links']
    .filter((name) => k[name] !== undefined)
    .map((name) => `${name} ${k[name] === null ? 'any' : k[name]}`);
  if (k.require_torus) constraints.push('a torus');
  return [`${requestedSize(j.args)} ${where}`, ...constraints].join(', ');
}

export function stateBadge(state) { return el('span', { class: `badge ${state}`, text: state }); }

// ---- colours ----

// Board states have fixed colours (the legend's); a job's colour is drawn
// from hues far from any of them, so that no job looks like a state.
export const FILL = {
  free: '#e4ece1', dead: '#3b3b3b', out_of_service: '#f0a04b', waiting: '#b9c2cc', powering: '#fff3b0',
  bmp_unreachable: '#d9a0c8',
};

// Hue bands left to jobs: yellow-green to violet, clear of orange/yellow
// (out of service, powering), pink/magenta (BMP unreachable) and red (dead
// links, errors).
const JOB_HUES = [[75, 285]];
const JOB_HUE_SPAN = JOB_HUES.reduce((s, [a, b]) => s + b - a, 0);

// jobColour gives each job its own colour; the golden angle spreads
// consecutive ids over the allowed hues.
export function jobColour(id) {
  let h = (id * 137.508) % JOB_HUE_SPAN;
  for (const [a, b] of JOB_HUES) {
    if (h < b - a) { h += a; break; }
    h -= b - a;
  }
  return `hsl(${(h % 360).toFixed(1)}, 62%, 58%)`;
}

export function boardFill(b) {
  return b.state === 'job' ? jobColour(b.job_id) : FILL[b.state] || '#ffffff';
}

// colourChips paints job colour swatches (the CSP forbids inline style
// attributes in markup, but scripts may set properties).
export function colourChips(root) {
  for (const c of root.querySelectorAll('.chip[data-colour]')) c.style.background = c.dataset.colour;
}
