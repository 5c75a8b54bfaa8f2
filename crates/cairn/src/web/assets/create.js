// "Add new → TI object": forms from the STIX tables, checked as you type against the
// server (a dry run of the create call), Add and Add-and-duplicate, an optional
// relationship to an object picked by search.
import { api, el, say, displayName } from './app.js';

const $ = (id) => document.getElementById(id);
const config = JSON.parse($('create-config').textContent);
const forms = config.forms;
const COMMON = new Set(forms.common.map((p) => p.name));
const typeSelect = $('type');
const status = $('status');

for (const t of forms.types) typeSelect.append(el('option', { value: t.type }, t.type));
for (const m of forms.tlp) $('tlp').append(el('option', { value: m.id }, m.v2 ? `${m.label} (TLP 2.0)` : m.label));

function formOf(type) {
  return forms.types.find((t) => t.type === type);
}

// ---- fields ------------------------------------------------------------------------------

function input(p, required) {
  const id = `f-${p.name}`;
  const attrs = { id, name: p.name, required, 'aria-required': required ? 'true' : null, dataset: { kind: p.kind, list: p.list ? '1' : '' } };
  let control;
  if (p.kind === 'bool') {
    control = el('input', { ...attrs, type: 'checkbox' });
  } else if (p.kind === 'json' || p.name === 'description' || p.name === 'pattern') {
    control = el('textarea', { ...attrs, rows: p.name === 'pattern' ? 2 : 3, spellcheck: p.name === 'description' ? 'true' : 'false' });
  } else if (p.kind === 'enum' && !p.list) {
    control = el('select', attrs, el('option', { value: '' }, ''), p.values.map((v) => el('option', { value: v }, v)));
  } else {
    const listId = p.values.length ? `v-${p.name}` : null;
    control = el('input', {
      ...attrs, type: p.kind === 'int' || p.kind === 'float' ? 'number' : 'text', list: listId,
      placeholder: p.kind === 'timestamp' ? '2024-01-31T00:00:00Z' : p.list ? 'value, value…' : null,
    });
    if (listId) return [label(p, required, control), el('datalist', { id: listId }, p.values.map((v) => el('option', { value: v })))];
  }
  return label(p, required, control);
}

function label(p, required, control) {
  return el('label', { class: 'field', for: control.id }, el('span', {}, p.name.replace(/_/g, ' '), required ? el('span', { class: 'req', title: 'required' }, ' *') : null), control,
    el('small', { class: 'field-error', id: `e-${p.name}` }));
}

// Draws the form for the chosen type, keeping the values of fields both forms have.
function drawFields(keep = {}) {
  const f = formOf(typeSelect.value);
  const box = $('fields');
  const names = new Set();
  const parts = [];
  for (const p of f.props) { names.add(p.name); parts.push(input(p, f.required.includes(p.name))); }
  for (const p of forms.common) if (!names.has(p.name)) parts.push(input(p, false));
  box.replaceChildren(...parts.flat());
  for (const [k, v] of Object.entries(keep)) setValue(k, v);
  if (typeSelect.value === 'indicator' && !valueOf($('f-valid_from'))) $('f-valid_from').value = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  if (typeSelect.value === 'indicator' && !valueOf($('f-pattern_type'))) setValue('pattern_type', 'stix');
}

function setValue(name, v) {
  const c = $(`f-${name}`);
  if (!c) return;
  if (c.type === 'checkbox') c.checked = !!v;
  else if (Array.isArray(v) && c.dataset.kind !== 'json') c.value = v.join(', ');
  else if (typeof v === 'object' && v !== null) c.value = JSON.stringify(v, null, 1);
  else c.value = v ?? '';
}

function valueOf(c) {
  return c ? (c.type === 'checkbox' ? c.checked : c.value.trim()) : '';
}

// The draft as the API takes it: empty fields left out, lists split, numbers and JSON parsed.
function draft() {
  const o = { type: typeSelect.value };
  const bad = [];
  for (const c of $('fields').querySelectorAll('[name]')) {
    const v = valueOf(c);
    if (v === '' || v === false) continue;
    const { kind, list } = c.dataset;
    if (c.type === 'checkbox') o[c.name] = true;
    else if (kind === 'json') { try { o[c.name] = JSON.parse(v); } catch (e) { bad.push(`${c.name}: not JSON (${e.message})`); } }
    else if (list) o[c.name] = v.split(',').map((x) => x.trim()).filter(Boolean).map((x) => (kind === 'int' ? Number(x) : x));
    else if (kind === 'int' || kind === 'float') o[c.name] = Number(v);
    else o[c.name] = v;
  }
  if ($('tlp').value) o.object_marking_refs = [$('tlp').value];
  return { object: o, bad };
}

function body() {
  const { object, bad } = draft();
  const b = { object };
  if ($('rel-target').value && $('rel-type').value.trim()) b.relationships = [{ type: $('rel-type').value.trim(), target: $('rel-target').value }];
  return { b, bad };
}

// ---- checking as you type --------------------------------------------------------------------

let timer = null;
let lastCheck = 0;

