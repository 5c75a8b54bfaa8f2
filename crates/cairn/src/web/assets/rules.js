// Ingestion rules: the ordered list, enable toggles, reordering, the rule form with
// condition and action rows, dry runs and applying a rule to stored objects.
import { api, el, say } from './app.js';
import { ConditionBuilder } from './conditions.js';

const $ = (id) => document.getElementById(id);
const config = JSON.parse($('rules-config').textContent);
const status = $('status');
let rules = [];
let editing = null; // the rule being edited (null: a new one)
let builder = null;
let rawCondition = null; // a condition deeper than the builder shows, kept as it is

function describeCondition(c) {
  const groups = ConditionBuilder.groupsOf(c);
  if (!groups) return JSON.stringify(c);
  const text = groups.filter((g) => g.length).map((g) => g.map((x) => `${x.field} ${x.operator}${x.values ? ` ${x.values}` : ''}`).join(' AND '));
  return text.length ? text.join(' OR ') : 'every object';
}

function describeAction(a) {
  if (a === 'delete') return 'delete';
  const e = a.edit || {};
  const parts = [];
  if (e.add_tags?.length) parts.push(`add tags ${e.add_tags.join(', ')}`);
  if (e.remove_tags?.length) parts.push(`remove tags ${e.remove_tags.join(', ')}`);
  if (e.set_confidence !== undefined) parts.push(`confidence ${e.set_confidence}`);
  if (e.set_tlp) parts.push(`TLP ${e.set_tlp}`);
  if (e.extend_valid_until_days) parts.push(`valid_until +${e.extend_valid_until_days}d`);
  if (e.set_valid_until) parts.push(`valid_until ${e.set_valid_until}`);
  if (e.revoke) parts.push('revoke');
  return parts.join('; ') || 'edit';
}

// The rule as PUT/POST take it (no id).
function bodyOf(r) {
  const { id, ...rest } = r;
  return rest;
}

async function save(rule, body) {
  return api('PUT', `/api/v1/rules/${encodeURIComponent(rule.id)}`, body);
}

async function load() {
  try {
    const set = await api('GET', '/api/v1/rules');
    rules = set.rules;
    draw();
    say(status, `${rules.length} rules (rule set version ${set.version})`);
  } catch (e) {
    say(status, e.message, true);
  }
}

function draw() {
  const admin = config.can_admin;
  $('rules').tBodies[0].replaceChildren(...rules.map((r, i) => el('tr', { dataset: { id: r.id } },
    el('td', {}, admin ? [
      el('button', { type: 'button', class: 'up', 'aria-label': `Move ${r.name} up`, disabled: i === 0, onclick: () => swap(i, i - 1) }, '↑'),
      el('button', { type: 'button', class: 'down', 'aria-label': `Move ${r.name} down`, disabled: i === rules.length - 1, onclick: () => swap(i, i + 1) }, '↓'),
    ] : String(i + 1)),
    el('td', {}, r.name),
    el('td', {}, r.object_type),
    el('td', {}, describeCondition(r.condition)),
    el('td', {}, describeAction(r.action)),
    el('td', {}, (r.applies_to || []).join(', ')),
    el('td', {}, el('input', {
      type: 'checkbox', class: 'enabled', checked: r.enabled, disabled: !admin, 'aria-label': `${r.name} enabled`,
      onchange: async (e) => {
        try { await save(r, { ...bodyOf(r), enabled: e.target.checked }); await load(); } catch (err) { say(status, err.message, true); e.target.checked = !e.target.checked; }
      },
    })),
    el('td', {},
      el('button', { type: 'button', onclick: () => dryRunSaved(r) }, 'Dry run'),
      admin ? [
        el('button', { type: 'button', onclick: () => openForm(r) }, 'Edit'),
        el('button', { type: 'button', onclick: () => apply(r) }, 'Apply to stored'),
        el('button', { type: 'button', class: 'danger', onclick: () => remove(r) }, 'Delete'),
      ] : null))));
}

// Moves rule i to position j by exchanging their orders.
async function swap(i, j) {
  const a = rules[i];
  const b = rules[j];
  const oa = a.order ?? i;
  const ob = b.order ?? j;
  try {
    await save(a, { ...bodyOf(a), order: ob === oa ? ob + (j > i ? 1 : -1) : ob });
    await save(b, { ...bodyOf(b), order: oa });
    await load();
  } catch (e) {
    say(status, e.message, true);
  }
}

function showDryRun(d) {
  $('dry-run').replaceChildren(
    el('p', {}, `Matches ${d.matched} of ${d.scanned} stored objects${d.would_change !== undefined ? `; would change ${d.would_change}` : ''}.`),
    d.sample.length ? el('ul', {}, d.sample.map((s) => el('li', {},
      el('a', { href: `/objects/${encodeURIComponent(s.id)}` }, s.name || s.id), ` (${s.type}, ${s.source})`,
      s.would_change?.length ? ` — would change ${s.would_change.join(', ')}` : ''))) : null);
}

