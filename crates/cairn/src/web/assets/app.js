// Shared by every page: API calls with the session's CSRF token, and DOM building that
// only ever sets text (never HTML), so stored intelligence stays text.

export const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? '';
export const role = document.querySelector('meta[name="cairn-role"]')?.content ?? 'reader';

export class ApiError extends Error {
  constructor(message, status, data) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

// Calls the JSON API; answers the parsed body, or throws ApiError with the server's message.
export async function api(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf, Accept: 'application/json' } };
  if (body !== undefined) {
    if (body instanceof Blob || typeof body === 'string') {
      opts.body = body;
    } else {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
  }
  const r = await fetch(path, opts);
  const text = await r.text();
  let data = text;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: keep the text */ }
  if (r.status === 401) {
    location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
  }
  if (!r.ok) {
    const msg = (data && typeof data === 'object' && data.error) || (typeof data === 'string' && data) || `${r.status} ${r.statusText}`;
    throw new ApiError(msg, r.status, data);
  }
  return data;
}

// Builds an element. Children are nodes or text (appended as text nodes).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'value') e.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled') e[k] = !!v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

// Shows a message in a status line (role=status); errors get the error style.
export function say(node, text, isError = false) {
  if (!node) return;
  node.textContent = text;
  node.classList.toggle('error', isError);
}

// An SVG drawn by the server, shown as an image: an image cannot run scripts, whatever
// its text says.
export function svgImage(svg, alt) {
  return el('img', { alt, src: 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg) });
}

export function download(name, type, text) {
  const a = el('a', { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// What an object is called on screen.
export function displayName(o) {
  return o.name ?? o.value ?? o.pattern ?? o.relationship_type ?? o.id;
}

export function confirmAction(text) {
  return window.confirm(text);
}
