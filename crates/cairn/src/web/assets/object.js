// Object details: Edit (locked fields shown with the reason), Revoke and Delete, as API calls.
import { api, el, say } from './app.js';

const $ = (id) => document.getElementById(id);
const cfgNode = $('edit-config');
const status = $('status');

if (cfgNode) {
  const cfg = JSON.parse(cfgNode.textContent);
  const url = `/api/v1/objects/${encodeURIComponent(cfg.id)}`;
  const SERVER = new Set(['type', 'id', 'spec_version', 'created', 'modified', 'created_by_ref']);
  const form = $('editor');

  function drawEditor() {
    const rows = [];
    const keys = Object.keys(cfg.object).filter((k) => !SERVER.has(k));
    for (const k of ['labels', 'confidence', 'valid_until']) if (!keys.includes(k)) keys.push(k);
    for (const k of keys) {
      const v = cfg.object[k];
      const locked = cfg.editable && !cfg.editable.includes(k);
      const text = v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      const input = el(typeof v === 'object' && v !== null && k !== 'labels' ? 'textarea' : 'input', {
        name: k, value: k === 'labels' && Array.isArray(v) ? v.join(', ') : text, disabled: locked,
        'aria-describedby': locked ? 'locked-reason' : null,
      });
      rows.push(el('label', { class: locked ? 'locked' : '' }, k, locked ? el('span', { class: 'muted' }, ' (locked)') : null, input));
    }
    form.replaceChildren(
      cfg.editable ? el('p', { id: 'locked-reason', class: 'notice' },
        `This object came from ${cfg.origin}; its producer owns it, and its next version would replace an edit. `
        + `Only ${cfg.editable.join(', ')} may change here.`) : null,
      ...rows,
      el('div', { class: 'row' }, el('button', { type: 'submit' }, 'Save'), el('button', { type: 'button', onclick: () => { form.hidden = true; } }, 'Cancel')));
  }

  // A field's text back to JSON: the type the object had, else a number or JSON if it reads as one.
  function parse(k, text) {
    if (text.trim() === '') return null;
    if (k === 'labels') return text.split(',').map((t) => t.trim()).filter(Boolean);
    if (k === 'confidence') return Number(text);
    const old = cfg.object[k];
    if (typeof old === 'string' || (old === undefined && k === 'valid_until')) return text;
    try { return JSON.parse(text); } catch { return text; }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const patch = {};
    for (const input of form.querySelectorAll('[name]')) {
      if (input.disabled) continue;
      const k = input.name;
      const now = parse(k, input.value);
      const before = cfg.object[k] === undefined ? null : cfg.object[k];
      if (JSON.stringify(now) !== JSON.stringify(before)) patch[k] = now;
    }
    if (Object.keys(patch).length === 0) { say(status, 'Nothing changed.'); return; }
    try {
      await api('PATCH', url, patch);
      location.reload();
    } catch (err) {
      say(status, err.message, true);
    }
  });

  $('edit')?.addEventListener('click', () => { drawEditor(); form.hidden = false; form.querySelector('input:not([disabled]),textarea:not([disabled])')?.focus(); });
  $('revoke')?.addEventListener('click', async () => {
    if (!window.confirm('Revoke this object? Consumers will treat it as withdrawn.')) return;
    try { await api('POST', `${url}/revoke`); location.reload(); } catch (err) { say(status, err.message, true); }
  });
  $('delete')?.addEventListener('click', async () => {
    if (!window.confirm('Delete this object? Its history is kept; it stops being current.')) return;
    try { await api('DELETE', url); location.href = '/explorer'; } catch (err) { say(status, err.message, true); }
  });
}
