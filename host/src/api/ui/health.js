// Health: the /metrics figures that matter, as small live charts (the last
// two minutes, one sample every 2 s).
import { get, el, every } from './api.js';

const SAMPLES = 60;
const series = new Map(); // chart name -> [values]
let last = null; // the previous sample: { t, m }

// Prometheus text: name{labels} value, summed over the series of a name
// whose labels contain `match`.
export function parse(text) {
  const m = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    const key = line.slice(0, at);
    const brace = key.indexOf('{');
    m.push({ name: brace < 0 ? key : key.slice(0, brace), labels: brace < 0 ? '' : key.slice(brace), value: Number(line.slice(at + 1)) });
  }
  return m;
}
const sum = (m, name, match = '') => m.filter((s) => s.name === name && s.labels.includes(match)).reduce((a, s) => a + s.value, 0);

const OUTCOMES = ['ok', 'failed', 'interrupted', 'dropped', 'refused'];
const charts = [
  ['events/s', (m, p, dt) => (sum(m, 'skillhost_events_total') - sum(p, 'skillhost_events_total')) / dt],
  ...OUTCOMES.map((o) => [`runs ${o}/s`, (m, p, dt) => (sum(m, 'skillhost_runs_total', `"${o}"`) - sum(p, 'skillhost_runs_total', `"${o}"`)) / dt]),
  ['queued events', (m) => sum(m, 'skillhost_queue_depth')],
  ['running instances', (m) => sum(m, 'skillhost_running_instances')],
  ['open events', (m) => sum(m, 'skillhost_open_events')],
  ['run latency ms (mean)', (m, p) => {
    const n = sum(m, 'skillhost_run_duration_seconds_count') - sum(p, 'skillhost_run_duration_seconds_count');
    const s = sum(m, 'skillhost_run_duration_seconds_sum') - sum(p, 'skillhost_run_duration_seconds_sum');
    return n > 0 ? (s / n) * 1e3 : 0;
  }],
];

function spark(values) {
  const w = 220; const h = 48;
  const max = Math.max(...values, 1e-9);
  const pts = values.map((v, i) => `${(i / (SAMPLES - 1)) * w},${h - 2 - (v / max) * (h - 4)}`).join(' ');
  const s = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  s.setAttribute('width', w); s.setAttribute('height', h); s.setAttribute('viewBox', `0 0 ${w} ${h}`);
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', pts); line.setAttribute('class', 'spark');
  s.append(line);
  return s;
}

const fmt = (v) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2));

async function sample() {
  const [text, health] = await Promise.all([get('/metrics'), get('/healthz')]);
  const m = parse(text);
  const t = performance.now() / 1e3;
  document.getElementById('health-summary').textContent = `${health.status}: ${health.flows} flows, ${health.skills} skills, `
    + `${health.subscriptions} subscriptions, ${health.open_events} open events; reloads ${health.reload.applied ?? 0} applied`;
  if (last) {
    const dt = Math.max(t - last.t, 1e-3);
    for (const [name, f] of charts) {
      const v = series.get(name) || [];
      v.push(Math.max(0, f(m, last.m, dt)));
      while (v.length > SAMPLES) v.shift();
      series.set(name, v);
    }
    document.getElementById('charts').replaceChildren(...charts.map(([name]) => {
      const v = series.get(name);
      return el('figure', { class: 'chart', 'data-chart': name }, spark(v), el('figcaption', {}, `${name}: `, el('b', {}, fmt(v[v.length - 1]))));
    }));
  }
  last = { t, m };
}

export function start() { every(2000, sample); }
