// The relationship builder: one source, many targets picked by search, a type per row
// from the spec's suggestions for that pair, common metadata once.
import { api, el, say, displayName } from './app.js';

const $ = (id) => document.getElementById(id);
const config = JSON.parse($('rel-config').textContent);
let source = null;
const targets = []; // { object, type }

for (const m of config.tlp) $('tlp').append(el('option', { value: m.id }, m.v2 ? `${m.label} (TLP 2.0)` : m.label));

// A search box that offers up to 8 objects to pick.
function picker(input, list, onPick) {
  let timer = null;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const keywords = input.value.trim();
      if (!keywords) { list.replaceChildren(); return; }
      try {
        const r = await api('POST', '/api/v1/search', { keywords, limit: 8 });
        list.replaceChildren(...r.results.map((x) => el('li', {}, el('button', {
          type: 'button', class: 'link pick', onclick: () => { list.replaceChildren(); input.value = ''; onPick(x.object); },
        }, `${displayName(x.object)} (${x.object.type})`))));
      } catch (e) {
        list.replaceChildren(el('li', { class: 'error' }, e.message));
      }
    }, 250);
  });
}

async function suggestions(targetType) {
  if (!source) return [];
  try {
    const r = await api('GET', `/api/v1/relationships/suggest?source_type=${encodeURIComponent(source.type)}&target_type=${encodeURIComponent(targetType)}`);
    return r.suggested;
  } catch { return []; }
}

async function drawTargets() {
  const rows = [];
  for (const [i, t] of targets.entries()) {
    const options = await suggestions(t.object.type);
    if (!t.type && options.length) t.type = options[0];
    const listId = `types-${i}`;
    rows.push(el('tr', {},
      el('td', {}, el('a', { href: `/objects/${encodeURIComponent(t.object.id)}` }, `${displayName(t.object)} (${t.object.type})`)),
      el('td', {},
        el('input', { class: 'rel-type', list: listId, value: t.type || '', 'aria-label': 'Relationship type', oninput: (e) => { t.type = e.target.value.trim(); } }),
        el('datalist', { id: listId }, options.map((o) => el('option', { value: o })))),
      el('td', {}, el('button', { type: 'button', 'aria-label': 'Remove target', onclick: () => { targets.splice(i, 1); drawTargets(); } }, '×'))));
  }
  $('targets').tBodies[0].replaceChildren(...rows);
}

function setSource(o) {
  source = o;
  $('source-picked').replaceChildren('Source: ', el('strong', {}, `${displayName(o)} (${o.type})`));
  for (const t of targets) t.type = '';
  drawTargets();
}

picker($('source-search'), $('source-results'), setSource);
picker($('target-search'), $('target-results'), (o) => { targets.push({ object: o, type: '' }); drawTargets(); });

$('builder').addEventListener('submit', async (e) => {
  e.preventDefault();
  const problems = [];
  if (!source) problems.push('Pick a source object.');
  if (targets.length === 0) problems.push('Add at least one target.');
  targets.forEach((t, i) => { if (!t.type) problems.push(`Target ${i + 1}: choose a relationship type.`); });
  $('problems').replaceChildren(...problems.map((p) => el('li', {}, p)));
  if (problems.length) return;
  const common = {};
  if ($('tlp').value) common.object_marking_refs = [$('tlp').value];
  if ($('confidence').value !== '') common.confidence = Number($('confidence').value);
  const labels = $('labels').value.split(',').map((x) => x.trim()).filter(Boolean);
  if (labels.length) common.labels = labels;
  if ($('description').value.trim()) common.description = $('description').value.trim();
  try {
    const r = await api('POST', '/api/v1/relationships', {
      source_ref: source.id, targets: targets.map((t) => ({ target_ref: t.object.id, relationship_type: t.type })), common,
    });
    $('status').replaceChildren(`Created ${r.objects.length} relationships from `,
      el('a', { href: `/objects/${encodeURIComponent(source.id)}` }, displayName(source)), '.',
      r.warnings.length ? ` Note: ${r.warnings.join('; ')}` : '');
    targets.length = 0;
    drawTargets();
  } catch (err) {
    $('problems').replaceChildren(...err.message.split('; ').map((p) => el('li', {}, p)));
  }
});

if (config.source) {
  api('GET', `/api/v1/objects/${encodeURIComponent(config.source)}`).then((r) => setSource(r.object)).catch((e) => say($('status'), e.message, true));
}
