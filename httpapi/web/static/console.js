// The operator console: actions of the HTTP admin API with an admin token.
// The token is asked for once, checked with the server (whoami: a wrong
// one is refused at once and never kept), and kept with its holder's name
// in sessionStorage (this tab only) until the operator signs out;
// destructive actions ask for confirmation (and a reason where the API
// wants one); a failure shows the API's own message. Only actions the API
// has are offered.

import { el, replace, keep, byId, request, machinePath, xyz, words } from './dom.js';

const TOKEN_KEY = 'spallocd.admin-token';
const NAME_KEY = 'spallocd.admin-name';

const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || '',
  name: () => sessionStorage.getItem(NAME_KEY) || '',
  forget: () => {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(NAME_KEY);
    showSignedIn();
  },
};

// signIn checks secret with the server and keeps it with its holder's
// name; a token the server refuses throws the server's error.
async function signIn(secret) {
  const { name } = await request('GET', '/whoami', undefined, secret);
  sessionStorage.setItem(TOKEN_KEY, secret);
  sessionStorage.setItem(NAME_KEY, name);
  showSignedIn();
}

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
    if (e.status === 401) token.forget(); // no longer a token (the server was reconfigured): ask again
    throw e;
  }
  if (action.done) action.done(reply);
  afterAction();
  return reply;
}

// tokenField is the labelled password input of a dialog that asks for the
// token.
function tokenField(label) {
  const input = el('input', { type: 'password', name: 'token', autocomplete: 'off', required: true });
  return { input, row: el('label', { class: 'field token' }, label, input) };
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
  const tok = tokenField('Admin token (kept in this tab until you sign out or close it)');
  const errorBox = el('p', { class: 'error', role: 'alert', hidden: !error, text: error });
  const ok = el('button', { type: 'submit', class: action.danger ? 'danger' : 'primary', text: action.confirm || 'OK' });
  const cancel = el('button', { type: 'button', text: 'Cancel', onclick: () => dialog.close() });
  const form = el('form', { class: 'action-form' },
    el('h3', { text: action.title }),
    action.text ? el('p', { text: action.text }) : null,
    fields, tok.row, errorBox,
    el('div', { class: 'buttons' }, cancel, ok));
  const showToken = () => { tok.row.hidden = !!token.get(); tok.input.required = !token.get(); };
  showToken();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const values = {};
    for (const [name, input] of Object.entries(inputs)) values[name] = input.type === 'checkbox' ? input.checked : input.value.trim();
    ok.disabled = true;
    try {
      if (!token.get()) await signIn(tok.input.value.trim());
      await send(action, values);
      dialog.close();
    } catch (e) {
      errorBox.textContent = e.message;
      errorBox.hidden = false;
      if (e.status === 401) tok.input.value = '';
      showToken();
    } finally {
      ok.disabled = false;
    }
  });
  replace(dialog, form);
  dialog.showModal();
  (Object.values(inputs)[0] || (tok.row.hidden ? ok : tok.input)).focus();
}

// ---- signing in and out (the header) ----

// showSignedIn shows who is signed in, and the button to sign in or out.
function showSignedIn() {
  const b = byId('token-button');
  const who = byId('signed-in');
  if (!b || !who) return;
  const name = token.get() ? token.name() : '';
  b.textContent = token.get() ? 'Sign out' : 'Sign in…';
  b.title = token.get() ? 'forget the admin token in this tab' : 'enter an admin token for the actions of the console';
  b.dataset.state = token.get() ? 'set' : 'unset';
  replace(who, token.get() ? ['signed in as ', el('strong', { text: name || 'an operator' })] : null);
  who.hidden = !token.get();
}

