// The hexagonal board map of a machine, with zoom and pan, labels only
// where they are readable, and updates in place (a refresh keeps the
// zoom, the selection and the DOM nodes).
//
// Chips live on a hexagonal lattice: chip (x, y) has neighbours at
// (±1, 0), (0, ±1), ±(1, 1). Drawn with x to the right and y up at 60°
// from it, every board (48 chips) is a regular flat-topped hexagon of
// circumradius 4 chips centred on its chips' centroid, which is its
// Ethernet chip + (11/3, 10/3); the boards of the triads tile the plane.

import { el, svg, replace, byId, xyz, cfb, words, boardFill } from './dom.js';

const PX = 9; // SVG units per chip
const SIN60 = Math.sqrt(3) / 2;
const RADIUS = 4 * PX;
const MIN_FONT_PX = 9; // labels smaller than this on screen are left out
const MAX_ZOOM = 12;

function toScreen(cx, cy) { return [(cx - 0.5 * cy) * PX, -cy * SIN60 * PX]; }

function boardCentre(chip) { return toScreen(chip[0] + 11 / 3, chip[1] + 10 / 3); }

function hexPoints(cx, cy, r) {
  const pts = [];
  for (let i = 0; i < 6; i++) {
    const a = (Math.PI / 3) * i;
    pts.push(`${(cx + r * Math.cos(a)).toFixed(2)},${(cy + r * Math.sin(a)).toFixed(2)}`);
  }
  return pts.join(' ');
}

export const boardKey = (machine, b) => `${machine}/${b.logical.join('/')}`;

// ---- tooltip ----

const tooltip = byId('tooltip');

function boardTip(m, b) {
  const lines = [
    `${m.name} board ${xyz(b.logical)}`,
    `position ${cfb(b.physical)} · ${b.ip || 'no IP'}`,
    `chip (${b.chip[0]}, ${b.chip[1]}) · ${words(b.state)}${b.power ? ' · powered' : ''}`,
  ];
  if (b.job_id) lines.push(`job ${b.job_id}`);
  if (b.waiting_job_id) lines.push(`powering off after job ${b.waiting_job_id}`);
  if (b.out_of_service) lines.push(`out of service: ${b.out_of_service}`);
  if (b.bmp_unreachable) lines.push('its BMP does not answer: unavailable until it does');
  if (b.pending_ops) lines.push(`${b.pending_ops} BMP operation(s) pending`);
  if (b.last_error) lines.push(`last BMP error: ${b.last_error}`);
  return lines;
}

function showTip(ev, lines) {
  replace(tooltip, ...lines.map((l, i) => (i ? [el('br'), l] : l)));
  tooltip.hidden = false;
  moveTip(ev);
}

function moveTip(ev) {
  const pad = 14;
  let x = ev.clientX + pad;
  let y = ev.clientY + pad;
  const r = tooltip.getBoundingClientRect();
  if (x + r.width > window.innerWidth) x = Math.max(0, ev.clientX - r.width - pad);
  if (y + r.height > window.innerHeight) y = Math.max(0, ev.clientY - r.height - pad);
  tooltip.style.left = `${x}px`;
  tooltip.style.top = `${y}px`;
}

export function hideTip() { tooltip.hidden = true; }

// ---- the map ----

// BoardMap draws machine m. Options:
//   lit(b)      boards for which it is false are dimmed (default: none);
//   outlined(b) boards drawn with a heavy outline (a past job's boards);
//   selected    key (boardKey) of the board shown in the details panel;
//   onSelect(m, b) called when a board is clicked.
// The region reserved for the head of the machine's queue (m.reservation)
// is outlined, with its job's id.
export class BoardMap {
  constructor(m, opts) {
    this.opts = opts || {};
    this.svg = svg('svg', { class: 'map', role: 'img', 'aria-label': `board map of ${m.name}` });
    this.links = svg('g', { class: 'links' });
    this.reserved = svg('g', { class: 'reservation' });
    this.zoom = 1;
    this.dragged = false;
    this.element = el('div', { class: 'map-box' }, this.toolbar(), this.svg);
    this.build(m);
    this.listen();
    new ResizeObserver(() => this.fitLabels()).observe(this.svg);
  }

