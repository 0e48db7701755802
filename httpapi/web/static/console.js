// The operator console: actions of the HTTP admin API with the admin token.
// The token is asked for once and kept in sessionStorage (this tab only);
// destructive actions ask for confirmation (and a reason where the API
// wants one); a failure shows the API's own message. Only actions the API
// has are offered.

import { el, replace, byId, request, machinePath, xyz, words } from './dom.js';

const TOKEN_KEY = 'spallocd.admin-token';

const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || '',
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  forget: () => sessionStorage.removeItem(TOKEN_KEY),
};

let afterAction = () => {};

// onAction sets what runs after every successful action (a page refresh).
export function onAction(f) { afterAction = f; }

// ---- the dialog ----

const dialog = byId('action-dialog');

// An action: title, text (what will happen), fields ([{name, label, type:
// 'text'|'checkbox', required, placeholder}]), confirm (button text),
// danger (destructive: always confirmed), send(values) => {method, path,
// body}, done(reply) (optional).
async function run(action) {
  if (!action.danger && !(action.fields || []).length && token.get()) {
    try {
      await send(action, {});
      return;
    } catch (e) {
      openDialog(action, e.message);
      return;
    }
  }
  openDialog(action, '');
}

async function send(action, values) {
  const { method, path, body } = action.send(values);
  let reply;
  try {
    reply = await request(method, path, body, token.get());
  } catch (e) {
    if (e.status === 401) token.forget(); // ask again next time
    throw e;
  }
  if (action.done) action.done(reply);
  afterAction();
  return reply;
}

function openDialog(action, error) {
  const inputs = {};
  const fields = (action.fields || []).map((f) => {
    const input = el('input', {
      type: f.type || 'text', name: f.name, required: f.required, placeholder: f.placeholder,
      autocomplete: 'off', maxlength: f.type === 'checkbox' ? null : 1000,
    });
    inputs[f.name] = input;
    return f.type === 'checkbox'
      ? el('label', { class: 'check' }, input, ` ${f.label}`)
      : el('label', { class: 'field' }, f.label, input);
  });
  const tokenInput = el('input', { type: 'password', name: 'token', autocomplete: 'off', required: true });
  const tokenRow = el('label', { class: 'field token' }, 'Admin token (kept in this tab until you close it)', tokenInput);
  const errorBox = el('p', { class: 'error', role: 'alert', hidden: !error, text: error });
  const ok = el('button', { type: 'submit', class: action.danger ? 'danger' : 'primary', text: action.confirm || 'OK' });
  const cancel = el('button', { type: 'button', text: 'Cancel', onclick: () => dialog.close() });
  const form = el('form', { class: 'action-form' },
    el('h3', { text: action.title }),
    action.text ? el('p', { text: action.text }) : null,
    fields, tokenRow, errorBox,
    el('div', { class: 'buttons' }, cancel, ok));
  const showToken = () => { tokenRow.hidden = !!token.get(); tokenInput.required = !token.get(); };
  showToken();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!token.get()) token.set(tokenInput.value.trim());
    const values = {};
    for (const [name, input] of Object.entries(inputs)) values[name] = input.type === 'checkbox' ? input.checked : input.value.trim();
    ok.disabled = true;
    try {
      await send(action, values);
      dialog.close();
    } catch (e) {
      errorBox.textContent = e.message;
      errorBox.hidden = false;
      if (e.status === 401) tokenInput.value = '';
      showToken();
    } finally {
      ok.disabled = false;
    }
  });
  replace(dialog, form);
  dialog.showModal();
  (Object.values(inputs)[0] || (tokenRow.hidden ? ok : tokenInput)).focus();
}

// ---- the token button in the header ----

export function tokenButton() {
  const b = byId('token-button');
  if (!b) return;
  const show = () => {
    b.textContent = token.get() ? 'Forget admin token' : 'Admin token…';
    b.dataset.state = token.get() ? 'set' : 'unset';
  };
  b.addEventListener('click', () => {
    if (token.get()) {
      token.forget();
      show();
      return;
    }
    const input = el('input', { type: 'password', autocomplete: 'off', required: true });
    const form = el('form', { class: 'action-form' },
      el('h3', { text: 'Admin token' }),
      el('p', { text: 'Actions need the admin token of the server (admin_token_file). It is kept in this tab only.' }),
      el('label', { class: 'field' }, 'Token', input),
      el('div', { class: 'buttons' }, el('button', { type: 'button', text: 'Cancel', onclick: () => dialog.close() }),
        el('button', { type: 'submit', class: 'primary', text: 'Keep' })));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      token.set(input.value.trim());
      dialog.close();
      show();
    });
    replace(dialog, form);
    dialog.showModal();
    input.focus();
  });
  window.addEventListener('storage', show);
  dialog.addEventListener('close', show);
  show();
}

// ---- actions ----

