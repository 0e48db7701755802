// Lists over time (the job list, the audit log): a form of filters whose
// values live in the URL (a reload or a shared link shows the same list),
// a table of rows, and pages.

import { el, byId, getJSON, APIError, fillTable } from './dom.js';

// datetime-local inputs hold local time without a zone; the URL and the
// API hold Unix seconds.
function toLocalInput(unix) {
  if (!unix) return '';
  const d = new Date(unix * 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function fromLocalInput(v) { return v ? String(Math.floor(new Date(v).getTime() / 1000)) : ''; }

// pagedList makes the refresher of a list page. spec:
//   form     id of the filter form: each field is named for its URL and
//            API parameter; a select named machine is filled with the
//            machines; datetime-local fields are converted;
//   ids      prefix of the page's elements: -rows (tbody), -page, -prev,
//            -next, -error, -reset;
//   path     the API path of the list; items(reply) its rows' data;
//   row(item) a table row; empty the text of an empty list;
//   after(tbody) what to do once the rows are in (optional).
// The refresher takes the page's refresh (run when the filters change).
export function pagedList(spec) {
  // The page's elements are looked up on the first refresh: the module is
  // loaded on every page.
  let form;
  let fields;
  let names;
  const part = (name) => byId(`${spec.ids}-${name}`);
  const defaultLimit = () => (form.elements.limit ? form.elements.limit.querySelector('[selected]')?.value : '') || '50';

  const params = () => {
    const q = new URLSearchParams(location.search);
    return Object.fromEntries(names.filter((k) => q.get(k)).map((k) => [k, q.get(k)]));
  };
  const setParams = (p) => {
    const q = new URLSearchParams();
    for (const k of names) if (p[k] !== undefined && p[k] !== '' && !(k === 'offset' && Number(p[k]) === 0)) q.set(k, p[k]);
    history.replaceState(null, '', `${location.pathname}${q.toString() ? `?${q}` : ''}`);
  };

  let ready = false;
  async function setUp(refresh) {
    ready = true;
    form = byId(spec.form);
    fields = [...form.elements].filter((f) => f.name);
    names = [...fields.map((f) => f.name), 'offset'];
    const sel = form.elements.machine;
    if (sel) sel.append(...(await getJSON('/machines')).map((m) => el('option', { value: m.name, text: m.name })));
    const p = params();
    for (const f of fields) {
      f.value = f.type === 'datetime-local' ? toLocalInput(Number(p[f.name])) : p[f.name] || (f.name === 'limit' ? defaultLimit() : '');
    }
    const apply = (ev) => {
      if (ev) ev.preventDefault();
      setParams(Object.fromEntries(fields.map((f) => [f.name, f.type === 'datetime-local' ? fromLocalInput(f.value) : f.value.trim()])));
      refresh();
    };
    form.addEventListener('submit', apply);
    form.addEventListener('change', apply);
    part('reset').addEventListener('click', () => { form.reset(); apply(); });
    const turn = (dir) => {
      const q = params();
      const limit = Number(q.limit || defaultLimit());
      setParams({ ...q, offset: Math.max(0, Number(q.offset || 0) + dir * limit) });
      refresh();
    };
    part('prev').addEventListener('click', () => turn(-1));
    part('next').addEventListener('click', () => turn(1));
  }

  return async function refreshList(refresh) {
    if (!ready) await setUp(refresh);
    const shown = location.search;
    const query = new URLSearchParams({ limit: defaultLimit(), ...params() }).toString();
    const rows = part('rows');
    const err = part('error');
    let reply;
    try {
      reply = await getJSON(`${spec.path}?${query}`);
      err.hidden = true;
    } catch (e) {
      // A filter the API refuses: its message, and no rows.
      if (!(e instanceof APIError) || e.status !== 400) throw e;
      err.textContent = e.message;
      err.hidden = false;
      reply = { total: 0, offset: 0 };
    }
    const items = err.hidden ? spec.items(reply) : [];
    fillTable(rows, items.map(spec.row), err.hidden ? spec.empty : 'The filters above are not valid.');
    if (spec.after) spec.after(rows);
    const first = reply.total ? reply.offset + 1 : 0;
    const last = reply.offset + items.length;
    part('page').textContent = `${first}–${last} of ${reply.total}`;
    part('prev').disabled = reply.offset === 0;
    part('next').disabled = last >= reply.total;
    rows.dataset.shown = shown; // the filters the rows answer
  };
}
