// Workbooks: tiles drawn one by one from their SVG endpoint, the tile form, the JSON
// editor, import.
import { api, confirmAction, el, say, svgImage } from './app.js';

const $ = (id) => document.getElementById(id);

// ---- one workbook's tiles ----------------------------------------------------------------

const tiles = $('tiles');
if (tiles) {
  const id = tiles.dataset.id;
  const params = new URLSearchParams(location.search);
  for (const fig of tiles.querySelectorAll('figure.tile')) {
    const box = fig.querySelector('.chart');
    const title = fig.querySelector('figcaption .title').textContent;
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

// ---- one tile in a form (contributors) ----------------------------------------------------

const tileEditor = $('tile-editor');
if (tileEditor) {
  const url = `/api/v1/workbooks/${encodeURIComponent(tileEditor.dataset.id)}`;
  // The workbook as stored: the JSON editor holds it, parameters unfilled.
  const stored = () => JSON.parse($('wb-json').value);
  let editing = -1; // the tile's index; -1 for a new tile
  const open = (n) => {
    editing = n;
    const t = n >= 0 ? stored().tiles[n] : { title: '', query: '', width: 1 };
    $('t-heading').textContent = n >= 0 ? `Edit tile ${n + 1}` : 'New tile';
    $('t-title').value = t.title;
    $('t-query').value = t.query;
    $('t-vis').value = t.visualization ?? '';
    $('t-width').value = String(t.width ?? 1);
    for (const b of ['t-up', 't-down', 't-delete']) $(b).hidden = n < 0;
    say($('t-status'), '');
    tileEditor.hidden = false;
    tileEditor.scrollIntoView({ block: 'nearest' });
    $('t-title').focus();
  };
  const save = async (wb) => {
    try {
      await api('PUT', url, wb);
      location.reload();
    } catch (err) {
      say($('t-status'), err.message, true);
    }
  };
  for (const b of document.querySelectorAll('.tile-edit')) b.addEventListener('click', () => open(Number(b.dataset.n)));
  $('wb-add-tile').addEventListener('click', () => open(-1));
  $('t-cancel').addEventListener('click', () => { tileEditor.hidden = true; });
  tileEditor.addEventListener('submit', (e) => {
    e.preventDefault();
    const wb = stored();
    const t = { title: $('t-title').value.trim(), query: $('t-query').value };
    if ($('t-vis').value) t.visualization = $('t-vis').value;
    if ($('t-width').value === '2') t.width = 2;
    if (editing >= 0) wb.tiles[editing] = t; else wb.tiles.push(t);
    save(wb);
  });
  const move = (by) => {
    const wb = stored();
    const to = editing + by;
    if (to < 0 || to >= wb.tiles.length) return;
    [wb.tiles[editing], wb.tiles[to]] = [wb.tiles[to], wb.tiles[editing]];
    save(wb);
  };
  $('t-up').addEventListener('click', () => move(-1));
  $('t-down').addEventListener('click', () => move(1));
  $('t-delete').addEventListener('click', () => {
    if (!confirmAction(`Delete the tile "${stored().tiles[editing].title}"?`)) return;
    const wb = stored();
    wb.tiles.splice(editing, 1);
    save(wb);
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
