/** Behaviour of src/host/healthcheck.sh under real bash, against a real HTTP server on loopback. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEALTHCHECK_SH, PRELUDE_SH } from '../../../src/host/embedded.generated.js';
import { runBash } from '../../harness/bash.js';

const LIBS = [PRELUDE_SH, HEALTHCHECK_SH];
let server: ChildProcess;
let port = 0;

/** PATH with only the tools the /dev/tcp fallback needs (no curl). */
function pathWithoutCurl(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'orch-nocurl-'));
  for (const t of ['bash', 'timeout', 'mktemp', 'tail', 'tr', 'sleep', 'rm']) {
    const at = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(at, path.join(dir, t));
  }
  return dir;
}

beforeAll(async () => {
  // A server answering 200 on /health and 404 elsewhere (python3 is a test dependency already).
  server = spawn('python3', ['-c', [
    'import http.server, sys',
    'class H(http.server.BaseHTTPRequestHandler):',
    '    def do_GET(self):',
    '        self.send_response(200 if self.path.startswith("/health") else 404); self.end_headers()',
    '    def log_message(self, *a): pass',
    's = http.server.HTTPServer(("127.0.0.1", 0), H)',
    'print(s.server_address[1], flush=True)',
    's.serve_forever()',
  ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
  port = await new Promise<number>((resolve) => server.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
});
afterAll(() => {
  server?.kill();
});

describe('healthcheck.sh', () => {
  it('orch_healthcheck with a command: ok at once', () => {
    expect(runBash(LIBS, 'orch_healthcheck 2 0 orch_probe_cmd 5 "exit 0"')).toEqual({ code: 0, stdout: '::orch:: status=ok\n', stderr: '' });
  });
  it("orch_healthcheck retries, then exits 3 with the last attempt's reason", () => {
    const r = runBash(LIBS, 'orch_healthcheck 2 0 orch_probe_cmd 5 "echo nope >&2; exit 1"');
    expect(r).toEqual({ code: 3, stdout: '', stderr: 'unhealthy after 3 attempts: nope \n' });
  });
  it('orch_probe_cmd times out', () => {
    const r = runBash(LIBS, 'orch_healthcheck 0 0 orch_probe_cmd 0.2 "sleep 5"');
    expect(r.code).toBe(3);
  });
  it.each([
    ['with curl', undefined],
    ['through /dev/tcp', 'nocurl'],
  ])('orch_probe_http %s: 200 healthy, 404 not', (_n, mode) => {
    const env = mode ? { ...process.env, PATH: pathWithoutCurl() } : process.env;
    const ok = runBash(LIBS, 'orch_healthcheck 0 0 orch_probe_http 5 200 "$1" 127.0.0.1 "$2" /health', [`http://127.0.0.1:${port}/health`, String(port)], { env });
    expect(ok).toEqual({ code: 0, stdout: '::orch:: status=ok\n', stderr: '' });
    const bad = runBash(LIBS, 'orch_healthcheck 1 0 orch_probe_http 5 200 "$1" 127.0.0.1 "$2" /x', [`http://127.0.0.1:${port}/x`, String(port)], { env });
    expect(bad).toMatchObject({ code: 3, stderr: 'unhealthy after 2 attempts: HTTP status 404, expected 200 \n' });
  });
  it('without curl, https cannot be checked and says why', () => {
    const r = runBash(LIBS, 'orch_healthcheck 0 0 orch_probe_http 5 200 https://127.0.0.1/ 127.0.0.1 443 /', [], { env: { ...process.env, PATH: pathWithoutCurl() } });
    expect(r).toMatchObject({ code: 3, stderr: 'unhealthy after 1 attempts: curl is needed for https healthchecks HTTP status 000, expected 200 \n' });
  });
});