function showProblems(list) {
  $('problems').replaceChildren(...list.map((m) => el('li', {}, m)));
  for (const e of document.querySelectorAll('.field-error')) e.textContent = '';
  for (const c of $('fields').querySelectorAll('[name]')) c.removeAttribute('aria-invalid');
  for (const m of list) {
    const name = m.split(/[:.\[ ]/)[0];
    const c = $(`f-${name}`);
    if (c) { c.setAttribute('aria-invalid', 'true'); $(`e-${name}`).textContent = m.slice(name.length).replace(/^:\s*/, ''); }
  }
}

async function check() {
  const n = ++lastCheck;
  const { b, bad } = body();
  if (bad.length) { showProblems(bad); return false; }
  try {
    const r = await api('POST', '/api/v1/objects?dry_run=true', b);
    if (n === lastCheck) { showProblems([]); say(status, r.warnings.length ? r.warnings.join('; ') : 'Ready to add.'); }
    return true;
  } catch (e) {
    if (n === lastCheck) { showProblems(e.message.split('; ')); say(status, ''); }
    return false;
  }
}

function scheduleCheck() {
  clearTimeout(timer);
  timer = setTimeout(check, 300);
}

// ---- adding ---------------------------------------------------------------------------------------

async function add(duplicate) {
  clearTimeout(timer);
  const { b, bad } = body();
  if (bad.length) { showProblems(bad); return; }
  try {
    const r = await api('POST', '/api/v1/objects', b);
    const made = r.objects[0];
    if (!duplicate) { location.href = `/objects/${encodeURIComponent(made.id)}`; return; }
    // Keep the common metadata (tags, confidence, TLP, language, references) for the next one.
    const keep = {};
    for (const c of $('fields').querySelectorAll('[name]')) if (COMMON.has(c.name)) keep[c.name] = c.type === 'checkbox' ? c.checked : c.value;
    drawFields(keep);
    clearRelationship();
    showProblems([]);
    status.replaceChildren('Added ', el('a', { href: `/objects/${encodeURIComponent(made.id)}` }, `${displayName(made)} (${made.type})`),
      r.objects.length > 1 ? ` with ${r.objects.length - 1} relationship` : '', '. The next object keeps its tags, confidence and TLP.');
    status.classList.remove('error');
  } catch (e) {
    showProblems(e.message.split('; '));
  }
}

// ---- relationship target, picked by search --------------------------------------------------------

function clearRelationship() {
  $('rel-target').value = '';
  $('rel-search').value = '';
  $('rel-type').value = '';
  $('rel-picked').textContent = '';
  $('rel-results').replaceChildren();
}

let searchTimer = null;
$('rel-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    const keywords = $('rel-search').value.trim();
    if (!keywords) { $('rel-results').replaceChildren(); return; }
    try {
      const r = await api('POST', '/api/v1/search', { keywords, limit: 8 });
      $('rel-results').replaceChildren(...r.results.map((x) => el('li', {}, el('button', {
        type: 'button', class: 'link pick',
        onclick: () => pickTarget(x.object),
      }, `${displayName(x.object)} (${x.object.type})`))));
    } catch (e) {
      $('rel-results').replaceChildren(el('li', { class: 'error' }, e.message));
    }
  }, 250);
});

async function pickTarget(o) {
  $('rel-target').value = o.id;
  $('rel-picked').textContent = `Target: ${displayName(o)} (${o.type})`;
  $('rel-results').replaceChildren();
  try {
    const s = await api('GET', `/api/v1/relationships/suggest?source_type=${encodeURIComponent(typeSelect.value)}&target_type=${encodeURIComponent(o.type)}`);
    $('rel-types').replaceChildren(...s.suggested.map((t) => el('option', { value: t })));
    if (!$('rel-type').value && s.suggested.length) $('rel-type').value = s.suggested[0];
  } catch { /* suggestions are a convenience */ }
  scheduleCheck();
}

// ---- wiring -----------------------------------------------------------------------------------------

typeSelect.value = config.type && formOf(config.type) ? config.type : 'indicator';
drawFields();
typeSelect.addEventListener('change', () => {
  const keep = {};
  for (const c of $('fields').querySelectorAll('[name]')) keep[c.name] = c.type === 'checkbox' ? c.checked : c.value;
  drawFields(keep);
  scheduleCheck();
});
$('create').addEventListener('input', scheduleCheck);
$('create').addEventListener('change', scheduleCheck);
$('create').addEventListener('submit', (e) => { e.preventDefault(); add(false); });
$('add-dup').addEventListener('click', () => add(true));

if (config.duplicate) {
  api('GET', `/api/v1/objects/${encodeURIComponent(config.duplicate)}/duplicate`).then((r) => {
    const t = r.object;
    if (t.type && formOf(t.type)) typeSelect.value = t.type;
    const marking = (t.object_marking_refs || []).find((m) => forms.tlp.some((x) => x.id === m));
    if (marking) $('tlp').value = marking;
    drawFields(Object.fromEntries(Object.entries(t).filter(([k]) => k !== 'type' && k !== 'object_marking_refs')));
    say(status, 'Duplicated: change what differs, then Add.');
  }).catch((e) => say(status, e.message, true));
}