  toolbar() {
    const button = (cls, text, title, onclick) => el('button', { type: 'button', class: `zoom ${cls}`, text, title, onclick });
    return el('div', { class: 'map-tools' },
      button('zoom-out', '−', 'zoom out', () => this.zoomBy(1 / 1.6)),
      button('zoom-in', '+', 'zoom in (or ctrl + wheel)', () => this.zoomBy(1.6)),
      button('zoom-fit', 'fit', 'show the whole machine', () => this.setView(1, this.base.cx, this.base.cy)),
      el('span', { class: 'muted hint', text: 'drag to pan when zoomed' }));
  }

  // build draws every board once; update changes them in place.
  build(m) {
    this.boardSet = m.boards.map((b) => b.logical.join(',')).join(';');
    this.centres = m.boards.map((b) => boardCentre(b.chip));
    const xs = this.centres.map((c) => c[0]);
    const ys = this.centres.map((c) => c[1]);
    const margin = RADIUS + 4;
    const minX = Math.min(...xs) - margin;
    const minY = Math.min(...ys) - margin;
    const w = Math.max(...xs) + margin - minX;
    const h = Math.max(...ys) + margin - minY;
    this.base = { x: minX, y: minY, w, h, cx: minX + w / 2, cy: minY + h / 2 };
    // Drawn at its natural size at most (CSS shrinks it to fit).
    setSize(this.svg, Math.ceil(w), Math.ceil(h));
    this.labelChars = Math.max(...m.boards.map((b) => b.logical.join(',').length));
    this.svg.replaceChildren();
    this.hexes = [];
    this.labels = [];
    this.dots = [];
    m.boards.forEach((b, i) => {
      const [cx, cy] = this.centres[i];
      const hex = svg('polygon', {
        class: 'board', points: hexPoints(cx, cy, RADIUS - 0.6),
        'data-x': b.logical[0], 'data-y': b.logical[1], 'data-z': b.logical[2],
        onmouseenter: (ev) => showTip(ev, boardTip(this.m, this.m.boards[i])), onmousemove: moveTip, onmouseleave: hideTip,
        onclick: () => { if (this.opts.onSelect) this.opts.onSelect(this.m, this.m.boards[i]); },
      });
      const label = svg('text', { class: 'label', x: cx.toFixed(2), y: (cy - PX * 0.3).toFixed(2), text: b.logical.join(',') });
      const dot = svg('circle', { class: 'powered', cx: cx.toFixed(2), cy: (cy + PX * 1.5).toFixed(2), r: (PX * 0.4).toFixed(2) });
      this.hexes.push(hex);
      this.labels.push(label);
      this.dots.push(dot);
      this.svg.append(hex, label, dot);
    });
    delete this.reserved.dataset.key; // the boards moved: draw it anew
    this.svg.append(this.reserved, this.links);
    this.setView(1, this.base.cx, this.base.cy);
    this.update(m, this.opts);
  }

  update(m, opts) {
    this.opts = opts || this.opts;
    if (m.boards.map((b) => b.logical.join(',')).join(';') !== this.boardSet) {
      this.m = m;
      this.build(m);
      return;
    }
    this.m = m;
    const { lit, outlined, selected } = this.opts;
    this.svg.dataset.machine = m.name;
    this.svg.dataset.boards = m.boards.length;
    m.boards.forEach((b, i) => {
      const classes = ['board', b.state];
      if (b.pending_ops) classes.push('pending');
      if (b.out_of_service && b.state !== 'out_of_service') classes.push('oos');
      if (lit && !lit(b)) classes.push('dim');
      if (outlined && outlined(b)) classes.push('held');
      if (selected && selected === boardKey(m.name, b)) classes.push('selected');
      const hex = this.hexes[i];
      hex.setAttribute('class', classes.join(' '));
      hex.setAttribute('fill', boardFill(b));
      hex.dataset.state = b.state;
      if (b.job_id) hex.dataset.job = b.job_id;
      else delete hex.dataset.job;
      this.labels[i].setAttribute('class', `label${b.state === 'dead' ? ' dark' : ''}`);
      this.dots[i].setAttribute('visibility', b.power ? 'visible' : 'hidden');
    });
    this.drawLinks(m);
    this.drawReservation(m);
  }

