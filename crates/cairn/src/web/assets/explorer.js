// The intel explorer: the search builder, results, facets, paging and bulk actions.
// The search is kept in the URL (?s=JSON) so it can be bookmarked and shared.
import { api, el, say, displayName } from './app.js';
import { ConditionBuilder } from './conditions.js';

const config = JSON.parse(document.getElementById('explorer-config').textContent);
const $ = (id) => document.getElementById(id);
const status = $('status');

let state = { types: '', keywords: '', groups: [[]], sort: 'modified', order: 'desc' };
try {
  const s = new URLSearchParams(location.search).get('s');
  if (s) state = { ...state, ...JSON.parse(s) };
} catch { /* a damaged bookmark: start empty */ }

let cursors = [null]; // cursor of each page shown so far; the last is the current page's
let nextCursor = null;
let results = [];
const selected = new Map(); // id → type

// ---- the builder -------------------------------------------------------------------

for (const t of config.types) $('types').append(el('option', { value: t }, t));

const builder = new ConditionBuilder($('groups'), config, state.groups);
state.groups = builder.groups;

function request(after) {
  const req = { facets: true, limit: 50, sort: state.sort, order: state.order };
  if (state.types) req.types = [state.types];
  if (state.keywords.trim()) req.keywords = state.keywords.trim();
  const where = builder.condition();
  if (where) req.where = where;
  if (after) req.after = after;
  return req;
}

// ---- results -------------------------------------------------------------------------

