/** The results table of the dashboard (plain DOM, themed by CSS variables). */
import type { RunModel } from './runModel.js';

export type ResultRow = ReturnType<RunModel['results']>[number];

/** Replaces the content of `host` with a table of `rows` (or a placeholder line when there are none). */
export function renderResults(host: HTMLElement, rows: readonly ResultRow[]): void {
  const doc = host.ownerDocument;
  host.replaceChildren();
  if (rows.length === 0) {
    const p = doc.createElement('p');
    p.className = 'muted';
    p.textContent = 'No results yet.';
    host.append(p);
    return;
  }
  const table = doc.createElement('table');
  table.className = 'results';
  const head = doc.createElement('tr');
  for (const h of ['model', 'layers', 'steps', 'val loss', 'lazy layers', '']) {
    const th = doc.createElement('th');
    th.textContent = h;
    head.append(th);
  }
  const thead = doc.createElement('thead');
  thead.append(head);
  const tbody = doc.createElement('tbody');
  for (const r of rows) {
    const tr = doc.createElement('tr');
    const cells = [r.model, String(r.layers), r.steps === null ? '-' : String(r.steps), r.valLoss === null ? '-' : r.valLoss.toFixed(4), r.lazy, r.note];
    cells.forEach((text, i) => {
      const td = doc.createElement('td');
      td.textContent = text;
      if (i >= 1 && i <= 3) td.className = 'num';
      tr.append(td);
    });
    tr.dataset.model = r.model;
    tbody.append(tr);
  }
  table.append(thead, tbody);
  host.append(table);
}
