// Instances: per flow and persona, the state fields (value, default,
// scope), the queue and what is running; a running skill is watched until
// it ends.
import { get, el, every, enc } from './api.js';
import { actors } from './events.js';
import { short } from './tree.js';

let flows = [];
let busy = [];
let chosen = null; // flow key
let wasRunning = false;
let ended = false; // a run of the chosen instance ended while watched

const persona = () => document.getElementById('persona').value;
const personaOrNull = () => (persona() === 'global' ? null : persona());

function listPersonas() {
  const select = document.getElementById('persona');
  const keep = select.value;
  const options = [el('option', { value: 'global' }, 'global instance')];
  const seen = new Set();
  for (const a of actors.values()) {
    if (seen.has(a.persona_id)) continue;
    seen.add(a.persona_id);
    options.push(el('option', { value: a.persona_id }, `${a.external_id} (${short(a.persona_id)})`));
  }
  select.replaceChildren(...options);
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  else if (options.length > 1) select.value = options[1].value;
}

const busyOf = (flow) => busy.find((b) => b.flow === flow && b.persona === personaOrNull());

function listFlows() {
  const ul = document.getElementById('flow-list');
  ul.replaceChildren(...flows.map((f) => {
    const b = busyOf(f.key);
    const badge = b ? el('span', { class: 'badge' }, b.running ? `running, ${b.queued} queued` : `${b.queued} queued`) : null;
    return el('li', { class: f.key === chosen ? 'sel' : '', 'data-flow': f.key, onclick: () => choose(f.key) }, f.key, ' ', badge);
  }));
}

async function detail() {
  if (!chosen) return;
  const pane = document.getElementById('instance-detail');
  const s = await get(`/v1/flows/${enc(chosen)}/instances/${enc(persona())}/state`);
  const b = busyOf(chosen);
  const fields = Object.keys(s.state);
  const table = fields.length
    ? el('table', { class: 'list', id: 'state-table' },
      el('thead', {}, el('tr', {}, el('th', {}, 'field'), el('th', {}, 'value'), el('th', {}, 'default'), el('th', {}, 'scope'))),
      el('tbody', {}, fields.map((k) => el('tr', { 'data-field': k },
        el('td', {}, k),
        el('td', { class: s.state[k] === (s.defaults[k] ?? '') ? 'muted' : '' }, s.state[k] === '' ? '""' : s.state[k]),
        el('td', { class: 'muted' }, s.defaults[k] === null ? '—' : JSON.stringify(s.defaults[k])),
        el('td', {}, s.scopes[k])))))
    : el('p', { class: 'muted' }, 'This flow declares no state fields.');
  const runningNow = Boolean(b && b.running);
  if (wasRunning && !runningNow) ended = true;
  if (runningNow) ended = false;
  wasRunning = runningNow;
  let activity;
  if (b && b.dispatches.length) {
    activity = el('ol', { class: 'queue' }, b.dispatches.map((d, i) => el('li', {},
      el('b', {}, i === 0 && b.running ? 'running ' : 'queued '), `${d.skill} for event ${short(d.event_id)}`)));
  } else {
    activity = el('p', { class: 'muted' }, ended ? 'The run ended; the state above is after it.' : 'Idle: nothing running or queued.');
  }
  pane.replaceChildren(el('h3', {}, `${chosen} · ${persona() === 'global' ? 'global' : `persona ${short(persona())}`}`),
    table, el('h4', {}, 'Queue'), activity);
}

function choose(key) {
  chosen = key;
  wasRunning = false;
  ended = false;
  listFlows();
  detail();
}

async function poll() {
  busy = await get('/v1/instances');
  listFlows();
  await detail();
}

export async function start() {
  document.getElementById('persona').addEventListener('change', () => { wasRunning = false; ended = false; listFlows(); detail(); });
  document.addEventListener('actors', listPersonas);
  listPersonas();
  flows = await get('/v1/flows');
  listFlows();
  every(1000, poll);
}