  // drawReservation outlines the triads reserved for the head of the queue:
  // the edges of their boards that face a board outside the region.
  drawReservation(m) {
    const r = m.reservation;
    const inside = (b) => {
      if (!r) return false;
      const dx = (((b.logical[0] - r.x) % m.width) + m.width) % m.width;
      const dy = (((b.logical[1] - r.y) % m.height) + m.height) % m.height;
      return dx < r.w && dy < r.h;
    };
    const at = (c) => `${Math.round(c[0])},${Math.round(c[1])}`;
    const region = new Set();
    m.boards.forEach((b, i) => {
      const yes = inside(b);
      this.hexes[i].classList.toggle('reserved', yes);
      if (yes) region.add(at(this.centres[i]));
    });
    const key = r ? JSON.stringify(r) : '';
    if (this.reserved.dataset.key === key) return;
    this.reserved.dataset.key = key;
    this.reserved.replaceChildren();
    if (!r) {
      delete this.svg.dataset.reservation;
      return;
    }
    this.svg.dataset.reservation = r.job;
    // Neighbouring boards' centres are 2 apothems apart, across each edge.
    const apothem = RADIUS * SIN60;
    const edges = [];
    let top = null;
    for (const c of this.centres.filter((x) => region.has(at(x)))) {
      for (let i = 0; i < 6; i++) {
        const a = (Math.PI / 3) * (i + 0.5);
        if (region.has(at([c[0] + 2 * apothem * Math.cos(a), c[1] + 2 * apothem * Math.sin(a)]))) continue;
        const p = (k) => [c[0] + RADIUS * Math.cos((Math.PI / 3) * k), c[1] + RADIUS * Math.sin((Math.PI / 3) * k)];
        const [p0, p1] = [p(i), p(i + 1)];
        edges.push(`M${p0[0].toFixed(1)},${p0[1].toFixed(1)}L${p1[0].toFixed(1)},${p1[1].toFixed(1)}`);
      }
      if (!top || c[1] < top[1]) top = c;
    }
    const what = `reserved for job ${r.job}, the head of the queue: triads ${r.x},${r.y} ${r.w}×${r.h}`;
    this.reserved.append(
      svg('path', { class: 'reservation-halo', d: edges.join('') }),
      svg('path', { class: 'reservation-line', d: edges.join(''), 'data-job': r.job }, svg('title', { text: what })),
      svg('text', { class: 'label reservation-label', x: top[0].toFixed(1), y: (top[1] - RADIUS * 0.55).toFixed(1), text: `job ${r.job}` }));
  }

  drawLinks(m) {
    const byPos = new Map(m.boards.map((b, i) => [b.logical.join(','), this.centres[i]]));
    this.links.replaceChildren();
    for (const l of m.dead_links || []) {
      const c = byPos.get(l.board.join(','));
      if (!c || !l.vector) continue;
      // The link crosses the edge facing the neighbour: mark that edge.
      const [vx, vy] = toScreen(l.vector[0], l.vector[1]);
      const len = Math.hypot(vx, vy) || 1;
      const ux = vx / len;
      const uy = vy / len;
      const mx = c[0] + ux * RADIUS * SIN60;
      const my = c[1] + uy * RADIUS * SIN60;
      const half = RADIUS * 0.35;
      this.links.append(svg('line', {
        class: 'deadlink', x1: (mx - uy * half).toFixed(2), y1: (my + ux * half).toFixed(2),
        x2: (mx + uy * half).toFixed(2), y2: (my - ux * half).toFixed(2),
      }, svg('title', { text: `dead link ${l.link} of ${xyz(l.board)}` })));
    }
  }

