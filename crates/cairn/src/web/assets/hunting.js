// The KQL editor: highlighting under a transparent textarea, Ctrl+Enter to run, paged
// results, the chart of a `render`, CSV/JSON downloads and saved queries.
import { api, el, say, svgImage, download, role } from './app.js';

const $ = (id) => document.getElementById(id);
const editor = $('kql');
const highlight = $('highlight');
const PAGE = 50;
let result = null;
let page = 0;

// ---- highlighting ----------------------------------------------------------------------

const KEYWORDS = new Set(('let where project project-away project-rename project-reorder extend summarize count top take limit '
  + 'sort order by asc desc distinct mv-expand mvexpand join kind on lookup union withsource isfuzzy make-series from to step '
  + 'render with and or not in has has_any has_all contains startswith endswith matches regex between materialize view '
  + 'true false null parse extract datatable print as getschema').split(' '));
const TOKEN = /(\/\/[^\n]*)|("(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|@"[^"]*"?)|(\b\d+(?:\.\d+)?(?:d|h|m|s|ms)?\b)|([A-Za-z_][\w-]*(?:~|_cs)?)(\s*\()?|([|=<>!~]+)|(\s+|.)/g;

function draw() {
  const text = editor.value;
  const out = [];
  for (const m of text.matchAll(TOKEN)) {
    const [all, comment, str, num, word, call, op] = m;
    if (comment) out.push(el('span', { class: 'k-comment' }, comment));
    else if (str) out.push(el('span', { class: 'k-string' }, str));
    else if (num) out.push(el('span', { class: 'k-number' }, num));
    else if (word) {
      const cls = call ? 'k-function' : KEYWORDS.has(word.toLowerCase()) ? 'k-keyword' : 'k-name';
      out.push(el('span', { class: cls }, word));
      if (call) out.push(call);
    } else if (op) out.push(el('span', { class: 'k-operator' }, op));
    else out.push(all);
  }
  // A trailing newline needs a character after it to take up its line in the <pre>.
  out.push('\n');
  highlight.replaceChildren(...out);
  highlight.scrollTop = editor.scrollTop;
  highlight.scrollLeft = editor.scrollLeft;
}

editor.addEventListener('input', draw);
editor.addEventListener('scroll', () => { highlight.scrollTop = editor.scrollTop; highlight.scrollLeft = editor.scrollLeft; });
editor.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); }
  if (e.key === 'Tab' && !e.shiftKey && !e.ctrlKey) {
    // Tab indents inside the editor; Escape then Tab leaves it (keyboard users).
    if (editor.dataset.escaped === '1') { editor.dataset.escaped = ''; return; }
    e.preventDefault();
    editor.setRangeText('    ', editor.selectionStart, editor.selectionEnd, 'end');
    draw();
  }
  if (e.key === 'Escape') editor.dataset.escaped = '1';
});

// ---- running -----------------------------------------------------------------------------

function cell(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function drawRows() {
  const table = $('rows');
  if (!result) { table.tHead.replaceChildren(); table.tBodies[0].replaceChildren(); return; }
  table.tHead.replaceChildren(el('tr', {}, result.columns.map((c) => el('th', { title: c.type }, c.name))));
  const rows = result.rows.slice(page * PAGE, (page + 1) * PAGE);
  table.tBodies[0].replaceChildren(...rows.map((r) => el('tr', {}, r.map((v) => el('td', {}, cell(v))))));
  const pages = Math.max(1, Math.ceil(result.rows.length / PAGE));
  $('page').textContent = `page ${page + 1} of ${pages}`;
  $('prev').disabled = page === 0;
  $('next').disabled = page + 1 >= pages;
}

async function run() {
  const query = editor.value;
  if (!query.trim()) return;
  $('error').hidden = true;
  $('chart').hidden = true;
  say($('status'), 'Running…');
  const started = performance.now();
  try {
    result = await api('POST', '/api/v1/query', { query, chart: /\|\s*render\b/.test(query) });
    page = 0;
    drawRows();
    const ms = Math.round(performance.now() - started);
    say($('status'), `${result.rows.length} rows in ${ms} ms`);
    if (result.svg) {
      $('chart').replaceChildren(svgImage(result.svg, `Chart: ${result.render?.visualization ?? 'render'}`));
      $('chart').hidden = false;
    } else if (result.chart_error) {
      $('chart').replaceChildren(el('p', { class: 'error' }, result.chart_error));
      $('chart').hidden = false;
    }
    $('csv').disabled = $('json').disabled = false;
  } catch (e) {
    result = null;
    drawRows();
    say($('status'), '');
    const d = e.data && typeof e.data === 'object' ? e.data : null;
    $('error').textContent = d && d.detail ? d.detail : e.message;
    $('error').hidden = false;
    if (d && typeof d.position === 'number') {
      editor.focus();
      editor.setSelectionRange(d.position, d.position);
    }
    $('csv').disabled = $('json').disabled = true;
  }
}

function csvField(v) {
  const s = cell(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

$('run').addEventListener('click', run);
$('prev').addEventListener('click', () => { page -= 1; drawRows(); });
$('next').addEventListener('click', () => { page += 1; drawRows(); });
$('csv').addEventListener('click', () => {
  if (!result) return;
  const lines = [result.columns.map((c) => csvField(c.name)).join(',')].concat(result.rows.map((r) => r.map(csvField).join(',')));
  download('query.csv', 'text/csv', lines.join('\r\n') + '\r\n');
});
$('json').addEventListener('click', () => {
  if (result) download('query.json', 'application/json', JSON.stringify({ columns: result.columns, rows: result.rows }, null, 2));
});
document.querySelectorAll('button.insert').forEach((b) => b.addEventListener('click', () => {
  editor.setRangeText(b.dataset.text, editor.selectionStart, editor.selectionEnd, 'end');
  editor.focus();
  draw();
}));

// ---- saved queries (the store's saved KQL functions) ---------------------------------------

async function loadSaved() {
  try {
    const r = await api('GET', '/api/v1/functions');
    $('saved').replaceChildren(...(r.functions || []).map((f) => el('li', {},
      el('button', {
        type: 'button', class: 'link', title: f.description || f.name,
        onclick: () => { editor.value = f.body.replace(/^\s*\(\s*\)\s*\{([\s\S]*)\}\s*$/, '$1').trim(); draw(); editor.focus(); },
      }, f.name))));
  } catch (e) {
    $('saved').replaceChildren(el('li', { class: 'error' }, e.message));
  }
}

if (role !== 'reader' && $('save')) {
  $('save').addEventListener('click', async () => {
    const name = $('save-name').value.trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) { say($('status'), 'A saved query needs a name of letters, digits and _.', true); return; }
    // `render` belongs to showing a result, not to a function other queries call.
    const body = editor.value.replace(/\|\s*render\b[^|]*$/, '').trim();
    try {
      await api('PUT', `/api/v1/functions/${encodeURIComponent(name)}`, { body, description: 'saved from Hunting' });
      say($('status'), `Saved as ${name}: other queries can call it by that name.`);
      loadSaved();
    } catch (e) {
      say($('status'), e.message, true);
    }
  });
}

draw();
loadSaved();
