// Connectors and export targets: health, run now, objects per day, and the add forms.
import { api, el, say, svgImage } from './app.js';

const $ = (id) => document.getElementById(id);
const status = $('status');

function field(label, value) {
  return [el('dt', {}, label), el('dd', {}, value ?? '—')];
}

// Objects per day from this connector, drawn by the server from a KQL query.
async function perDay(name, box) {
  const q = `union ThreatIntelIndicators, ThreatIntelObjects | where SourceSystem == "${name.replace(/["\\]/g, '')}" and TimeGenerated > ago(30d) `
    + '| summarize Objects = count() by bin(TimeGenerated, 1d) | render columnchart';
  try {
    const r = await api('POST', '/api/v1/query', { query: q, chart: true });
    box.replaceChildren(r.svg ? svgImage(r.svg, `Objects per day from ${name}`) : el('p', { class: 'muted' }, r.chart_error || 'no chart'));
  } catch (e) {
    box.replaceChildren(el('p', { class: 'error' }, e.message));
  }
}

async function run(c, button) {
  button.disabled = true;
  say(status, `Polling ${c.name}…`);
  try {
    const n = await api('POST', `/api/v1/connectors/${encodeURIComponent(c.name)}/run`);
    say(status, `${c.name}: received ${n.received}, created ${n.created}, new versions ${n.new_versions}, unchanged ${n.unchanged}, dropped by rules ${n.dropped}, rejected ${n.rejected}.`);
  } catch (e) {
    say(status, `${c.name}: ${e.message}`, true);
  }
  button.disabled = false;
  load();
}

async function load() {
  try {
    const r = await api('GET', '/api/v1/connectors');
    $('connectors').replaceChildren(...r.connectors.map((c) => {
      const chart = el('div', { class: 'chart' }, el('span', { class: 'muted' }, 'Loading…'));
      const button = el('button', { type: 'button', class: 'run', onclick: (e) => run(c, e.target) }, 'Run now');
      const pause = el('button', {
        type: 'button', class: 'pause',
        onclick: async () => {
          try {
            await api('POST', `/api/v1/connectors/${encodeURIComponent(c.name)}/${c.paused ? 'resume' : 'pause'}`);
            say(status, `${c.name}: ${c.paused ? 'resumed' : 'paused; Run now still polls it'}.`);
            load();
          } catch (e) { say(status, e.message, true); }
        },
      }, c.paused ? 'Resume' : 'Pause');
      const n = c.last_counts || {};
      const card = el('section', { class: 'card connector', dataset: { name: c.name } },
        el('h3', {}, c.name, ' ', c.last_error ? el('span', { class: 'badge revoked' }, 'failing') : el('span', { class: 'muted' }, c.last_success ? 'healthy' : 'not polled yet'),
          c.paused ? el('span', { class: 'muted' }, ' · paused') : null),
        el('dl', {},
          field('Collection', `${c.api_root} · ${c.collection}`), field('Authentication', c.auth),
          field('Every', c.interval), field('Last poll', c.last_poll), field('Last success', c.last_success),
          field('Last error', c.last_error ? el('span', { class: 'error' }, c.last_error) : null),
          field('Last poll counts', `received ${n.received ?? 0}, created ${n.created ?? 0}, new versions ${n.new_versions ?? 0}, unchanged ${n.unchanged ?? 0}, dropped ${n.dropped ?? 0}, rejected ${n.rejected ?? 0}`)),
        el('div', { class: 'row' }, button, pause), chart);
      perDay(c.name, chart);
      return card;
    }));
    if (r.connectors.length === 0) $('connectors').replaceChildren(el('p', { class: 'muted' }, 'No connectors yet.'));
    const t = await api('GET', '/api/v1/export-targets');
    $('targets').tBodies[0].replaceChildren(...t.targets.map((x) => el('tr', {},
      el('td', {}, x.name), el('td', {}, x.api_root), el('td', {}, x.collection), el('td', {}, x.schedule ? `every ${x.schedule.interval}` : 'on demand'))));
  } catch (e) {
    say(status, e.message, true);
  }
}

function authOf(form) {
  const v = (n) => form.elements[n]?.value.trim();
  switch (v('auth')) {
    case 'basic': return { kind: 'basic', user: v('user'), password: form.elements.password.value };
    case 'token': return { kind: 'token', token: v('token') };
    case 'api_key': return { kind: 'api_key', header: v('header'), key: v('key') };
    default: return { kind: 'none' };
  }
}

for (const form of document.querySelectorAll('form')) {
  const kind = form.querySelector('.auth-kind');
  if (!kind) continue;
  const show = () => {
    for (const k of ['basic', 'token', 'api_key']) form.querySelectorAll(`.auth-${k}`).forEach((n) => { n.hidden = kind.value !== k; });
  };
  kind.addEventListener('change', show);
  show();
}

function connectorOf(f) {
  return { name: f.elements.name.value.trim(), api_root: f.elements.api_root.value.trim(), collection: f.elements.collection.value.trim(),
    lookback: f.elements.lookback.value.trim(), interval: f.elements.interval.value.trim(), auth: authOf(f) };
}

$('test-connector').addEventListener('click', async () => {
  const out = $('test-result');
  say(out, 'Asking the server…');
  try {
    const r = await api('POST', '/api/v1/connectors/test', connectorOf($('add-connector')));
    if (r.ok) say(out, `Reached "${r.title ?? 'the collection'}" over TAXII ${r.taxii}; it can be read.`);
    else say(out, r.error, true);
  } catch (e) {
    say(out, e.message, true);
  }
});

$('add-connector').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.target;
  const body = connectorOf(f);
  try {
    await api('POST', '/api/v1/connectors', body);
    say(status, `Added ${body.name}. Run it now, or wait for its first scheduled poll.`);
    f.reset();
    load();
  } catch (err) {
    say(status, err.message, true);
  }
});

$('add-target').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.target;
  const body = { name: f.elements.name.value.trim(), api_root: f.elements.api_root.value.trim(), collection: f.elements.collection.value.trim(), auth: authOf(f) };
  try {
    await api('POST', '/api/v1/export-targets', body);
    say(status, `Added export target ${body.name}.`);
    f.reset();
    load();
  } catch (err) {
    say(status, err.message, true);
  }
});

load();
