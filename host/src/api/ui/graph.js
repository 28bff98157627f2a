// The flow graph: events → subscriptions → skills → events seen sent,
// from GET /v1/graph, drawn as SVG with the layout of layout.js.
import { get, el, setStatus } from './api.js';
import { layered } from './layout.js';

const SVG = 'http://www.w3.org/2000/svg';
const svg = (tag, attrs = {}, ...children) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};

const textWidth = (s) => 12 + s.length * 7;
const filters = (s) => [s.integration_idn, s.connector_idn].some((x) => x !== null)
  ? ` ${s.integration_idn ?? '*'}/${s.connector_idn ?? '*'}` : '';

export function draw(g) {
  const warned = new Set();
  for (const w of g.warnings) for (const m of w.matchAll(/event `([^`]+)`/g)) warned.add(m[1]);
  const nodes = [];
  const byId = new Map();
  const add = (id, label, kind, classes) => {
    if (byId.has(id)) return;
    const n = { id, label, kind, classes, w: textWidth(label), h: 26 };
    nodes.push(n);
    byId.set(id, n);
  };
  for (const e of g.events) {
    const classes = ['event'];
    if (e.subscriptions === 0) classes.push('unsubscribed');
    if (e.unmatched > 0) classes.push('dead');
    if (warned.has(e.idn)) classes.push('warned');
    add(`e:${e.idn}`, e.idn, 'event', classes);
  }
  for (const s of g.skills) add(`s:${s.flow}/${s.skill}`, `${s.flow}/${s.skill}`, 'skill', ['skill']);
  const edges = [];
  for (const s of g.subscriptions) {
    const to = `s:${s.flow}/${s.skill}`;
    add(to, `${s.flow}/${s.skill}`, 'skill', ['skill']);
    edges.push({ from: `e:${s.event}`, to, label: `${s.interrupt_mode}${filters(s)}`, kind: 'sub' });
  }
  for (const s of g.sends) {
    edges.push({ from: `s:${s.flow}/${s.skill}`, to: `e:${s.event}`, label: `sent ×${s.count}`, kind: 'send' });
  }
  // Nodes on no edge (an unused declaration) are left out of the drawing; the
  // warnings list them.
  const linked = new Set(edges.flatMap((e) => [e.from, e.to]));
  const shown = nodes.filter((n) => linked.has(n.id));
  const { pos, back, width, height } = layered(shown, edges, { colGap: 150 });
  const pad = 20;
  const root = svg('svg', {
    id: 'graph-svg', width: width + 2 * pad, height: height + 2 * pad + 30,
    viewBox: `${-pad} ${-pad} ${width + 2 * pad} ${height + 2 * pad + 30}`,
  });
  root.append(svg('defs', {}, svg('marker', {
    id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse',
  }, svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + a.w; const y1 = a.y + a.h / 2;
    const x2 = b.x; const y2 = b.y + b.h / 2;
    let d;
    if (back.has(e) || x2 <= x1) {
      // Around the bottom, back to the left.
      const drop = height + 10;
      d = `M${x1},${y1} C${x1 + 60},${drop} ${x2 - 60},${drop} ${x2},${y2}`;
    } else {
      const mid = (x1 + x2) / 2;
      d = `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
    }
    const path = svg('path', { d, class: `edge ${e.kind}${back.has(e) ? ' back' : ''}`, 'marker-end': 'url(#arrow)' });
    path.append(svg('title', {}, `${e.from.slice(2)} → ${e.to.slice(2)}: ${e.label}`));
    root.append(path);
    const lx = back.has(e) || x2 <= x1 ? (x1 + x2) / 2 : x2 - 8;
    const ly = back.has(e) || x2 <= x1 ? height + 4 : y2 - 5;
    root.append(svg('text', { x: lx, y: ly, class: 'edge-label', 'text-anchor': back.has(e) || x2 <= x1 ? 'middle' : 'end' }, e.label));
  }
  for (const n of shown) {
    const p = pos.get(n.id);
    const g2 = svg('g', { class: `node ${n.classes.join(' ')}`, 'data-node': n.id, transform: `translate(${p.x},${p.y})` });
    g2.append(svg('rect', { width: p.w, height: p.h, rx: n.kind === 'event' ? 13 : 3 }));
    g2.append(svg('text', { x: p.w / 2, y: 17, 'text-anchor': 'middle' }, n.label));
    root.append(g2);
  }
  return root;
}

async function refresh() {
  const g = await get('/v1/graph');
  document.getElementById('graph-view').replaceChildren(draw(g),
    el('p', { class: 'muted' }, `Sends read from ${g.trees_read} accepted event(s)' trees.`));
  const ul = document.getElementById('graph-warnings');
  const unsubscribed = g.events.filter((e) => e.unmatched > 0)
    .map((e) => `event \`${e.idn}\` was seen ${e.unmatched} time(s) with no subscription matching it: it triggered nothing`);
  ul.replaceChildren(...[...g.warnings, ...unsubscribed].map((w) => el('li', {}, w)));
}

export function start() {}
// Redrawn each time the tab is shown: the sends grow with traffic.
export function shown() { refresh().catch((e) => setStatus(e.message)); }