function signInDialog() {
  const tok = tokenField('Token');
  const errorBox = el('p', { class: 'error', role: 'alert', hidden: true });
  const ok = el('button', { type: 'submit', class: 'primary', text: 'Sign in' });
  const form = el('form', { class: 'action-form' },
    el('h3', { text: 'Sign in with an admin token' }),
    el('p', { text: 'The console\'s actions need one of the server\'s admin tokens; what you do is recorded under its name. It is kept in this tab only.' }),
    tok.row, errorBox,
    el('div', { class: 'buttons' }, el('button', { type: 'button', text: 'Cancel', onclick: () => dialog.close() }), ok));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    ok.disabled = true;
    try {
      await signIn(tok.input.value.trim());
      dialog.close();
    } catch (e) {
      errorBox.textContent = e.message;
      errorBox.hidden = false;
      tok.input.value = '';
    } finally {
      ok.disabled = false;
    }
  });
  replace(dialog, form);
  dialog.showModal();
  tok.input.focus();
}

// tokenButton sets up the header's sign-in: a kept token is checked again
// (the server may have been reconfigured since), and forgotten if refused.
export function tokenButton() {
  const b = byId('token-button');
  if (!b) return;
  b.addEventListener('click', () => (token.get() ? token.forget() : signInDialog()));
  showSignedIn();
  if (token.get()) {
    signIn(token.get()).catch((e) => { if (e.status === 401 || e.status === 403) token.forget(); });
  }
}

// ---- actions ----
//
// An action is {id, label, cls, ...} as run() takes it. offer() shows a set
// of actions as buttons and keeps the very same buttons while a refresh
// offers the same actions: a click never lands on a button that a live
// update has just replaced.

function button(action) {
  return el('button', { type: 'button', class: `action ${action.cls || ''}`, 'data-action': action.id, text: action.label, onclick: () => run(action) });
}

// actionKey is everything a button does: what it says, asks and sends.
function actionKey(a) {
  return [a.id, a.label, a.title, a.text, a.fields, a.send({})];
}

// offer fills target with the buttons of actions (falsy entries skipped),
// laid out by render; unchanged actions keep their buttons.
function offer(target, actions, render = (buttons) => buttons) {
  const list = actions.filter(Boolean);
  keep(target, JSON.stringify(list.map(actionKey)), () => render(list.map(button)));
}

const boardPath = (m, b) => `${machinePath(m)}/boards/${b.logical.join('/')}`;

const LINKS = ['east', 'north_east', 'north', 'west', 'south_west', 'south'];

// showBoardActions offers in target the actions on board b of machine m
// that the API allows in its current state; deadLinks is the set of its
// dead link names.
export function showBoardActions(target, m, b, deadLinks) {
  const name = `board ${xyz(b.logical)} of ${m}`;
  const free = !b.job_id && !b.waiting_job_id;
  const actions = [
    b.out_of_service ? {
      id: 'in_service', label: 'Return to service', title: `Return ${name} to service`, confirm: 'Return to service',
      send: () => ({ method: 'POST', path: `${boardPath(m, b)}/in_service`, body: {} }),
    } : {
      id: 'out_of_service', label: 'Take out of service…', cls: 'danger', title: `Take ${name} out of service`, danger: true,
      confirm: 'Take out of service',
      fields: [{ name: 'reason', label: 'Reason', required: true, placeholder: 'e.g. FPGA errors on link 3' },
        b.job_id && { name: 'destroy_job', type: 'checkbox', label: `also destroy job ${b.job_id} (otherwise it keeps the board)` }].filter(Boolean),
      text: 'No job will be given this board until it is returned to service, also after a restart.',
      send: (v) => ({ method: 'POST', path: `${boardPath(m, b)}/out_of_service`, body: { reason: v.reason, destroy_job: !!v.destroy_job } }),
    },
    free && b.out_of_service && !b.dead && {
      id: 'power_on', label: 'Power on', cls: 'danger', title: `Power ${name} on`, danger: true, confirm: 'Power on',
      text: 'Switches the board on for maintenance through its BMP.',
      send: () => ({ method: 'POST', path: `${boardPath(m, b)}/power`, body: { on: true } }),
    },
    free && (b.power || b.pending_ops) && {
      id: 'power_off', label: 'Power off', cls: 'danger', title: `Power ${name} off`, danger: true, confirm: 'Power off',
      send: () => ({ method: 'POST', path: `${boardPath(m, b)}/power`, body: { on: false } }),
    },
  ];
  const links = LINKS.map((l) => {
    const dead = deadLinks.has(l);
    return {
      id: dead ? 'link_alive' : 'link_dead', label: dead ? 'Mark alive' : 'Mark dead', cls: 'small danger',
      title: `Mark link ${words(l)} of ${name} ${dead ? 'alive' : 'dead'}`, danger: true, confirm: dead ? 'Mark alive' : 'Mark dead',
      text: dead
        ? 'New allocations may use this link again (in both directions).'
        : 'New allocations avoid this link; running jobs keep their boards.',
      send: () => ({ method: 'PUT', path: `${boardPath(m, b)}/links/${l}`, body: { dead: !dead } }),
    };
  });
  offer(target, [...actions, ...links], (buttons) => {
    const main = buttons.slice(0, buttons.length - LINKS.length);
    const linkButtons = buttons.slice(-LINKS.length);
    return el('div', { class: 'actions' }, main, el('table', { class: 'small links' },
      el('thead', {}, el('tr', {}, el('th', { text: 'Link' }), el('th', { text: 'State' }), el('th', { text: '' }))),
      el('tbody', {}, LINKS.map((l, i) => el('tr', { 'data-link': l },
        el('td', { text: words(l) }), el('td', { text: deadLinks.has(l) ? 'dead' : 'alive' }), el('td', {}, linkButtons[i]))))));
  });
}

