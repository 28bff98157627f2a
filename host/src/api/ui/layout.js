// A small layered layout, left to right: edges that close a cycle are set
// aside (drawn as back edges), every other node goes one column right of
// its furthest predecessor, and each column is ordered by the average row
// of its neighbours, a few sweeps each way (the barycenter heuristic).

export function layered(nodes, edges, { colGap = 90, rowGap = 14 } = {}) {
  const ids = nodes.map((n) => n.id);
  const out = new Map(ids.map((id) => [id, []]));
  for (const e of edges) out.get(e.from)?.push(e);

  // Back edges: those reaching a node still on the DFS stack.
  const state = new Map(); // id -> 1 on stack, 2 done
  const back = new Set();
  const indeg = new Map(ids.map((id) => [id, 0]));
  for (const e of edges) indeg.set(e.to, (indeg.get(e.to) || 0) + 1);
  const visit = (id) => {
    state.set(id, 1);
    for (const e of out.get(id) || []) {
      const s = state.get(e.to);
      if (s === 1) back.add(e);
      else if (!s) visit(e.to);
    }
    state.set(id, 2);
  };
  for (const id of ids.filter((i) => indeg.get(i) === 0)) if (!state.get(id)) visit(id);
  for (const id of ids) if (!state.get(id)) visit(id);
  const forward = edges.filter((e) => !back.has(e));

  // Longest-path layers over the forward edges (Kahn's order).
  const layer = new Map(ids.map((id) => [id, 0]));
  const remaining = new Map(ids.map((id) => [id, 0]));
  for (const e of forward) remaining.set(e.to, remaining.get(e.to) + 1);
  const ready = ids.filter((id) => remaining.get(id) === 0);
  while (ready.length) {
    const id = ready.shift();
    for (const e of forward.filter((f) => f.from === id)) {
      layer.set(e.to, Math.max(layer.get(e.to), layer.get(id) + 1));
      remaining.set(e.to, remaining.get(e.to) - 1);
      if (remaining.get(e.to) === 0) ready.push(e.to);
    }
  }

  const columns = [];
  for (const id of ids) (columns[layer.get(id)] ||= []).push(id);
  const row = new Map();
  const number = () => columns.forEach((col) => col.forEach((id, i) => row.set(id, i)));
  number();
  const neighbours = (id, dir) => forward
    .filter((e) => (dir > 0 ? e.to === id : e.from === id))
    .map((e) => row.get(dir > 0 ? e.from : e.to));
  for (let sweep = 0; sweep < 6; sweep++) {
    const dir = sweep % 2 === 0 ? 1 : -1;
    const order = dir > 0 ? columns.keys() : [...columns.keys()].reverse();
    for (const c of order) {
      const col = columns[c];
      if (!col) continue;
      const key = new Map(col.map((id, i) => {
        const ns = neighbours(id, dir);
        return [id, ns.length ? ns.reduce((a, b) => a + b, 0) / ns.length : i];
      }));
      col.sort((a, b) => key.get(a) - key.get(b));
      col.forEach((id, i) => row.set(id, i));
    }
  }

  // Coordinates: columns as wide as their widest node, rows stacked.
  const size = new Map(nodes.map((n) => [n.id, n]));
  const pos = new Map();
  let x = 0;
  let height = 0;
  for (const col of columns) {
    if (!col) continue;
    const w = Math.max(...col.map((id) => size.get(id).w));
    let y = 0;
    for (const id of col) {
      const n = size.get(id);
      pos.set(id, { x: x + (w - n.w) / 2, y, w: n.w, h: n.h, layer: layer.get(id) });
      y += n.h + rowGap;
    }
    height = Math.max(height, y);
    x += w + colGap;
  }
  // Shorter columns are centred on the tallest.
  for (const col of columns) {
    if (!col) continue;
    const last = pos.get(col[col.length - 1]);
    const shift = (height - (last.y + last.h + rowGap)) / 2;
    for (const id of col) pos.get(id).y += shift;
  }
  return { pos, back, width: Math.max(0, x - colGap), height };
}
