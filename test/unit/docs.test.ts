/**
 * The documentation: README stays a short front door, every relative link in README.md,
 * CHANGELOG.md and docs/ reaches a file (and a heading, for `#anchor`), and the inventory +
 * playbook examples of README.md and docs/getting-started.md pass `orch validate` as written.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateOffline } from '../../src/cli/validate.js';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');

/** Pages other branches write; remove a name once its file is in the repository. */
const PENDING = new Set<string>([]);

function markdownFiles(): string[] {
  const out = ['README.md', 'CHANGELOG.md'];
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.md')) out.push(join(dir, e.name));
    }
  };
  walk('docs');
  return out;
}

/** GitHub's heading anchors: lower case, punctuation but `-`/`_` dropped, spaces to `-`. */
function anchors(text: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    else if (!fence && /^#{1,6} /.test(line)) {
      out.add(line.replace(/^#+ /, '').trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
    }
  }
  return out;
}

/** Markdown links outside code: `[text](target)`. */
function links(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

describe('documentation', () => {
  it('README.md is a front door of at most 200 lines', () => {
    const lines = read('README.md').split('\n').length;
    expect(lines).toBeLessThanOrEqual(200);
    expect(read('README.md')).toContain('npm ci && npx orch apply playbooks/demo.yml');
    expect(read('README.md')).toContain('npm test && npm run test:faults');
  });

  it('every relative link of README.md, CHANGELOG.md and docs/ reaches a file and a heading', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      for (const link of links(read(file))) {
        if (/^[a-z]+:/.test(link)) continue;
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path ? relative(ROOT, resolve(ROOT, dirname(file), path)) : file;
        if (PENDING.has(target)) continue;
        if (!existsSync(join(ROOT, target))) {
          broken.push(`${file}: ${link}: no file ${target}`);
          continue;
        }
        if (anchor && target.endsWith('.md') && !anchors(read(target)).has(anchor)) broken.push(`${file}: ${link}: no heading #${anchor} in ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  describe('examples pass orch validate as written', () => {
    const work = mkdtempSync(join(tmpdir(), 'orch-docs-'));
    afterAll(() => rmSync(work, { recursive: true, force: true }));
    /** The YAML code block whose first line is `# NAME`. */
    const block = (text: string, name: string): string => {
      const m = new RegExp('```yaml\\n# ' + name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + '\\n([\\s\\S]*?)```').exec(text);
      if (!m) throw new Error(`no yaml block starting with "# ${name}"`);
      return m[1]!;
    };
    it.each([
      ['README.md', 'inventories/prod.yml', 'playbooks/shop.yml', 'apps/shop'],
      ['docs/getting-started.md', 'inventories/prod.yml', 'playbooks/hello.yml', 'apps/hello'],
    ])('%s', async (doc, inventory, playbook, app) => {
      const dir = join(work, doc.replace(/\W/g, '_'));
      const text = read(doc);
      for (const [rel, body] of [[inventory, block(text, inventory)], [playbook, block(text, playbook)], [`${app}/VERSION`, '1.0.0\n']] as const) {
        mkdirSync(dirname(join(dir, rel)), { recursive: true });
        writeFileSync(join(dir, rel), body);
      }
      const r = await validateOffline([join(dir, playbook)], { inventories: [], extraVars: {}, env: {} });
      expect(r.diagnostics).toEqual([]);
      expect(r.files[0]).toMatchObject({ kind: 'playbook', compiled: true });
    });
  });
});
