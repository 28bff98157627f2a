// The documented HTTP API, with the token the console was opened with
// (its cookie, set by /ui?token=...) as `Authorization: Bearer`.

function token() {
  const name = `skillhost_token_${location.port}=`;
  const found = document.cookie.split('; ').find((c) => c.startsWith(name));
  return found ? decodeURIComponent(found.slice(name.length)) : null;
}

function headers(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

async function answer(resp) {
  const body = await resp.text();
  let value = body;
  try { value = JSON.parse(body); } catch { /* text, e.g. /metrics */ }
  if (!resp.ok) {
    const why = value && value.error ? value.error : `${resp.status} ${resp.statusText}`;
    throw new Error(why);
  }
  return value;
}

export async function get(path) {
  return answer(await fetch(path, { headers: headers() }));
}

export async function post(path, body) {
  const h = headers({ 'Content-Type': 'application/json' });
  return answer(await fetch(path, { method: 'POST', headers: h, body: JSON.stringify(body) }));
}

export const enc = encodeURIComponent;

// Elements without innerHTML: text stays text, whatever a skill wrote.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

// Runs `step` now and every `ms`, one at a time; errors go to the status line.
export function every(ms, step) {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try { await step(); setStatus(null); } catch (e) { setStatus(e.message); } finally { busy = false; }
  };
  tick();
  return setInterval(tick, ms);
}

export function setStatus(error) {
  const s = document.getElementById('status');
  s.textContent = error ? `error: ${error}` : 'live';
  s.className = error ? 'bad' : 'ok';
}
