// Who did what: the audit log page, and the entries of one job or board
// on their own pages.

import { el, getJSON, machinePath, when, xyz, words } from './dom.js';
import { pagedList } from './lists.js';

const ACTIONS = {
  destroy_job: 'destroyed', board_out_of_service: 'took out of service', board_in_service: 'returned to service',
  board_power: 'switched power', link: 'changed a link', drain: 'drained', undrain: 'undrained',
  emergency_stop: 'stopped everything', resume: 'resumed',
};

const actionText = (e) => ACTIONS[e.action] || words(e.action);

// target links what an entry acted on to its page.
function target(e) {
  if (e.board && e.machine) return el('a', { href: machinePath(e.machine), text: `board ${xyz(e.board)} of ${e.machine}` });
  if (e.job_id) return el('a', { href: `/jobs/${e.job_id}`, text: e.target });
  if (e.machine) return el('a', { href: machinePath(e.machine), text: e.target });
  return e.target;
}

function auditRow(e) {
  return el('tr', { 'data-audit': e.id, 'data-action': e.action },
    el('td', { text: when(e.at) }), el('td', {}, el('strong', { text: e.by })), el('td', { text: e.from || '' }),
    el('td', { text: actionText(e) }), el('td', {}, target(e)), el('td', { class: 'reason', text: e.reason || '' }));
}

// refreshAudit fills the audit log page.
export const refreshAudit = pagedList({
  form: 'audit-filters', ids: 'audit', path: '/audit', items: (reply) => reply.entries, row: auditRow,
  empty: 'No change matches.',
});

// auditEntries lists the latest entries of a query (e.g. job=7) as lines,
// with a link to all of them on the audit page.
export async function auditEntries(query, limit) {
  const reply = await getJSON(`/audit?${query}&limit=${limit}`);
  const items = reply.entries.map((e) => el('li', { 'data-action': e.action },
    el('time', { text: when(e.at) }), el('strong', { text: e.by }), ` ${actionText(e)}`,
    e.reason ? [': ', el('span', { class: 'reason', text: e.reason })] : ''));
  return [
    items.length ? el('ol', { class: 'audit-lines' }, items) : el('p', { class: 'muted', text: 'No operator has changed it.' }),
    reply.total > items.length ? el('a', { href: `/audit?${query}`, text: `all ${reply.total} changes →` }) : null,
  ];
}
