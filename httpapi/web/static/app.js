// spallocd dashboard: fills the page shells from the JSON API and keeps them
// current through the server-sent event stream (/api/v1/events). No
// framework, no external resources.

import { el, replace, keep, byId, getJSON, API, when, jobColour, FILL } from './dom.js';
import { machineCard, refreshDetails, refreshMachine } from './machine.js';
import { fillJobRows, refreshJob, refreshJobList } from './jobs.js';
import { onAction, tokenButton, resumeButton } from './console.js';
import { refreshAudit } from './audit.js';

const body = document.body;
const page = body.dataset.page;

// ---- the banner: emergency stop and ill health ----

async function refreshBanner(health) {
  const banner = byId('banner');
  if (health.emergency_stop) {
    const stop = await getJSON('/emergency_stop');
    const who = stop.by || 'an operator';
    keep(banner, JSON.stringify(stop), () => [
      el('strong', { text: 'Emergency stop in force. ' }),
      el('span', { class: 'stop-detail', text: stop.at ? `Since ${when(stop.at)}, by ${who}: ` : `By ${who}: ` }),
      el('span', { class: 'stop-reason', text: stop.reason || 'no reason recorded' }),
      el('span', { text: '. All jobs were destroyed; new jobs are refused until an operator resumes. ' }),
      resumeButton()]);
    banner.hidden = false;
  } else if (health.status !== 'ok') {
    const bad = Object.entries(health.checks || {}).filter(([, v]) => v !== 'ok').map(([k, v]) => `${k}: ${v}`);
    keep(banner, `unhealthy ${bad}`, () => `Server unhealthy — ${bad.join('; ')}`);
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
}

// health reads /health, which answers 503 with the same body when unhealthy.
async function readHealth() {
  const resp = await fetch(`${API}/health`, { cache: 'no-store' });
  return resp.json();
}

// ---- the overview ----

async function refreshOverview() {
  const list = await getJSON('/machines');
  const machines = await Promise.all(list.map((m) => getJSON(`/machines/${encodeURIComponent(m.name)}`)));
  const box = byId('machines');
  if (!machines.length) replace(box, el('p', { class: 'muted', text: 'No machines are configured.' }));
  else replace(box, machines.map((m) => machineCard('overview', m, {}, machines.length === 1)));
  const jobs = await getJSON('/jobs?state=live&limit=500');
  jobs.jobs.sort((a, b) => a.job_id - b.job_id);
  byId('job-count').textContent = `(${jobs.total} live)`;
  fillJobRows(byId('job-rows'), jobs.jobs, 'No live jobs.');
}

const refreshers = {
  overview: refreshOverview,
  job: refreshJob,
  machine: refreshMachine,
  jobs: () => refreshJobList(refresh),
  audit: () => refreshAudit(refresh),
};

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
      try {
        const health = await readHealth();
        await Promise.all([refreshBanner(health), (refreshers[page] || (async () => {}))(health)]);
        refreshDetails();
      } catch (e) {
        const banner = byId('banner');
        keep(banner, `error ${e.message}`, () => `Cannot read from the server: ${e.message}`);
        banner.hidden = false;
        console.error('refresh failed', e);
      }
      generation++;
      body.dataset.refreshed = String(generation);
    } while (again);
  } finally {
    running = false;
  }
}

let timer = null;
function scheduleRefresh() {
  if (timer) return;
  timer = setTimeout(() => { timer = null; refresh(); }, 150);
}

const live = byId('live');
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

// For tests: the colours the page uses for jobs and board states.
window.spallocColours = { jobColour, states: FILL };

tokenButton();
onAction(scheduleRefresh);
if (page in refreshers) {
  refresh();
  connect();
  // Durations age even when nothing changes (the job page counts down its
  // keepalive).
  setInterval(scheduleRefresh, page === 'job' ? 5000 : 30000);
} else {
  setLive('off', 'static');
}
