// Jobs: the rows of the live job tables, the job list over time (filters,
// pages), and the job page.

import {
  el, replace, byId, getJSON, APIError, machinePath, summary, fillTable, duration, when, now, ago, xyz, cfb, jobSize,
  requestInWords, stateBadge, jobColour, colourChips,
} from './dom.js';
import { machineCard } from './machine.js';
import { showJobActions } from './console.js';
import { pagedList } from './lists.js';
import { auditEntries } from './audit.js';

// waiting is how long a job waited (queued: so far) for its boards.
function waiting(j) {
  if (j.state === 'queued') return duration(now() - j.created_at);
  if (j.allocated_at) return duration(j.allocated_at - j.created_at);
  return '';
}

// runtime is how long a job has held (or held) boards.
function runtime(j) {
  if (!j.allocated_at) return '';
  return duration((j.destroyed_at || now()) - j.allocated_at);
}

// jobCells are the first cells of every job table: id (in the job's
// colour), state, owner, size, machine.
function jobCells(j) {
  const machines = j.machine || (j.waiting && j.waiting.positions.map((p) => p.machine).join(', ')) || '';
  return [
    el('td', {}, el('span', { class: 'chip', 'data-colour': jobColour(j.job_id) }), el('a', { href: `/jobs/${j.job_id}`, text: String(j.job_id) })),
    el('td', {}, stateBadge(j.state), j.power === true ? ' on' : j.power === false ? ' off' : ''),
    el('td', { text: j.owner }),
    el('td', { text: jobSize(j) }),
    el('td', { text: machines }),
  ];
}

function waitingCell(j) {
  return el('td', {}, waiting(j), j.waiting ? el('div', { class: 'why', text: j.waiting.reason }) : null);
}

// jobRow is a row of the live job tables (overview, machine queue).
function jobRow(j) {
  return el('tr', { 'data-job': j.job_id }, jobCells(j), waitingCell(j), el('td', { text: duration(now() - j.created_at) }));
}

export function fillJobRows(tbody, jobs, emptyText) {
  fillTable(tbody, jobs.map(jobRow), emptyText);
  colourChips(tbody);
}

// ---- the job list over time ----

// refreshJobList fills the job list page.
export const refreshJobList = pagedList({
  form: 'job-filters', ids: 'jobs', path: '/jobs', items: (reply) => reply.jobs, row: historyRow,
  empty: 'No job matches.', after: colourChips,
});

// historyRow is a row of the job list over time.
function historyRow(j) {
  return el('tr', { 'data-job': j.job_id }, jobCells(j),
    el('td', { text: when(j.created_at) }),
    waitingCell(j),
    el('td', { text: runtime(j) }),
    el('td', {}, j.destroyed_at ? when(j.destroyed_at) : '', j.reason ? el('div', { class: 'why reason', text: j.reason }) : null));
}

// ---- the job page ----

function keepaliveText(j) {
  const parts = [j.keepalive === null ? 'never times out' : `${j.keepalive} s`];
  if (j.last_seen) parts.push(`last seen ${ago(j.last_seen)}${j.keepalivehost ? ` from ${j.keepalivehost}` : ''}`);
  if (j.expires_at) parts.push(j.expires_at > now() ? `expires in ${duration(j.expires_at - now())}` : 'expiring now');
  return parts.join(' · ');
}

// timeLimitText says when the facility's maximum job duration ends a job.
function timeLimitText(at) {
  const left = at > now() ? `in ${duration(at - now())}` : 'now';
  return `destroyed ${left} (${when(at)}) unless it ends first: the server's maximum job duration`;
}

function mayRunOn(j) {
  if (!j.waiting) return null;
  const pos = j.waiting.positions.map((p) => el('span', { class: 'may-run' },
    el('a', { href: machinePath(p.machine), text: p.machine }), ` (#${p.position} in its queue)`));
  return ['May run on', pos.length ? pos.map((p, i) => (i ? [', ', p] : p)) : 'no machine (it will be destroyed)'];
}

