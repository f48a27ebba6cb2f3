// Writes man/orch.1 from the compiled CLI's commander metadata (run by `npm run build`);
// `--stdout` prints it instead.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { buildProgram } = await import(join(root, 'build/cli/main.js'));
const { formatManPage } = await import(join(root, 'build/cli/man.js'));
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const text = formatManPage(buildProgram(), version);
if (process.argv.includes('--stdout')) process.stdout.write(text);
else {
  mkdirSync(join(root, 'man'), { recursive: true });
  writeFileSync(join(root, 'man/orch.1'), text);
}
