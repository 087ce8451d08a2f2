import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateNotes } from '../../src/spec/validate.js';

const dir = fileURLToPath(new URL('../corpus/hostile-notes', import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.notes'))
  .map((f) => f.slice(0, -'.notes'.length))
  .sort();

function expectation(name: string): { key: string; contains: string } {
  const fields = new Map<string, string>();
  for (const line of readFileSync(join(dir, `${name}.expected`), 'utf8').split('\n')) {
    const eq = line.indexOf(' = ');
    if (eq > 0) fields.set(line.slice(0, eq).trim(), line.slice(eq + 3));
  }
  const key = fields.get('key');
  const contains = fields.get('contains');
  if (!key || !contains) throw new Error(`${name}.expected needs "key = ..." and "contains = ..." lines`);
  return { key, contains };
}

describe('hostile notes corpus', () => {
  it('has its cases (a wrong directory must not pass silently)', () => {
    expect(names.length).toBeGreaterThanOrEqual(40);
  });

  it.each(names)('rejects %s', (name) => {
    const { key, contains } = expectation(name);
    const notes = readFileSync(join(dir, `${name}.notes`), 'utf8');
    const result = validateNotes(notes, { vmid: 100, smbiosUuid: '3c7b1a57-2f4c-4a7e-9c5e-0f0e1d2c3b4a', defaultSpeed: 'super' });
    expect(result.kind).toBe('invalid');
    const problems = result.kind === 'invalid' ? result.problems : [];
    const matching = problems.filter((p) => p.key === key && p.message.includes(contains));
    expect(matching, JSON.stringify(problems, null, 1)).not.toHaveLength(0);
  });
});