export async function refreshJob() {
  const id = Number(document.body.dataset.job);
  const j = await getJSON(`/jobs/${id}`);
  replace(byId('job-state'), stateBadge(j.state));
  showJobActions(byId('job-actions'), j);
  replace(byId('job-summary'), summary([
    ['Owner', j.owner],
    ['State', j.state + (j.power === true ? ', powered on' : j.power === false ? ', powered off' : '')],
    ['Request', requestInWords(j)],
    j.width && ['Allocated', `${jobSize(j)} · ${j.width}×${j.height} chips`],
    ['Machine', j.machine ? el('a', { href: machinePath(j.machine), text: j.machine }) : '—'],
    mayRunOn(j),
    j.waiting && ['Why it waits', j.waiting.reason],
    ['Created', `${when(j.created_at)} (${ago(j.created_at)})`],
    ['Waited', waiting(j) || '—'],
    j.allocated_at && ['Runtime', runtime(j)],
    j.ready_at && ['Ready since', when(j.ready_at)],
    ['Keepalive', keepaliveText(j)],
    j.duration_expires_at && ['Time limit', timeLimitText(j.duration_expires_at)],
    j.destroyed_at && ['Destroyed', `${when(j.destroyed_at)} (${ago(j.destroyed_at)})`],
    j.reason && ['Reason', el('strong', { class: 'reason', text: j.reason })],
  ]));
  await refreshJobBoards(j);
  replace(byId('job-history'), (j.history || []).map((e) => el('li', { class: e.state },
    el('time', { text: when(e.at) }), stateBadge(e.state),
    e.detail && e.detail !== e.state ? ` ${e.detail}` : '',
    e.machine && !(e.detail || '').includes(e.machine) ? ` (${e.machine})` : '',
    e.power === true ? ' · power on' : e.power === false ? ' · power off' : '')));
  replace(byId('job-audit'), await auditEntries(`job=${id}`, 20));
  fillTable(byId('job-connections'), (j.connections || []).map((c) => el('tr', {},
    el('td', { text: `(${c.chip[0]}, ${c.chip[1]})` }), el('td', { text: c.hostname }))), 'none');
  fillTable(byId('job-ops'), (j.pending_ops || []).map((o) => el('tr', {},
    el('td', { text: o.op + (o.links ? ` ${o.links.join(', ')}` : '') }), el('td', { text: xyz(o.board) }),
    el('td', { text: duration(now() - o.created_at) }), el('td', { text: String(o.attempts) }),
    el('td', { text: o.last_error || '' }))), 'none');
}

// refreshJobBoards draws the job's machine with its boards lit: the boards
// it holds, or for a destroyed job the boards of its last allocation.
async function refreshJobBoards(j) {
  const mapBox = byId('job-map');
  const note = byId('job-map-note');
  const had = byId('job-had');
  had.hidden = true;
  if (j.state !== 'destroyed') {
    note.textContent = '';
    if (!j.machine) {
      replace(mapBox, el('p', { class: 'muted', text: 'No boards allocated yet.' }));
      return;
    }
    const m = await getJSON(machinePath(j.machine));
    replace(mapBox, machineCard('job', m, { lit: (b) => b.job_id === j.job_id }, true));
    return;
  }
  const allocs = await getJSON(`/jobs/${j.job_id}/boards`);
  if (!allocs.length) {
    note.textContent = '';
    replace(mapBox, el('p', { class: 'muted', text: 'The job never had boards.' }));
    return;
  }
  const lastAt = Math.max(...allocs.map((a) => a.allocated_at));
  const last = allocs.filter((a) => a.allocated_at === lastAt);
  fillTable(byId('job-had-rows'), allocs.map((a) => el('tr', {},
    el('td', { text: xyz(a.board) }), el('td', { text: cfb(a.physical) }), el('td', { text: a.machine }),
    el('td', { text: when(a.allocated_at) }), el('td', { text: a.freed_at ? when(a.freed_at) : '' }))), 'none');
  had.hidden = false;
  const held = new Set(last.map((a) => a.board.join(',')));
  let m;
  try {
    m = await getJSON(machinePath(last[0].machine));
  } catch (e) {
    if (!(e instanceof APIError) || e.status !== 404) throw e;
    note.textContent = `Machine ${last[0].machine} no longer exists; its boards are listed below.`;
    replace(mapBox);
    return;
  }
  note.textContent = last[0].retired
    ? `The boards it had (outlined) on ${m.name}, which was re-created since; positions may differ.`
    : 'The boards it had (outlined), shown in their current state.';
  const had3 = (b) => held.has(b.logical.join(','));
  replace(mapBox, machineCard('job', m, { lit: had3, outlined: had3 }, true));
}
