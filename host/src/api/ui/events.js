// Live events: the events this host accepted, newest first, filterable;
// one clicked shows its run tree.
import { get, el, every, enc } from './api.js';
import { eventText, untilSettled, short } from './tree.js';

const rows = new Map(); // event id -> { summary, tr }
let cursor = null;
let open = null;

// Actors seen in accepted events, for the other views: id -> ActorView.
export const actors = new Map();

function actorName(s) {
  return s.actors.length ? s.actors.map((a) => a.external_id).join(', ') : '(global)';
}

function matches(s, filter) {
  if (!filter) return true;
  const text = [s.idn, s.event_id, actorName(s), s.integration_idn, s.connector_idn, s.status].join(' ').toLowerCase();
  return filter.toLowerCase().split(/\s+/).every((w) => text.includes(w));
}

function render(s) {
  const tr = el('tr', { class: `ev ${s.status}`, 'data-id': s.event_id, onclick: () => select(s.event_id) },
    el('td', {}, s.accepted_at.slice(11, 23)),
    el('td', {}, el('b', {}, s.idn), ' ', el('span', { class: 'muted' }, short(s.event_id))),
    el('td', {}, actorName(s)),
    el('td', {}, `${s.integration_idn}/${s.connector_idn}`),
    el('td', { class: s.matched ? '' : 'warn' }, String(s.matched)),
    el('td', { class: 'status' }, s.status));
  const old = rows.get(s.event_id);
  if (old) old.tr.replaceWith(tr);
  else document.getElementById('event-rows').prepend(tr);
  rows.set(s.event_id, { summary: s, tr });
  tr.hidden = !matches(s, document.getElementById('event-filter').value);
  tr.classList.toggle('sel', s.event_id === open);
  document.getElementById('events-empty').hidden = rows.size > 0;
}

function learnActors(list) {
  let added = false;
  for (const a of list) {
    if (!actors.has(a.id)) { actors.set(a.id, a); added = true; }
  }
  if (added) document.dispatchEvent(new CustomEvent('actors'));
}

async function poll() {
  const q = cursor === null ? '?limit=200' : `?after=${enc(cursor)}&limit=200`;
  const page = await get(`/v1/events${q}`);
  for (const s of page.events) {
    render(s);
    learnActors(s.actors);
    if (s.status === 'pending') follow(s);
  }
  cursor = page.next;
}

const following = new Set();
// A pending event's row is updated when it settles.
async function follow(s) {
  if (following.has(s.event_id)) return;
  following.add(s.event_id);
  try {
    const e = await untilSettled(get, s.event_id, () => {});
    render({ ...s, status: e.status, matched: e.matched });
  } finally {
    following.delete(s.event_id);
  }
}

export async function select(id) {
  open = id;
  for (const { tr } of rows.values()) tr.classList.toggle('sel', tr.dataset.id === id);
  const pane = document.getElementById('event-detail');
  const pre = el('pre', { class: 'tree', id: 'event-tree' });
  pane.replaceChildren(el('h3', {}, `event ${id}`), pre);
  const e = await untilSettled(get, id, (view) => {
    if (open === id) pre.textContent = eventText(view);
  });
  learnActors(e.actors);
}

export function start() {
  document.getElementById('event-filter').addEventListener('input', (ev) => {
    for (const { summary, tr } of rows.values()) tr.hidden = !matches(summary, ev.target.value);
  });
  every(1000, poll);
}
