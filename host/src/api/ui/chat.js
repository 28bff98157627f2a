// Conversations: an actor's messages and the agent's replies, and a box to
// send a user_message or any event (`/event IDN k=v ...`, as `skillhost chat`).
import { get, post, el, every, enc, setStatus } from './api.js';
import { actors } from './events.js';
import { eventText, untilSettled } from './tree.js';

let current = null; // the actor id whose conversation is shown
let visible = false;

function parseArgs(words) {
  return words.filter((w) => w.trim()).map((w) => {
    const at = w.indexOf('=');
    if (at < 1) throw new Error(`argument \`${w}\` is not name=value`);
    return { name: w.slice(0, at).trim(), value: w.slice(at + 1) };
  });
}

// A plain line is a user_message; `/event IDN k=v ...` is any event.
export function parseLine(line) {
  if (!line.startsWith('/event')) return { idn: 'user_message', arguments: [{ name: 'text', value: line }] };
  const [idn, ...rest] = line.slice('/event'.length).trim().split(/\s+/);
  if (!idn) throw new Error('usage: /event IDN k=v ...');
  return { idn, arguments: parseArgs(rest) };
}

function who() {
  const picked = current && actors.get(current);
  const typed = document.getElementById('chat-user').value.trim() || 'web';
  if (picked && picked.external_id === typed) return { actor_id: picked.id };
  return { integration_idn: 'sandbox', connector_idn: 'sandbox', actor: { external_id: typed } };
}

async function send(submission) {
  const out = document.getElementById('chat-tree');
  const receipt = await post('/v1/events', submission);
  out.textContent = `accepted ${submission.idn} as event ${receipt.event_id}: ${receipt.matched} subscription(s) matched`;
  const e = await untilSettled(get, receipt.event_id, (view) => { out.textContent = eventText(view); });
  const me = e.actors[0];
  if (me) {
    if (!actors.has(me.id)) { actors.set(me.id, me); document.dispatchEvent(new CustomEvent('actors')); }
    pick(me.id);
  }
  await refresh();
}

async function refresh() {
  if (!current) return;
  const c = await get(`/v1/actors/${enc(current)}/conversation?limit=200`);
  const box = document.getElementById('turns');
  const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  box.replaceChildren(...c.turns.map((t) => el('div', { class: `turn ${t.kind}`, title: `${t.timestamp} · event ${t.event_id}` },
    el('span', { class: 'who' }, t.kind === 'user_message' ? c.actor.external_id : 'agent'), t.text)));
  if (c.turns.length === 0) box.append(el('p', { class: 'muted' }, 'No messages yet.'));
  if (atEnd) box.scrollTop = box.scrollHeight;
}

function pick(id) {
  current = id;
  const a = actors.get(id);
  if (a) document.getElementById('chat-user').value = a.external_id;
  listActors();
}

function listActors() {
  const ul = document.getElementById('actor-list');
  ul.replaceChildren(...[...actors.values()].map((a) => el('li', {
    class: a.id === current ? 'sel' : '', onclick: () => { pick(a.id); refresh(); },
  }, el('b', {}, a.external_id), ' ', el('span', { class: 'muted' }, `${a.integration_idn}/${a.connector_idn}`))));
  if (actors.size === 0) ul.append(el('li', { class: 'muted' }, 'none yet'));
}

function guarded(fn) {
  return async (ev) => {
    ev.preventDefault();
    try { await fn(); } catch (e) { setStatus(e.message); document.getElementById('chat-tree').textContent = `error: ${e.message}`; }
  };
}

export function start() {
  document.getElementById('say').addEventListener('submit', guarded(async () => {
    const input = document.getElementById('say-text');
    const line = input.value.trim();
    if (!line) return;
    const parsed = parseLine(line);
    input.value = '';
    await send({ ...parsed, ...who() });
  }));
  document.getElementById('send-event').addEventListener('submit', guarded(async () => {
    const idn = document.getElementById('event-idn').value.trim();
    const args = parseArgs(document.getElementById('event-args').value.split('\n'));
    const global = document.getElementById('event-global').checked;
    const target = global ? { integration_idn: 'sandbox', connector_idn: 'sandbox' } : who();
    await send({ idn, arguments: args, ...target });
  }));
  document.getElementById('chat-user').addEventListener('change', () => {
    const typed = document.getElementById('chat-user').value.trim();
    const known = [...actors.values()].find((a) => a.external_id === typed && a.integration_idn === 'sandbox');
    current = known ? known.id : null;
    listActors();
    refresh();
  });
  document.addEventListener('actors', listActors);
  listActors();
  every(1500, () => (visible ? refresh() : null));
}



export function shown() { visible = true; }