async function dryRunSaved(r) {
  try {
    const d = await api('POST', `/api/v1/rules/${encodeURIComponent(r.id)}/dry-run`);
    say(status, `${r.name}: matches ${d.matched} stored objects (of ${d.scanned}); would change ${d.would_change}.`);
  } catch (e) { say(status, e.message, true); }
}

async function apply(r) {
  if (!window.confirm(`Apply "${r.name}" to every stored object it selects? Each change is a new version.`)) return;
  try {
    const a = await api('POST', `/api/v1/rules/${encodeURIComponent(r.id)}/apply`);
    say(status, `${r.name}: ${a.matched} matched, ${a.changed} changed${a.errors.length ? `; errors: ${a.errors.join('; ')}` : ''}.`);
  } catch (e) { say(status, e.message, true); }
}

async function remove(r) {
  if (!window.confirm(`Delete the rule "${r.name}"?`)) return;
  try { await api('DELETE', `/api/v1/rules/${encodeURIComponent(r.id)}`); await load(); } catch (e) { say(status, e.message, true); }
}

// ---- the form ------------------------------------------------------------------------------------

for (const t of config.types) $('rule-type').append(el('option', { value: t }, t));
for (const t of config.tlp) $('a-tlp').append(el('option', { value: t }, t));

function tags(id) {
  return $(id).value.split(',').map((t) => t.trim()).filter(Boolean);
}

function formRule() {
  const action = document.querySelector('input[name=action]:checked').value;
  const rule = {
    name: $('rule-name').value.trim(),
    object_type: $('rule-type').value,
    applies_to: [...document.querySelectorAll('input[name=applies_to]:checked')].map((c) => c.value),
    enabled: $('rule-enabled').checked,
  };
  if (editing && editing.order !== undefined && editing.order !== null) rule.order = editing.order;
  const cond = rawCondition ?? builder.condition();
  if (cond) rule.condition = cond;
  if (action === 'delete') {
    rule.action = 'delete';
  } else {
    const e = {};
    if (tags('a-add-tags').length) e.add_tags = tags('a-add-tags');
    if (tags('a-remove-tags').length) e.remove_tags = tags('a-remove-tags');
    if ($('a-confidence').value !== '') e.set_confidence = Number($('a-confidence').value);
    if ($('a-tlp').value) e.set_tlp = $('a-tlp').value;
    if ($('a-extend').value !== '') e.extend_valid_until_days = Number($('a-extend').value);
    if ($('a-valid-until').value.trim()) e.set_valid_until = $('a-valid-until').value.trim();
    if ($('a-revoke').checked) e.revoke = true;
    rule.action = { edit: e };
  }
  return rule;
}

function openForm(r) {
  editing = r;
  $('rule-form-title').textContent = r ? `Edit "${r.name}"` : 'New rule';
  $('rule-name').value = r?.name ?? '';
  $('rule-type').value = r?.object_type ?? '*';
  $('rule-enabled').checked = r ? r.enabled : true;
  const applies = r?.applies_to ?? ['connector'];
  for (const c of document.querySelectorAll('input[name=applies_to]')) c.checked = applies.includes(c.value);
  const groups = r ? ConditionBuilder.groupsOf(r.condition) : [[]];
  rawCondition = groups ? null : r.condition;
  $('rule-groups').querySelectorAll('.group, pre').forEach((n) => n.remove());
  builder = new ConditionBuilder($('rule-groups'), config, groups || [[]]);
  if (rawCondition) $('rule-groups').append(el('pre', { class: 'json' }, JSON.stringify(rawCondition, null, 2)));
  else builder.draw();
  const e = r && r.action !== 'delete' ? r.action.edit || {} : {};
  document.querySelector(`input[name=action][value=${r?.action === 'delete' ? 'delete' : 'edit'}]`).checked = true;
  $('a-add-tags').value = (e.add_tags || []).join(', ');
  $('a-remove-tags').value = (e.remove_tags || []).join(', ');
  $('a-confidence').value = e.set_confidence ?? '';
  $('a-tlp').value = e.set_tlp ?? '';
  $('a-extend').value = e.extend_valid_until_days ?? '';
  $('a-valid-until').value = e.set_valid_until ?? '';
  $('a-revoke').checked = !!e.revoke;
  $('rule-problems').replaceChildren();
  $('dry-run').replaceChildren();
  $('rule-form').hidden = false;
  $('rule-name').focus();
}

if (config.can_admin) {
  $('new-rule').addEventListener('click', () => openForm(null));
  $('rule-add-group').addEventListener('click', () => builder.addGroup());
  $('rule-cancel').addEventListener('click', () => { $('rule-form').hidden = true; });
  $('rule-dry-run').addEventListener('click', async () => {
    try {
      showDryRun(await api('POST', '/api/v1/rules/dry-run', formRule()));
      $('rule-problems').replaceChildren();
    } catch (e) {
      $('rule-problems').replaceChildren(el('li', {}, e.message));
    }
  });
  $('rule-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      if (editing) await save(editing, formRule());
      else await api('POST', '/api/v1/rules', formRule());
      $('rule-form').hidden = true;
      await load();
    } catch (e) {
      $('rule-problems').replaceChildren(el('li', {}, e.message));
    }
  });
}

load();
