/**
 * `node build/cli/control-master-main.js DIR SECONDS`: the control master's process
 * (ORCH_SSH_PERSIST; src/transport/control-master-server.ts serves, and
 * src/transport/control-master.ts starts this detached and waits for its `ready` line).
 * Messages go to stderr, which the starter points at DIR/master.log. SIGTERM or SIGINT
 * stop it (its connections closed, its sockets removed). Exit: 0 stopped, 64 usage, 70
 * it could not listen.
 */
import { serveControlMaster } from '../transport/control-master-server.js';

const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} orch control master ${process.pid}: ${line}\n`);
const [dir, seconds] = process.argv.slice(2);
const persist = Number(seconds);
if (!dir || !Number.isInteger(persist) || persist < 1) {
  process.stderr.write('usage: control-master-main.js DIR SECONDS (started by orch; see ORCH_SSH_PERSIST)\n');
  process.exit(64);
}
try {
  const master = await serveControlMaster(dir, persist, log);
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => void master.stop('SIGTERM'));
  process.on('SIGINT', () => void master.stop('SIGINT'));
  await master.stopped;
  process.exit(0);
} catch (e) {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(70);
}
