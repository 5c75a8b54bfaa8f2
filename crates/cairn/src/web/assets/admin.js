// Admin: instance facts, users, tokens (shown once), TAXII collections.
import { api, el, say } from './app.js';

const $ = (id) => document.getElementById(id);
const status = $('status');
const list = (v) => v.split(',').map((x) => x.trim()).filter(Boolean);

async function guard(what, f) {
  try { await f(); } catch (e) { say(status, `${what}: ${e.message}`, true); }
}

async function instance() {
  const i = await api('GET', '/api/v1/instance');
  const origin = location.origin;
  $('instance').replaceChildren(
    el('dt', {}, 'Workspace id'), el('dd', {}, el('code', {}, i.instance_id)),
    el('dt', {}, 'Upload API'), el('dd', {}, el('code', {}, origin + i.upload_api)),
    el('dt', {}, 'TAXII discovery'), el('dd', {}, el('code', {}, origin + i.taxii_discovery)),
    el('dt', {}, 'Version'), el('dd', {}, i.version),
    el('dt', {}, 'Objects'), el('dd', {}, `${i.stats.objects} current, ${i.stats.versions ?? '?'} versions`));
}

async function users() {
  const r = await api('GET', '/api/v1/users');
  $('users').tBodies[0].replaceChildren(...r.users.map((u) => el('tr', {},
    el('td', {}, u.name), el('td', {}, u.role),
    el('td', {}, el('button', {
      type: 'button', class: 'danger', onclick: () => guard('Delete user', async () => {
        if (!window.confirm(`Delete user ${u.name}? Their tokens stay until revoked.`)) return;
        await api('DELETE', `/api/v1/users/${encodeURIComponent(u.name)}`);
        say(status, `Deleted ${u.name}.`);
        users();
      }),
    }, 'Delete')))));
}

async function tokens() {
  const r = await api('GET', '/api/v1/tokens');
  $('tokens').tBodies[0].replaceChildren(...r.tokens.map((t) => el('tr', {},
    el('td', {}, t.name), el('td', {}, t.role), el('td', {}, t.created), el('td', {}, el('code', {}, t.id.slice(0, 12))),
    el('td', {}, el('button', {
      type: 'button', class: 'danger', onclick: () => guard('Revoke token', async () => {
        if (!window.confirm(`Revoke the token for ${t.name}? Whatever uses it stops working.`)) return;
        await api('DELETE', `/api/v1/tokens/${t.id}`);
        say(status, `Revoked the token for ${t.name}.`);
        tokens();
      }),
    }, 'Revoke')))));
}

async function collections() {
  const r = await api('GET', '/api/v1/collections');
  $('collections').tBodies[0].replaceChildren(...r.collections.map((c) => {
    const serves = c.writable ? 'what is POSTed to it' : [
      c.types?.length ? `types ${c.types.join(', ')}` : null, c.sources?.length ? `sources ${c.sources.join(', ')}` : null,
      c.tags?.length ? `tags ${c.tags.join(', ')}` : null, c.tlp ? `TLP ≤ ${c.tlp}` : null,
      c.min_confidence !== undefined && c.min_confidence !== null ? `confidence ≥ ${c.min_confidence}` : null,
    ].filter(Boolean).join('; ') || 'everything';
    return el('tr', {}, el('td', {}, c.title, c.public ? ' (public)' : ''), el('td', {}, el('code', {}, c.id)), el('td', {}, serves),
      el('td', {}, (c.readers || []).join(', ') || 'every user'), el('td', {}, (c.writers || []).join(', ') || (c.writable ? 'contributors' : '—')));
  }));
}

$('add-user').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.target.elements;
  guard('Add user', async () => {
    await api('POST', '/api/v1/users', { name: f.name.value.trim(), role: f.role.value, password: f.password.value });
    say(status, `Saved user ${f.name.value.trim()}.`);
    e.target.reset();
    users();
  });
});

$('add-token').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.target.elements;
  guard('Create token', async () => {
    const t = await api('POST', '/api/v1/tokens', { name: f.name.value.trim(), role: f.role.value });
    $('new-token').replaceChildren(`Token for ${t.name} (${t.role}), shown only now: `, el('code', { class: 'token' }, t.token));
    $('new-token').hidden = false;
    e.target.reset();
    tokens();
  });
});

$('add-collection').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.target.elements;
  const body = { title: f.title.value.trim(), writable: f.writable.checked, public: f.public.checked };
  if (f.description.value.trim()) body.description = f.description.value.trim();
  if (!body.writable) {
    if (list(f.types.value).length) body.types = list(f.types.value);
    if (list(f.sources.value).length) body.sources = list(f.sources.value);
    if (list(f.tags.value).length) body.tags = list(f.tags.value);
    if (f.tlp.value) body.tlp = f.tlp.value;
    if (f.min_confidence.value !== '') body.min_confidence = Number(f.min_confidence.value);
  }
  if (list(f.readers.value).length) body.readers = list(f.readers.value);
  if (list(f.writers.value).length) body.writers = list(f.writers.value);
  guard('Create collection', async () => {
    const c = await api('POST', '/api/v1/collections', body);
    say(status, `Created collection ${c.title} (${c.id}).`);
    e.target.reset();
    collections();
  });
});

guard('Instance', instance);
guard('Users', users);
guard('Tokens', tokens);
guard('Collections', collections);
