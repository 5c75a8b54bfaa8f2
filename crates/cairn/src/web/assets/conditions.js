// The condition builder shared by the explorer and the ingestion rules: groups of
// clauses, AND within a group, OR between groups (as in Sentinel). It reads and writes
// the condition language of the API (`{"any": [{"all": [clause…]}…]}`).
import { el } from './app.js';

export const blankClause = () => ({ field: 'source', operator: 'Equals', values: '' });

// Values are typed comma-separated; "\," keeps a comma inside a value.
export function splitValues(text) {
  return text.split(/(?<!\\),/).map((v) => v.replace(/\\,/g, ',').trim()).filter((v) => v !== '');
}

function joinValues(values) {
  return (values || []).map((v) => String(v).replace(/,/g, '\\,')).join(', ');
}

export class ConditionBuilder {
  // `box`: the element the groups are drawn into; `config`: {fields, operators};
  // `groups`: [[{field, operator, values}]] (values as typed text).
  constructor(box, config, groups) {
    this.box = box;
    this.config = config;
    this.groups = groups && groups.length ? groups : [[]];
    this.onchange = () => {};
  }

  takesValues(op) {
    return this.config.operators.find((o) => o.name === op)?.values ?? true;
  }

  clauseRow(group, clause, gi, ci) {
    const field = el('select', { 'aria-label': 'Field', onchange: (e) => { clause.field = e.target.value; this.onchange(); } },
      this.config.fields.map((f) => el('option', { value: f, selected: f === clause.field }, f)));
    if (!this.config.fields.includes(clause.field)) field.append(el('option', { value: clause.field, selected: true }, clause.field));
    const op = el('select', { 'aria-label': 'Operator', onchange: (e) => { clause.operator = e.target.value; this.draw(); this.onchange(); } },
      this.config.operators.map((o) => el('option', { value: o.name, selected: o.name === clause.operator }, o.name)));
    const values = el('input', {
      'aria-label': 'Values (comma-separated: any of them)', value: clause.values, placeholder: 'value, value…',
      hidden: !this.takesValues(clause.operator), oninput: (e) => { clause.values = e.target.value; this.onchange(); },
    });
    const remove = el('button', { type: 'button', 'aria-label': 'Remove condition', onclick: () => { group.splice(ci, 1); this.draw(); this.onchange(); } }, '×');
    return el('div', { class: 'row clause', dataset: { group: gi, clause: ci } }, field, op, values, remove);
  }

  draw() {
    this.box.querySelectorAll('.group').forEach((g) => g.remove());
    this.groups.forEach((group, gi) => {
      this.box.append(el('div', { class: 'group', dataset: { group: gi } },
        gi > 0 ? el('span', { class: 'or' }, 'OR') : null,
        group.map((c, ci) => this.clauseRow(group, c, gi, ci)),
        el('div', { class: 'row' },
          el('button', { type: 'button', class: 'add-condition', onclick: () => { group.push(blankClause()); this.draw(); } }, '+ AND condition'),
          this.groups.length > 1 ? el('button', { type: 'button', onclick: () => { this.groups.splice(gi, 1); this.draw(); this.onchange(); } }, 'Remove group') : null)));
    });
  }

  addGroup() {
    this.groups.push([blankClause()]);
    this.draw();
  }

  // Adds clauses to every group, so they narrow the whole condition.
  narrow(clauses) {
    for (const g of this.groups) g.push(...clauses.map((c) => ({ ...c })));
    this.draw();
  }

  // The condition as the API takes it; undefined when there is none.
  condition() {
    const groups = this.groups
      .map((g) => g.filter((c) => !this.takesValues(c.operator) || splitValues(c.values).length > 0))
      .filter((g) => g.length > 0)
      .map((g) => ({
        all: g.map((c) => (this.takesValues(c.operator)
          ? { field: c.field, operator: c.operator, values: splitValues(c.values) }
          : { field: c.field, operator: c.operator })),
      }));
    if (groups.length === 0) return undefined;
    return groups.length === 1 ? groups[0] : { any: groups };
  }

  // Groups from a condition of the API; null when it is nested deeper than the builder
  // shows (then it is kept as JSON).
  static groupsOf(cond) {
    if (!cond || (cond.all && cond.all.length === 0)) return [[]];
    const clause = (c) => (c && c.field ? { field: c.field, operator: c.operator, values: joinValues(c.values ?? (c.value !== undefined ? [c.value] : [])) } : null);
    const group = (g) => {
      if (g.field) return [clause(g)];
      if (g.all && g.all.every((c) => c.field)) return g.all.map(clause);
      return null;
    };
    if (cond.any) {
      const gs = cond.any.map(group);
      return gs.every(Boolean) ? gs : null;
    }
    const g = group(cond);
    return g ? [g] : null;
  }
}