  // ---- zoom and pan ----

  setView(zoom, cx, cy) {
    const b = this.base;
    this.zoom = Math.min(MAX_ZOOM, Math.max(1, zoom));
    const w = b.w / this.zoom;
    const h = b.h / this.zoom;
    this.cx = Math.min(b.x + b.w - w / 2, Math.max(b.x + w / 2, cx));
    this.cy = Math.min(b.y + b.h - h / 2, Math.max(b.y + h / 2, cy));
    this.svg.setAttribute('viewBox', `${(this.cx - w / 2).toFixed(1)} ${(this.cy - h / 2).toFixed(1)} ${w.toFixed(1)} ${h.toFixed(1)}`);
    this.svg.dataset.zoom = this.zoom.toFixed(2);
    this.svg.classList.toggle('zoomed', this.zoom > 1);
    this.fitLabels();
  }

  zoomBy(f, cx = this.cx, cy = this.cy) {
    // Keep the point (cx, cy) where it is on screen.
    const z = Math.min(MAX_ZOOM, Math.max(1, this.zoom * f));
    const k = this.zoom / z;
    this.setView(z, cx + (this.cx - cx) * k, cy + (this.cy - cy) * k);
  }

  // scale is screen pixels per SVG unit (0 while not laid out). A map
  // whose height is capped is letterboxed: the smaller ratio counts.
  scale() {
    const r = this.svg.getBoundingClientRect();
    if (!r.width || !r.height) return 0;
    return Math.min(r.width / (this.base.w / this.zoom), r.height / (this.base.h / this.zoom));
  }

  // fitLabels sizes labels to stay readable and shows them only where
  // they fit inside a board.
  fitLabels() {
    const s = this.scale();
    if (!s) return;
    const font = Math.max(PX * 1.3, MIN_FONT_PX / s);
    const fits = font * 0.62 * this.labelChars <= RADIUS * 1.75;
    this.svg.setAttribute('font-size', font.toFixed(1));
    this.svg.classList.toggle('nolabels', !fits);
    this.svg.dataset.labels = fits ? 'shown' : 'hidden';
  }

  listen() {
    const toUnits = (ev) => {
      const r = this.svg.getBoundingClientRect();
      const s = this.scale();
      return [this.cx + (ev.clientX - r.left - r.width / 2) / s, this.cy + (ev.clientY - r.top - r.height / 2) / s];
    };
    this.svg.addEventListener('wheel', (ev) => {
      if (!ev.ctrlKey && !ev.metaKey) return; // plain wheel scrolls the page
      ev.preventDefault();
      const [x, y] = toUnits(ev);
      this.zoomBy(ev.deltaY < 0 ? 1.25 : 1 / 1.25, x, y);
    }, { passive: false });
    let start = null;
    this.svg.addEventListener('pointerdown', (ev) => {
      if (this.zoom <= 1 || ev.button !== 0) return;
      start = { x: ev.clientX, y: ev.clientY, cx: this.cx, cy: this.cy };
      this.dragged = false;
    });
    this.svg.addEventListener('pointermove', (ev) => {
      if (!start) return;
      const dx = ev.clientX - start.x;
      const dy = ev.clientY - start.y;
      if (!this.dragged && Math.hypot(dx, dy) < 4) return;
      if (!this.dragged) this.svg.setPointerCapture(ev.pointerId);
      this.dragged = true;
      hideTip();
      const s = this.scale();
      this.setView(this.zoom, start.cx - dx / s, start.cy - dy / s);
    });
    const end = () => { start = null; };
    this.svg.addEventListener('pointerup', end);
    this.svg.addEventListener('pointercancel', end);
    // A drag is not a click on the board it ends on.
    this.svg.addEventListener('click', (ev) => {
      if (this.dragged) { ev.stopPropagation(); this.dragged = false; }
    }, true);
  }
}

function setSize(e, w, h) {
  e.setAttribute('width', w);
  e.setAttribute('height', h);
}