// showJobActions offers in target the actions on job j.
export function showJobActions(target, j) {
  offer(target, [j.state !== 'destroyed' && {
    id: 'destroy_job', label: 'Destroy job…', cls: 'danger', title: `Destroy job ${j.job_id} of ${j.owner}`, danger: true,
    confirm: 'Destroy job',
    text: 'The job ends now and its boards are powered off; its owner sees the reason.',
    fields: [{ name: 'reason', label: 'Reason (the owner will see it)', required: true }],
    send: (v) => ({ method: 'POST', path: `/jobs/${j.job_id}/destroy`, body: { reason: v.reason } }),
  }]);
}

const emergencyStop = {
  id: 'emergency_stop', label: 'Emergency stop…', cls: 'danger', title: 'Emergency stop', danger: true, confirm: 'Stop everything',
  text: 'Destroys every job on every machine, powers every board off and refuses new jobs until an operator resumes.',
  fields: [{ name: 'reason', label: 'Reason', required: true, placeholder: 'e.g. cooling failure in the machine room' }],
  send: (v) => ({ method: 'POST', path: '/emergency_stop', body: { reason: v.reason } }),
};

const resume = {
  id: 'resume', label: 'Resume', cls: 'primary', title: 'Resume after the emergency stop', confirm: 'Resume',
  text: 'New jobs are accepted again.',
  send: () => ({ method: 'POST', path: '/resume', body: {} }),
};

// drainAction drains machine m, or ends its drain.
function drainAction(m) {
  const path = machinePath(m.name);
  return m.drained ? {
    id: 'undrain', label: 'Undrain', title: `Undrain machine ${m.name}`, confirm: 'Undrain',
    text: 'The machine takes new allocations again; queued jobs may start on it.',
    send: () => ({ method: 'POST', path: `${path}/undrain`, body: {} }),
  } : {
    id: 'drain', label: 'Drain…', cls: 'danger', title: `Drain machine ${m.name}`, danger: true, confirm: 'Drain',
    text: 'No new jobs are allocated on this machine until it is undrained (also after a restart); running jobs continue, and jobs queued for it wait with the reason.',
    fields: [{ name: 'reason', label: 'Reason (queued jobs show it)', required: true, placeholder: 'e.g. maintenance on Tuesday' }],
    send: (v) => ({ method: 'POST', path: `${path}/drain`, body: { reason: v.reason } }),
  };
}

// showMachineActions offers in target the actions on machine m: drain or
// undrain, and the emergency stop (or resume while it is in force).
export function showMachineActions(target, m, stopped) {
  offer(target, [drainAction(m), stopped ? resume : emergencyStop]);
}

// resumeButton is the banner's way out of an emergency stop.
export function resumeButton() { return button(resume); }
