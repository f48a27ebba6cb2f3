/**
 * `npm run bench:inputs`: how fast hostile YAML inputs are refused (and a hostile glob matched). The wall-clock
 * bounds live here, not in the unit tests (test/unit/config/load-yaml.test.ts checks
 * the same inputs' errors), so a loaded CI machine cannot fail a unit test. Exits 1
 * when a case takes 1 s or more (the median of 5 runs).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileGlob } from '../src/config/glob.js';
import { loadYaml } from '../src/config/load-yaml.js';
import { SourceIndexImpl } from '../src/config/source-index.js';
import { validateAgainstSchema } from '../src/config/validate.js';

const BOUND_MS = 1000;
const dir = mkdtempSync(join(tmpdir(), 'orch-bench-inputs-'));
const bomb = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
for (let i = 1; i <= 9; i++) bomb.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
const files: [string, string | Buffer][] = [
  ['alias bomb', bomb.join('\n') + '\n'],
  ['5,000-deep flow lists', '['.repeat(5000) + ']'.repeat(5000) + '\n'],
  ['5,000-deep flow maps', '{a: '.repeat(5000) + '1' + '}'.repeat(5000) + '\n'],
  ['5,000-deep block lists on one line', '- '.repeat(5000) + 'x\n'],
  ['50 MB file', Buffer.alloc(50 * 1024 * 1024, 'a: b\n')],
];
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
let failed = false;
const report = (name: string, ms: number): void => {
  const bad = ms >= BOUND_MS;
  failed ||= bad;
  console.log(`${bad ? 'SLOW' : 'ok  '} ${name}: ${ms.toFixed(1)} ms (bound ${BOUND_MS} ms)`);
};
try {
  for (const [i, [name, content]] of files.entries()) {
    const f = join(dir, `case${i}.yml`);
    writeFileSync(f, content);
    const times: number[] = [];
    for (let run = 0; run < 5; run++) {
      const t0 = performance.now();
      await loadYaml(f, new SourceIndexImpl());
      times.push(performance.now() - t0);
    }
    report(name, median(times));
  }
  const index = new SourceIndexImpl();
  validateAgainstSchema('playbook', {}, 'warm.yml', index);
  const key = `a${'_'.repeat(100_000)}!`;
  const times: number[] = [];
  for (let run = 0; run < 5; run++) {
    const t0 = performance.now();
    validateAgainstSchema('playbook', { [key]: 1 }, 'x.yml', index);
    times.push(performance.now() - t0);
  }
  report('100,000-character underscore key', median(times));
  // A glob that makes a backtracking matcher exponential (test/unit/config/glob-detect.test.ts checks its answer).
  const glob = compileGlob(`${'*a'.repeat(30)}*b`);
  const globTimes: number[] = [];
  for (let run = 0; run < 5; run++) {
    const t0 = performance.now();
    glob('a'.repeat(20_000));
    globTimes.push(performance.now() - t0);
  }
  report('glob *a*a...*b (30 stars) over 20,000 characters', median(globTimes));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