function sortButtons() {
  document.querySelectorAll('button.sort').forEach((b) => {
    const on = b.dataset.sort === state.sort;
    b.closest('th').setAttribute('aria-sort', on ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none');
    b.classList.toggle('on', on);
  });
}

function drawResults() {
  const body = $('results').querySelector('tbody');
  body.replaceChildren(...results.map((r) => {
    const o = r.object;
    const box = el('input', {
      type: 'checkbox', 'aria-label': `Select ${displayName(o)}`, checked: selected.has(o.id),
      onchange: (e) => { if (e.target.checked) selected.set(o.id, o.type); else selected.delete(o.id); drawBulk(); },
    });
    return el('tr', { dataset: { id: o.id } },
      el('td', {}, box),
      el('td', {}, o.type),
      el('td', { class: 'name' }, el('a', { href: `/objects/${encodeURIComponent(o.id)}` }, displayName(o))),
      el('td', {}, r.source),
      el('td', {}, o.confidence ?? ''),
      el('td', {}, (r.tlp || []).join(', ')),
      el('td', {}, (o.labels || []).map((t) => el('span', { class: 'tag' }, t))),
      el('td', {}, o.valid_until ?? ''),
      el('td', {}, o.modified ?? ''));
  }));
  $('prev').disabled = cursors.length <= 1;
  $('next').disabled = !nextCursor;
  $('select-all').checked = results.length > 0 && results.every((r) => selected.has(r.object.id));
  sortButtons();
  drawBulk();
}

const FACETS = [['type', 'Type'], ['source', 'Source'], ['tlp', 'TLP'], ['tags', 'Tags'], ['confidence', 'Confidence']];

// A facet value as conditions: added to every group, so it narrows the whole search.
function facetClauses(key, value) {
  if (key === 'confidence') {
    if (value === 'none') return [{ field: 'confidence', operator: 'IsNull', values: '' }];
    const [lo, hi] = value.split('-');
    return [{ field: 'confidence', operator: 'GreaterThanEqual', values: lo }, { field: 'confidence', operator: 'LessThanEqual', values: hi }];
  }
  return [{ field: key, operator: 'Equals', values: value.replace(/,/g, '\\,') }];
}

function drawFacets(f) {
  const box = $('facets');
  if (!f) { box.replaceChildren(); return; }
  box.replaceChildren(el('p', { class: 'muted' }, `${f.total} objects`), ...FACETS.map(([key, label]) => el('section', {},
    el('h2', {}, label),
    el('ul', {}, (f[key] || []).map((v) => el('li', {},
      el('button', {
        type: 'button', class: 'link facet', dataset: { facet: key, value: v.value },
        onclick: () => {
          if (key === 'type') { state.types = v.value; $('types').value = v.value; } else {
            builder.narrow(facetClauses(key, v.value));
          }
          search();
        },
      }, v.value), ' ', el('span', { class: 'count' }, v.count)))))));
}

async function load(after) {
  say(status, 'Searching…');
  try {
    const r = await api('POST', '/api/v1/search', request(after));
    results = r.results;
    nextCursor = r.next;
    drawResults();
    drawFacets(r.facets);
    const lag = r.index_lag ? ` (the index is ${r.index_lag} versions behind; refresh shortly for the newest)` : '';
    say(status, `${results.length} shown${nextCursor ? ', more on the next page' : ''}${lag}`);
  } catch (e) {
    say(status, e.message, true);
  }
}

function search() {
  cursors = [null];
  history.replaceState(null, '', `?s=${encodeURIComponent(JSON.stringify(state))}`);
  load(null);
}

// ---- bulk actions ------------------------------------------------------------------------

function drawBulk() {
  const bar = $('bulk');
  bar.hidden = selected.size === 0;
  $('selected-count').textContent = `${selected.size} selected`;
}

// Tags change on objects of one type at a time (as in Sentinel), so a slip of the mouse
// cannot retag a whole mixed selection.
function oneType() {
  const types = new Set(selected.values());
  if (types.size > 1) {
    say(status, `Tags are changed on objects of one type at a time; the selection has ${[...types].join(', ')}.`, true);
    return false;
  }
  return true;
}

function selectedTags() {
  return ($('bulk-tags')?.value || '').split(',').map((t) => t.trim()).filter(Boolean);
}

async function bulk(what, call) {
  if (selected.size === 0) return;
  try {
    say(status, `${what}…`);
    const msg = await call([...selected.keys()]);
    selected.clear();
    await load(cursors[cursors.length - 1]);
    say(status, msg);
  } catch (e) {
    say(status, `${what} failed: ${e.message}`, true);
  }
}

if (config.can_write) {
  $('bulk-add').addEventListener('click', () => {
    const tags = selectedTags();
    if (tags.length === 0) { say(status, 'Type the tags to add first.', true); return; }
    if (!oneType()) return;
    bulk('Adding tags', async (ids) => { const r = await api('POST', '/api/v1/tags', { ids, add: tags }); return `Tagged ${r.changed ?? ids.length} objects.`; });
  });
  $('bulk-remove').addEventListener('click', () => {
    const tags = selectedTags();
    if (tags.length === 0) { say(status, 'Type the tags to remove first.', true); return; }
    if (!oneType()) return;
    bulk('Removing tags', async (ids) => { const r = await api('POST', '/api/v1/tags', { ids, remove: tags }); return `Untagged ${r.changed ?? ids.length} objects.`; });
  });
  $('bulk-delete').addEventListener('click', () => {
    if (!window.confirm(`Delete ${selected.size} objects? Their history is kept; they stop being current.`)) return;
    bulk('Deleting', async (ids) => {
      for (const id of ids) await api('DELETE', `/api/v1/objects/${encodeURIComponent(id)}`);
      return `Deleted ${ids.length} objects.`;
    });
  });
  $('bulk-export').addEventListener('click', () => {
    const target = $('bulk-target').value;
    if (!target) { say(status, 'Pick an export target first.', true); return; }
    bulk('Exporting', async (ids) => {
      const r = await api('POST', '/api/v1/exports', { target, ids });
      return `Export to ${target}: ${JSON.stringify(r)}`;
    });
  });
  api('GET', '/api/v1/export-targets').then((r) => {
    for (const t of r.targets || []) $('bulk-target').append(el('option', { value: t.name }, t.name));
  }).catch(() => { /* readers of targets only; the button then says what is missing */ });
}

// ---- wiring -------------------------------------------------------------------------------

$('types').value = state.types;
$('keywords').value = state.keywords;
$('types').addEventListener('change', (e) => { state.types = e.target.value; });
$('keywords').addEventListener('input', (e) => { state.keywords = e.target.value; });
$('search').addEventListener('submit', (e) => { e.preventDefault(); search(); });
$('add-group').addEventListener('click', () => builder.addGroup());
$('clear').addEventListener('click', () => {
  state = { types: '', keywords: '', groups: [[]], sort: 'modified', order: 'desc' };
  builder.groups = state.groups;
  $('types').value = ''; $('keywords').value = '';
  builder.draw();
  search();
});
document.querySelectorAll('button.sort').forEach((b) => b.addEventListener('click', () => {
  if (state.sort === b.dataset.sort) state.order = state.order === 'asc' ? 'desc' : 'asc';
  else { state.sort = b.dataset.sort; state.order = b.dataset.sort === 'name' || b.dataset.sort === 'type' || b.dataset.sort === 'source' ? 'asc' : 'desc'; }
  search();
}));
$('select-all').addEventListener('change', (e) => {
  for (const r of results) { if (e.target.checked) selected.set(r.object.id, r.object.type); else selected.delete(r.object.id); }
  drawResults();
});
// A TAXII collection serves a simple saved filter: the type, and the sources and tags
// this search asks for with Equals (in its first group).
$('as-collection')?.addEventListener('click', () => {
  const q = new URLSearchParams();
  if (state.types) q.set('types', state.types);
  const first = builder.groups[0] || [];
  for (const [field, key] of [['source', 'sources'], ['tags', 'tags']]) {
    const values = first.filter((c) => c.field === field && c.operator === 'Equals').map((c) => c.values).join(', ');
    if (values) q.set(key, values);
  }
  location.href = `/admin?${q}#add-collection`;
});
$('next').addEventListener('click', () => { if (nextCursor) { cursors.push(nextCursor); load(nextCursor); } });
$('prev').addEventListener('click', () => { if (cursors.length > 1) { cursors.pop(); load(cursors[cursors.length - 1]); } });

builder.draw();
search();
