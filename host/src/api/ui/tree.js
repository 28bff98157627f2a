// A causation tree as `skillhost send` prints it (host/src/cli/render.rs).

export const short = (id) => id.slice(Math.max(0, id.length - 8));

// Rust's `{:.1?}` of a Duration.
export function took(ms) {
  const ns = Math.max(0, ms) * 1e6;
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(1)}s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(1)}ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)}µs`;
  return `${ns.toFixed(1)}ns`;
}

const eventLine = (t) => `${t.idn} ${short(t.event_id)} (matched ${t.matched})`;

function calls(r) {
  if (!r.calls || r.calls.length === 0) return '';
  const names = r.calls.map((c) => `${'>'.repeat(Math.max(0, c.depth - 1))}${c.skill}${c.error ? ' failed' : ''}`);
  return ` (called ${names.join(', ')})`;
}

function generations(r) {
  return (r.generations || []).map((g) => {
    let s = `; model ${g.model}: ${g.prompt_tokens}+${g.completion_tokens} tokens in ${took(g.latency_ms)}`;
    if (g.streamed) s += ', streamed';
    if (g.outcome !== 'ok') s += ` (${g.outcome})`;
    return s;
  }).join('');
}

export function runLine(r) {
  const why = r.reason || '';
  const t = took(r.duration_ms);
  const what = { ok: `ok in ${t}`, failed: `FAILED in ${t}: ${why}`, interrupted: `${why} after ${t}` }[r.outcome]
    || `${r.outcome}: ${why}`;
  return `${r.flow}/${r.skill || '?'} [${r.interrupt_mode}]${calls(r)} ${what}${generations(r)}`;
}

function runs(t, indent, out) {
  const later = t.children.filter((c) => !t.runs.some((r) => r.sent_events.includes(c.event_id)));
  t.runs.forEach((run, i) => {
    const last = i + 1 === t.runs.length && later.length === 0;
    out.push(`${indent}${last ? '└─ ' : '├─ '}${runLine(run)}`);
    const childIndent = indent + (last ? '   ' : '│  ');
    const children = t.children.filter((c) => run.sent_events.includes(c.event_id));
    children.forEach((child, j) => {
      const lastChild = j + 1 === children.length;
      out.push(`${childIndent}${lastChild ? '└─ ' : '├─ '}${eventLine(child)}`);
      runs(child, childIndent + (lastChild ? '   ' : '│  '), out);
    });
  });
  later.forEach((child, j) => {
    const last = j + 1 === later.length;
    out.push(`${indent}${last ? '└─ ' : '├─ '}${eventLine(child)} (from a command)`);
    runs(child, indent + (last ? '   ' : '│  '), out);
  });
}

export function tree(trace) {
  const out = [eventLine(trace)];
  runs(trace, '', out);
  return out.join('\n');
}

function descendants(t) {
  return t.children.flatMap((c) => [c, ...descendants(c)]);
}

// What `send` and `trace` print: the tree, the replies, the events sent.
export function eventText(e) {
  const out = [tree(e.trace)];
  if (e.replies.length) {
    out.push('replies:');
    for (const m of e.replies) {
      const actor = e.actors.find((a) => a.id === m.actor_id);
      out.push(`  ${actor ? actor.external_id : short(m.actor_id)} <- ${m.flow}/${m.skill}: ${m.text}`);
    }
  }
  const sent = descendants(e.trace);
  if (sent.length) {
    out.push('events sent:');
    for (const t of sent) out.push(`  ${t.idn} ${t.event_id} (depth ${t.depth}, matched ${t.matched})`);
  }
  if (e.status !== 'settled') out.push('(still running…)');
  return out.join('\n');
}

// Waits (a few seconds at a time) until an event has settled; calls
// `progress` with each view on the way.
export async function untilSettled(get, id, progress) {
  for (;;) {
    const e = await get(`/v1/events/${encodeURIComponent(id)}?wait=5`);
    progress(e);
    if (e.status === 'settled') return e;
  }
}
