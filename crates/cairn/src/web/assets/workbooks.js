// Workbooks: tiles drawn one by one from their SVG endpoint, the JSON editor, import.
import { api, el, say, svgImage } from './app.js';

const $ = (id) => document.getElementById(id);

// ---- one workbook's tiles ----------------------------------------------------------------

const tiles = $('tiles');
if (tiles) {
  const id = tiles.dataset.id;
  const params = new URLSearchParams(location.search);
  for (const fig of tiles.querySelectorAll('figure.tile')) {
    const box = fig.querySelector('.chart');
    const title = fig.querySelector('figcaption').textContent;
    const url = `/api/v1/workbooks/${encodeURIComponent(id)}/tiles/${fig.dataset.n}/svg?${params}`;
    fetch(url, { credentials: 'same-origin' }).then(async (r) => {
      const text = await r.text();
      if (r.ok) {
        box.replaceChildren(svgImage(text, title));
        fig.classList.add('drawn');
      } else {
        let msg = text;
        try { msg = JSON.parse(text).error; } catch { /* plain text */ }
        box.replaceChildren(el('p', { class: 'error' }, msg));
        fig.classList.add('failed');
      }
    }).catch((e) => box.replaceChildren(el('p', { class: 'error' }, e.message)));
  }
}

// ---- editing (contributors) ----------------------------------------------------------------

const editor = $('wb-editor');
if (editor) {
  const id = editor.dataset.id;
  $('wb-edit').addEventListener('click', () => { editor.hidden = false; $('wb-json').focus(); });
  $('wb-cancel').addEventListener('click', () => { editor.hidden = true; });
  editor.addEventListener('submit', async (e) => {
    e.preventDefault();
    let body;
    try { body = JSON.parse($('wb-json').value); } catch (err) { say($('wb-status'), `Not JSON: ${err.message}`, true); return; }
    try {
      await api('PUT', `/api/v1/workbooks/${encodeURIComponent(id)}`, body);
      location.reload();
    } catch (err) {
      say($('wb-status'), err.message, true);
    }
  });
  $('wb-restore')?.addEventListener('click', async () => {
    try {
      await api('DELETE', `/api/v1/workbooks/${encodeURIComponent(id)}`);
      location.reload();
    } catch (err) {
      say($('wb-status'), err.message, true);
    }
  });
}

// ---- import (contributors) -------------------------------------------------------------------

const importForm = $('wb-import');
if (importForm) {
  importForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = $('wb-file').files[0];
    if (!file) return;
    let body;
    try { body = JSON.parse(await file.text()); } catch (err) { say($('wb-status'), `${file.name} is not JSON: ${err.message}`, true); return; }
    try {
      if ($('wb-replace').checked && body.id) {
        await api('PUT', `/api/v1/workbooks/${encodeURIComponent(body.id)}`, body);
      } else {
        await api('POST', '/api/v1/workbooks', body);
      }
      location.href = `/workbooks/${encodeURIComponent(body.id)}`;
    } catch (err) {
      say($('wb-status'), err.message, true);
    }
  });
}
