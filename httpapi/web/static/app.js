// spallocd dashboard: fills the page shells from the JSON API and keeps them
// current through the server-sent event stream (/api/v1/events). No
// framework, no external resources. Every text that comes from users (job
// owners, reasons) is inserted as text, never as HTML.
'use strict';

(function () {
  const API = '/api/v1';
  const SVGNS = 'http://www.w3.org/2000/svg';
  const body = document.body;
  const page = body.dataset.page;

  // ---- small DOM helpers ----

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }

  function setAttrs(e, attrs) {
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

  function replace(target, ...children) {
    if (!target) return;
    target.replaceChildren();
    append(target, children);
  }

  async function getJSON(path) {
    const resp = await fetch(API + path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const err = new Error(data.error || resp.statusText);
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  // ---- formatting ----

  function duration(seconds) {
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

  function when(t) {
    if (!t) return '';
    return new Date(t * 1000).toLocaleString();
  }

  function now() { return Date.now() / 1000; }

  function xyz(b) { return `(${b[0]}, ${b[1]}, ${b[2]})`; }
  function cfb(p) { return p ? `c${p[0]} f${p[1]} b${p[2]}` : 'no slot'; }

  // jobSize describes a job by its boards, or by its request while queued.
  function jobSize(j) {
    if (j.boards && j.boards.length) return j.boards.length === 1 ? '1 board' : `${j.boards.length} boards`;
    const a = Array.isArray(j.args) ? j.args.filter((v) => v !== null) : [];
    if (a.length === 0 || (a.length === 1 && a[0] === 1)) return '1 board';
    if (a.length === 1) return `${a[0]} boards`;
    if (a.length === 2) return `${a[0]}×${a[1]} triads`;
    if (a.length === 3) return `board (${a.join(', ')})`;
    return '';
  }

  // waiting is how long a job waited (queued: so far) for its boards.
  function waiting(j) {
    if (j.state === 'queued') return duration(now() - j.created_at);
    if (j.allocated_at) return duration(j.allocated_at - j.created_at);
    return '';
  }

  // Each job has its own colour; the golden angle spreads consecutive ids.
  function jobColour(id) {
    const h = (id * 137.508) % 360;
    return `hsl(${h.toFixed(1)}, 62%, 58%)`;
  }

  const FILL = {
    free: '#e4ece1', dead: '#3b3b3b', out_of_service: '#f0a04b', waiting: '#b9c2cc', powering: '#fff3b0',
    bmp_unreachable: '#d9a0c8',
  };

  function boardFill(b) {
    return b.state === 'job' ? jobColour(b.job_id) : FILL[b.state] || '#ffffff';
  }

  function stateBadge(state) { return el('span', { class: `badge ${state}`, text: state }); }

  // ---- the hexagonal board map ----
  //
  // Chips live on a hexagonal lattice: chip (x, y) has neighbours at
  // (±1, 0), (0, ±1), ±(1, 1). Drawn with x to the right and y up at 60°
  // from it, every board (48 chips) is a regular flat-topped hexagon of
  // circumradius 4 chips centred on its chips' centroid, which is its
  // Ethernet chip + (11/3, 10/3); the boards of the triads tile the plane.

  const PX = 9; // pixels per chip
  const SIN60 = Math.sqrt(3) / 2;
  const RADIUS = 4 * PX;

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

  function boardTip(m, b) {
    const lines = [
      `${m.name} board ${xyz(b.logical)}`,
      `position ${cfb(b.physical)} · ${b.ip || 'no IP'}`,
      `chip (${b.chip[0]}, ${b.chip[1]}) · ${b.state.replace(/_/g, ' ')}${b.power ? ' · powered' : ''}`,
    ];
    if (b.job_id) lines.push(`job ${b.job_id}`);
    if (b.waiting_job_id) lines.push(`powering off after job ${b.waiting_job_id}`);
    if (b.out_of_service) lines.push(`out of service: ${b.out_of_service}`);
    if (b.bmp_unreachable) lines.push('its BMP does not answer: unavailable until it does');
    if (b.pending_ops) lines.push(`${b.pending_ops} BMP operation(s) pending`);
    if (b.last_error) lines.push(`last BMP error: ${b.last_error}`);
    return lines;
  }

  const tooltip = document.getElementById('tooltip');

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
    if (x + r.width > window.innerWidth) x = ev.clientX - r.width - pad;
    if (y + r.height > window.innerHeight) y = ev.clientY - r.height - pad;
    tooltip.style.left = `${x}px`;
    tooltip.style.top = `${y}px`;
  }

  function hideTip() { tooltip.hidden = true; }

  const details = document.getElementById('details');
  let selected = null; // "machine/x/y/z" of the board shown in the details panel

  function showDetails(m, b) {
    selected = `${m.name}/${b.logical.join('/')}`;
    const rows = [
      ['Machine', el('a', { href: `/machines/${encodeURIComponent(m.name)}`, text: m.name })],
      ['Board', xyz(b.logical)],
      ['Position', b.physical ? `cabinet ${b.physical[0]}, frame ${b.physical[1]}, board ${b.physical[2]}` : 'none'],
      ['IP', b.ip || '—'],
      ['Ethernet chip', `(${b.chip[0]}, ${b.chip[1]})`],
      ['State', b.state.replace(/_/g, ' ')],
      ['Power', b.power ? 'on' : 'off'],
      ['Job', b.job_id ? el('a', { href: `/jobs/${b.job_id}`, text: `job ${b.job_id}` }) : '—'],
    ];
    if (b.waiting_job_id) rows.push(['Freed by', el('a', { href: `/jobs/${b.waiting_job_id}`, text: `job ${b.waiting_job_id}` })]);
    if (b.out_of_service) rows.push(['Out of service', b.out_of_service]);
    if (b.bmp_unreachable) rows.push(['BMP', 'unreachable: the board is unavailable until it answers']);
    if (b.pending_ops) rows.push(['Pending ops', String(b.pending_ops)]);
    if (b.last_error) rows.push(['Last BMP error', b.last_error]);
    rows.push(['Reports', String(b.reports)]);
    const base = `${API}/machines/${encodeURIComponent(m.name)}/boards/${b.logical.join('/')}`;
    replace(details,
      el('button', { type: 'button', title: 'close', text: '×', onclick: () => { details.hidden = true; selected = null; } }),
      el('h4', { text: `Board ${xyz(b.logical)}` }),
      el('dl', {}, rows.map(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)])),
      el('p', {}, el('a', { href: `${base}/history`, text: 'allocation history' }), ' · ',
        el('a', { href: `${base}/reports`, text: 'issue reports' })));
    details.hidden = false;
  }

  // drawMachine returns the SVG board map of machine m. With focusJob set,
  // boards of other jobs are dimmed.
  function drawMachine(m, focusJob) {
    const centres = m.boards.map((b) => boardCentre(b.chip));
    const xs = centres.map((c) => c[0]);
    const ys = centres.map((c) => c[1]);
    const margin = RADIUS + 4;
    const minX = Math.min(...xs) - margin;
    const minY = Math.min(...ys) - margin;
    const w = Math.max(...xs) + margin - minX;
    const h = Math.max(...ys) + margin - minY;
    // Drawn at its natural size (CSS shrinks it to fit, never enlarges it).
    const map = svg('svg', {
      class: 'map', viewBox: `${minX.toFixed(1)} ${minY.toFixed(1)} ${w.toFixed(1)} ${h.toFixed(1)}`,
      width: Math.ceil(w), height: Math.ceil(h), 'font-size': (PX * 1.3).toFixed(1),
      'data-machine': m.name, 'data-boards': m.boards.length, role: 'img',
      'aria-label': `board map of ${m.name}`,
    });
    const byPos = new Map();
    m.boards.forEach((b, i) => {
      byPos.set(b.logical.join(','), centres[i]);
      const [cx, cy] = centres[i];
      const classes = ['board', b.state];
      if (b.pending_ops) classes.push('pending');
      if (b.out_of_service && b.state !== 'out_of_service') classes.push('oos');
      if (focusJob && b.job_id !== focusJob) classes.push('dim');
      if (selected === `${m.name}/${b.logical.join('/')}`) classes.push('selected');
      const fill = boardFill(b);
      map.append(svg('polygon', {
        class: classes.join(' '), points: hexPoints(cx, cy, RADIUS - 0.6), fill,
        'data-x': b.logical[0], 'data-y': b.logical[1], 'data-z': b.logical[2],
        'data-state': b.state, 'data-job': b.job_id || null,
        onmouseenter: (ev) => showTip(ev, boardTip(m, b)), onmousemove: moveTip, onmouseleave: hideTip,
        onclick: () => showDetails(m, b),
      }));
      map.append(svg('text', {
        class: `label${b.state === 'dead' ? ' dark' : ''}`, x: cx.toFixed(2), y: (cy - PX * 0.3).toFixed(2),
        text: b.logical.join(','),
      }));
      if (b.power) map.append(svg('circle', { class: 'powered', cx: cx.toFixed(2), cy: (cy + PX * 1.5).toFixed(2), r: (PX * 0.4).toFixed(2) }));
    });
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
      map.append(svg('line', {
        class: 'deadlink', x1: (mx - uy * half).toFixed(2), y1: (my + ux * half).toFixed(2),
        x2: (mx + uy * half).toFixed(2), y2: (my - ux * half).toFixed(2),
      }, svg('title', { text: `dead link ${l.link} of ${xyz(l.board)}` })));
    }
    return map;
  }

  function countsText(counts) {
    const order = ['free', 'job', 'powering', 'waiting', 'out_of_service', 'bmp_unreachable', 'dead'];
    return order.filter((k) => counts && counts[k]).map((k) => `${counts[k]} ${k.replace(/_/g, ' ')}`).join(' · ');
  }

  function machineCard(m, focusJob, wide) {
    return el('article', { class: `machine${wide ? ' wide' : ''}`, id: `machine-${m.name}` },
      el('header', {},
        el('h3', {}, el('a', { href: `/machines/${encodeURIComponent(m.name)}`, text: m.name })),
        el('span', { class: 'muted', text: `${m.width}×${m.height} triads · tags ${m.tags.join(', ') || '—'}` }),
        el('span', { class: 'counts', text: `${countsText(m.board_counts)} · ${m.queue_length} queued` })),
      drawMachine(m, focusJob));
  }

  // ---- job tables ----

  function jobRow(j) {
    return el('tr', { 'data-job': j.job_id },
      el('td', {}, el('span', { class: 'chip', 'data-colour': jobColour(j.job_id) }),
        el('a', { href: `/jobs/${j.job_id}`, text: String(j.job_id) })),
      el('td', {}, stateBadge(j.state), j.power === true ? ' on' : j.power === false ? ' off' : ''),
      el('td', { text: j.owner }),
      el('td', { text: jobSize(j) }),
      el('td', { text: j.machine || (j.waiting && j.waiting.positions.map((p) => p.machine).join(', ')) || '' }),
      el('td', {}, waiting(j), j.waiting ? el('div', { class: 'why', text: j.waiting.reason }) : null),
      el('td', { text: duration(now() - j.created_at) }));
  }

  // colourChips paints the job colour swatches (CSP forbids inline style
  // attributes in markup, but scripts may set properties).
  function colourChips(root) {
    for (const c of root.querySelectorAll('.chip[data-colour]')) c.style.background = c.dataset.colour;
  }

  function fillJobRows(tbody, jobs, emptyText) {
    if (!tbody) return;
    if (!jobs.length) {
      replace(tbody, el('tr', { class: 'empty' }, el('td', { colspan: 7, text: emptyText })));
      return;
    }
    replace(tbody, jobs.map(jobRow));
    colourChips(tbody);
  }

  // ---- pages ----

  async function refreshHealth() {
    const banner = document.getElementById('banner');
    try {
      const h = await getJSON('/health');
      if (h.emergency_stop) {
        banner.textContent = 'Emergency stop in force: all jobs were destroyed and new jobs are refused until an operator resumes.';
        banner.hidden = false;
      } else if (h.status !== 'ok') {
        const bad = Object.entries(h.checks || {}).filter(([, v]) => v !== 'ok').map(([k, v]) => `${k}: ${v}`);
        banner.textContent = `Server unhealthy — ${bad.join('; ')}`;
        banner.hidden = false;
      } else {
        banner.hidden = true;
      }
    } catch (e) {
      banner.textContent = `Cannot reach the server: ${e.message}`;
      banner.hidden = false;
    }
  }

  async function refreshOverview() {
    const list = await getJSON('/machines');
    const machines = await Promise.all(list.map((m) => getJSON(`/machines/${encodeURIComponent(m.name)}`)));
    const box = document.getElementById('machines');
    if (!machines.length) replace(box, el('p', { class: 'muted', text: 'No machines are configured.' }));
    else replace(box, machines.map((m) => machineCard(m, null, machines.length === 1)));
    const jobs = await getJSON('/jobs?state=live&limit=500');
    jobs.jobs.sort((a, b) => a.job_id - b.job_id);
    document.getElementById('job-count').textContent = `(${jobs.total} live)`;
    fillJobRows(document.getElementById('job-rows'), jobs.jobs, 'No live jobs.');
  }

  async function refreshJob() {
    const id = Number(body.dataset.job);
    const j = await getJSON(`/jobs/${id}`);
    replace(document.getElementById('job-state'), stateBadge(j.state));
    const rows = [
      ['Owner', j.owner],
      ['State', j.state + (j.power === true ? ', powered on' : j.power === false ? ', powered off' : '')],
      ['Size', jobSize(j) + (j.width ? ` · ${j.width}×${j.height} chips` : '')],
      ['Machine', j.machine ? el('a', { href: `/machines/${encodeURIComponent(j.machine)}`, text: j.machine }) : '—'],
      ['Request', `args ${JSON.stringify(j.args)} kwargs ${JSON.stringify(j.kwargs)}`],
      ['Created', when(j.created_at)],
      ['Waited', waiting(j) || '—'],
      ['Keepalive', j.keepalive === null ? 'never times out' : `${j.keepalive} s`],
      ['Last client', j.keepalivehost || '—'],
    ];
    if (j.ready_at) rows.push(['Ready since', when(j.ready_at)]);
    if (j.destroyed_at) rows.push(['Destroyed', `${when(j.destroyed_at)}: ${j.reason || ''}`]);
    if (j.waiting) {
      const pos = j.waiting.positions.map((p) => `#${p.position} on ${p.machine}`).join(', ');
      rows.push(['Why it waits', `${j.waiting.reason}${pos ? ` (${pos})` : ''}`]);
    }
    replace(document.getElementById('job-summary'),
      el('dl', { class: 'summary' }, rows.map(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)])));

    const mapBox = document.getElementById('job-map');
    if (j.machine) {
      const m = await getJSON(`/machines/${encodeURIComponent(j.machine)}`);
      replace(mapBox, machineCard(m, j.job_id, true));
    } else {
      replace(mapBox, el('p', { class: 'muted', text: j.state === 'destroyed' ? 'The job holds no boards.' : 'No boards allocated yet.' }));
    }

    replace(document.getElementById('job-history'), (j.history || []).map((e) => el('li', { class: e.state },
      el('time', { text: when(e.at) }), stateBadge(e.state),
      e.detail && e.detail !== e.state ? ` ${e.detail}` : '',
      e.machine && !(e.detail || '').includes(e.machine) ? ` (${e.machine})` : '',
      e.power === true ? ' · power on' : e.power === false ? ' · power off' : '')));
    const conns = j.connections || [];
    replace(document.getElementById('job-connections'), conns.length
      ? conns.map((c) => el('tr', {}, el('td', { text: `(${c.chip[0]}, ${c.chip[1]})` }), el('td', { text: c.hostname })))
      : el('tr', { class: 'empty' }, el('td', { colspan: 2, text: 'none' })));
    const ops = j.pending_ops || [];
    replace(document.getElementById('job-ops'), ops.length
      ? ops.map((o) => el('tr', {},
        el('td', { text: o.op + (o.links ? ` ${o.links.join(', ')}` : '') }), el('td', { text: xyz(o.board) }),
        el('td', { text: duration(now() - o.created_at) }), el('td', { text: String(o.attempts) }),
        el('td', { text: o.last_error || '' })))
      : el('tr', { class: 'empty' }, el('td', { colspan: 5, text: 'none' })));
  }

  async function refreshMachine() {
    const name = body.dataset.machine;
    const m = await getJSON(`/machines/${encodeURIComponent(name)}`);
    replace(document.getElementById('machine-summary'), el('dl', { class: 'summary' },
      [['Size', `${m.width}×${m.height} triads, ${m.boards.length} boards`], ['Tags', m.tags.join(', ') || '—'],
        ['Priority', String(m.priority)], ['Boards', countsText(m.board_counts)],
        ['BMPs', m.bmps.map((b) => `c${b.cabinet} f${b.frame} ${b.address}${b.unreachable ? ` (unreachable: ${b.last_error || 'no reply'})` : ''}`).join(', ') || '—'],
        ['Dead links', String((m.dead_links || []).length)]]
        .map(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)])));
    replace(document.getElementById('machine-map'), machineCard(m, null, true));
    const jobs = await getJSON(`/jobs?state=queued&machine=${encodeURIComponent(name)}&limit=500`);
    jobs.jobs.sort((a, b) => a.job_id - b.job_id);
    fillJobRows(document.getElementById('queue-rows'), jobs.jobs, 'Nothing is queued.');
    const attention = m.boards.filter((b) => b.out_of_service || b.bmp_unreachable || b.last_error || b.reports || b.dead);
    replace(document.getElementById('attention-rows'), attention.length
      ? attention.map((b) => el('tr', {},
        el('td', { text: xyz(b.logical) }), el('td', { text: cfb(b.physical) }), el('td', { text: b.ip || '' }),
        el('td', { text: b.state.replace(/_/g, ' ') }), el('td', { text: b.out_of_service || '' }),
        el('td', { text: b.last_error || '' }), el('td', { text: String(b.reports) })))
      : el('tr', { class: 'empty' }, el('td', { colspan: 7, text: 'All boards are fine.' })));
  }

  const refreshers = { overview: refreshOverview, job: refreshJob, machine: refreshMachine };

  // ---- live updates ----
  //
  // Refreshes are serialised and coalesced: a change arriving while one
  // runs schedules exactly one more.

  let running = false;
  let again = false;
  let generation = 0; // completed refreshes, for tests and debugging

  async function refresh() {
    if (running) { again = true; return; }
    running = true;
    try {
      do {
        again = false;
        await Promise.all([refreshHealth(), (refreshers[page] || (async () => {}))()]);
        generation++;
        body.dataset.refreshed = String(generation);
      } while (again);
    } catch (e) {
      console.error('refresh failed', e);
    } finally {
      running = false;
    }
  }

  let timer = null;
  function scheduleRefresh() {
    if (timer) return;
    timer = setTimeout(() => { timer = null; refresh(); }, 150);
  }

  const live = document.getElementById('live');
  function setLive(state, text) {
    live.className = `live ${state}`;
    live.textContent = text;
  }

  function connect() {
    if (!window.EventSource) {
      setLive('off', 'polling');
      setInterval(refresh, 5000);
      return;
    }
    const es = new EventSource(`${API}/events`);
    es.addEventListener('hello', () => { setLive('on', 'live'); scheduleRefresh(); });
    es.addEventListener('change', scheduleRefresh);
    es.onerror = () => setLive('off', 'reconnecting…');
  }

  if (page in refreshers) {
    refresh();
    connect();
    // Durations in the tables age even when nothing changes.
    setInterval(scheduleRefresh, 30000);
  } else {
    setLive('off', 'static');
  }
})();
