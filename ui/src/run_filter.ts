// The runs table's filter language (docs/dashboard.md): text -> predicate over a run. Pure; no DOM.
import type { Run } from "./api";

// Parses the filter box: `key=value` (param), `tag:T`, `status:S`, other words match the name
// (`*` and `?` glob). Every term must hold.
export function makeFilter(text: string, status: string): (r: Run) => boolean {
  const terms = text.trim().split(/\s+/).filter(Boolean);
  const tests: ((r: Run) => boolean)[] = [];
  if (status) tests.push(r => r.status === status);
  for (const t of terms) {
    let m: RegExpMatchArray | null;
    if ((m = t.match(/^tag:(.+)$/))) { const v = m[1]; tests.push(r => r.tags.includes(v)); }
    else if ((m = t.match(/^status:(.+)$/))) { const v = m[1]; tests.push(r => r.status === v); }
    else if ((m = t.match(/^([^=<>]+)(=|<|>)(.*)$/))) {
      const [, k, op, v] = m;
      if (op === "=") tests.push(r => r.params[k] === v || (r.params[k] !== undefined && Number(r.params[k]) === Number(v) && v !== ""));
      else tests.push(r => { const x = Number(r.params[k]); return r.params[k] !== undefined && (op === "<" ? x < Number(v) : x > Number(v)); });
    } else if (/[*?[]/.test(t)) {
      // A glob over the whole name, case-sensitive with [...] classes: the server's `name=` glob.
      const body = t.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".").replace(/\[!/g, "[^");
      let re: RegExp;
      try { re = new RegExp("^" + body + "$"); } catch { re = /(?!)/; }  // an unclosed [ matches nothing
      tests.push(r => re.test(r.name));
    } else {
      const low = t.toLowerCase();
      tests.push(r => r.name.toLowerCase().includes(low) || r.id.startsWith(low));
    }
  }
  return r => tests.every(f => f(r));
}