// button offers action (its id names it in the page: data-action).
function button(label, cls, action) {
  return el('button', { type: 'button', class: `action ${cls || ''}`, 'data-action': action.id, text: label, onclick: () => run(action) });
}

const boardPath = (m, b) => `${machinePath(m)}/boards/${b.logical.join('/')}`;

const LINKS = ['east', 'north_east', 'north', 'west', 'south_west', 'south'];

// boardActions are the actions on board b of machine m that the API
// allows in its current state; deadLinks is the set of its dead link names.
export function boardActions(m, b, deadLinks) {
  const name = `board ${xyz(b.logical)} of ${m}`;
  const out = [];
  if (!b.out_of_service) {
    const fields = [{ name: 'reason', label: 'Reason', required: true, placeholder: 'e.g. FPGA errors on link 3' }];
    if (b.job_id) fields.push({ name: 'destroy_job', type: 'checkbox', label: `also destroy job ${b.job_id} (otherwise it keeps the board)` });
    out.push(button('Take out of service…', 'danger', {
      id: 'out_of_service', title: `Take ${name} out of service`, danger: true, confirm: 'Take out of service', fields,
      text: 'No job will be given this board until it is returned to service, also after a restart.',
      send: (v) => ({ method: 'POST', path: `${boardPath(m, b)}/out_of_service`, body: { reason: v.reason, destroy_job: !!v.destroy_job } }),
    }));
  } else {
    out.push(button('Return to service', '', {
      id: 'in_service', title: `Return ${name} to service`, confirm: 'Return to service',
      send: () => ({ method: 'POST', path: `${boardPath(m, b)}/in_service`, body: {} }),
    }));
  }
  const free = !b.job_id && !b.waiting_job_id;
  if (free && b.out_of_service && !b.dead) {
    out.push(button('Power on', 'danger', {
      id: 'power_on', title: `Power ${name} on`, danger: true, confirm: 'Power on',
      text: 'Switches the board on for maintenance through its BMP.',
      send: () => ({ method: 'POST', path: `${boardPath(m, b)}/power`, body: { on: true } }),
    }));
  }
  if (free && (b.power || b.pending_ops)) {
    out.push(button('Power off', 'danger', {
      id: 'power_off', title: `Power ${name} off`, danger: true, confirm: 'Power off',
      send: () => ({ method: 'POST', path: `${boardPath(m, b)}/power`, body: { on: false } }),
    }));
  }
  return el('div', { class: 'actions' }, out, linkTable(m, b, name, deadLinks));
}

function linkTable(m, b, name, deadLinks) {
  return el('table', { class: 'small links' },
    el('thead', {}, el('tr', {}, el('th', { text: 'Link' }), el('th', { text: 'State' }), el('th', { text: '' }))),
    el('tbody', {}, LINKS.map((l) => {
      const dead = deadLinks.has(l);
      return el('tr', { 'data-link': l },
        el('td', { text: words(l) }), el('td', { text: dead ? 'dead' : 'alive' }),
        el('td', {}, button(dead ? 'Mark alive' : 'Mark dead', 'small danger', {
          id: dead ? 'link_alive' : 'link_dead', title: `Mark link ${words(l)} of ${name} ${dead ? 'alive' : 'dead'}`, danger: true,
          confirm: dead ? 'Mark alive' : 'Mark dead',
          text: dead
            ? 'New allocations may use this link again (in both directions).'
            : 'New allocations avoid this link; running jobs keep their boards.',
          send: () => ({ method: 'PUT', path: `${boardPath(m, b)}/links/${l}`, body: { dead: !dead } }),
        })));
    })));
}

export function destroyJobButton(j) {
  return button('Destroy job…', 'danger', {
    id: 'destroy_job', title: `Destroy job ${j.job_id} of ${j.owner}`, danger: true, confirm: 'Destroy job',
    text: 'The job ends now and its boards are powered off; its owner sees the reason.',
    fields: [{ name: 'reason', label: 'Reason (the owner will see it)', required: true }],
    send: (v) => ({ method: 'POST', path: `/jobs/${j.job_id}/destroy`, body: { reason: v.reason } }),
  });
}

export function emergencyStopButton() {
  return button('Emergency stop…', 'danger', {
    id: 'emergency_stop', title: 'Emergency stop', danger: true, confirm: 'Stop everything',
    text: 'Destroys every job on every machine, powers every board off and refuses new jobs until an operator resumes.',
    fields: [{ name: 'reason', label: 'Reason', required: true, placeholder: 'e.g. cooling failure in the machine room' }],
    send: (v) => ({ method: 'POST', path: '/emergency_stop', body: { reason: v.reason } }),
  });
}

export function resumeButton() {
  return button('Resume', 'primary', {
    id: 'resume', title: 'Resume after the emergency stop', confirm: 'Resume',
    text: 'New jobs are accepted again.',
    send: () => ({ method: 'POST', path: '/resume', body: {} }),
  });
}
