// File import: upload with progress, then the import's outcome; the history below.
import { api, el, say, csrf } from './app.js';

const $ = (id) => document.getElementById(id);
const status = $('status');

async function history() {
  try {
    const r = await api('GET', '/api/v1/imports');
    $('history').tBodies[0].replaceChildren(...r.imports.map((i) => el('tr', {},
      el('td', {}, i.started), el('td', {}, i.file_name), el('td', {}, i.source), el('td', {}, i.policy),
      el('td', {}, i.total), el('td', {}, i.committed ? i.imported : `0 (nothing stored: ${i.imported} were valid)`), el('td', {}, i.rejected),
      el('td', {}, i.by ?? ''),
      el('td', {}, i.error_count > 0
        ? el('a', { href: `/api/v1/imports/${encodeURIComponent(i.id)}/errors`, download: `${i.file_name}.errors` }, `${i.error_count} errors`)
        : (i.file_error ? el('span', { class: 'error' }, i.file_error) : '')))));
  } catch (e) {
    say(status, e.message, true);
  }
}

const form = $('import');
if (form) {
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const file = $('file').files[0];
    const source = $('source').value.trim();
    if (!file || !source) { say(status, 'Choose a file and name its source.', true); return; }
    const q = new URLSearchParams({ source, name: file.name, policy: $('policy').value });
    if ($('format').value) q.set('format', $('format').value);
    // XMLHttpRequest, not fetch: it reports upload progress.
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/imports?${q}`);
    xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    const bar = $('progress');
    bar.hidden = false;
    bar.value = 0;
    xhr.upload.onprogress = (p) => { if (p.lengthComputable) bar.value = Math.round((p.loaded / p.total) * 100); };
    xhr.upload.onload = () => say(status, 'Uploaded; importing…');
    xhr.onload = () => {
      bar.hidden = true;
      let r = {};
      try { r = JSON.parse(xhr.responseText); } catch { /* keep {} */ }
      if (xhr.status === 201) {
        const kept = r.committed ? `${r.imported} imported (${r.created} new, ${r.new_versions} new versions, ${r.unchanged} unchanged)` : 'nothing imported';
        say(status, `${file.name}: ${r.total} entries; ${kept}; ${r.rejected} rejected${r.dropped ? `; ${r.dropped} dropped by rules` : ''}.`, r.rejected > 0 && !r.committed);
      } else {
        say(status, r.error || `${xhr.status} ${xhr.statusText}`, true);
      }
      history();
    };
    xhr.onerror = () => { bar.hidden = true; say(status, 'The upload failed (network).', true); };
    say(status, `Uploading ${file.name}…`);
    xhr.send(file);
  });
}

history();
