// The console's entry: tabs, and each view started once.
import * as events from './events.js';
import * as chat from './chat.js';
import * as instances from './instances.js';
import * as graph from './graph.js';
import * as health from './health.js';

const views = { events, chat, instances, graph, health };
const started = new Set();

function show(name) {
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('on', b.dataset.tab === name);
  for (const s of document.querySelectorAll('section.tab')) s.classList.toggle('on', s.id === name);
  if (!started.has(name)) {
    started.add(name);
    views[name].start();
  }
  views[name].shown?.();
  history.replaceState(null, '', `#${name}`);
}

for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => show(b.dataset.tab));
// The event list runs from the start: other views learn actors from it.
started.add('events');
events.start();
show(location.hash.slice(1) in views ? location.hash.slice(1) : 'events');
