/** Behaviour of src/host/{lock,segment,agent}.sh under real bash, function by function. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSegment, parseSegmentOutput, type SegmentEntry } from '../../../src/engine/segment.js';
import { AGENT_SH, LOCK_SH, PRELUDE_SH, PROTOCOL_SH, SEGMENT_SH } from '../../../src/host/embedded.generated.js';
import type { PlanStep, Task } from '../../../src/steps/plan.js';
import { runBash } from '../../harness/bash.js';

const tmp = (p: string): string => mkdtempSync(path.join(tmpdir(), `orch-${p}-`));
const step = (index: number, when: 'always' | 'changed' = 'always'): PlanStep => ({ index, name: `s${index}`, kind: 'run', when, tasks: {}, at: '' });
const task = (body: string): Task => ({ script: `${PROTOCOL_SH}${PRELUDE_SH}${body}\n`, probes: [], check: { kind: 'run', hasUnless: false } });
const entry = (index: number, body: string, more: Partial<SegmentEntry> = {}): SegmentEntry => ({ step: step(index), task: task(body), expect: '-', stateArg: '', registryArg: '', ...more });

/** Runs segment.sh over `entries`; returns the parsed results and the raw output. */
function runSegment(entries: SegmentEntry[], changed = false, stdin?: string) {
  const d = tmp('seg');
  writeFileSync(path.join(d, 'fields'), encodeSegment(entries, changed, 0));
  const r = runBash([SEGMENT_SH], 'mkdir -m 700 "$1/d" && orch_seg_run "$1/fields" "$1/d"', [d], stdin !== undefined ? { stdin } : {});
  return { ...r, results: parseSegmentOutput(r.stdout), dir: d };
}

describe('lock.sh', () => {
  it('orch_lock_take holds the lock on fd 9; a second taker gets 75 naming the holder', () => {
    const home = tmp('home');
    const env = { ...process.env, HOME: home };
    const r = runBash([LOCK_SH], 'orch_lock_take 0 "me@ctl pid 1 since T" || exit $?; echo held; bash -c "$(declare -p $(compgen -v ORCH_); declare -f orch_lock_open orch_lock_wait orch_lock_take); orch_lock_take 0 other 9>&-"; echo "second=$?"', [], { env });
    expect(r.stdout).toBe('held\nsecond=75\n');
    expect(r.stderr).toBe('locked by me@ctl pid 1 since T\n');
    expect(readFileSync(path.join(home, '.orch/lock.info'), 'utf8')).toBe('me@ctl pid 1 since T\n');
  });
  it('a run that fails while the holder has not written lock.info yet (emptied, as orch_lock_note does) still names the holder', () => {
    const home = tmp('home');
    const env = { ...process.env, HOME: home };
    // The holder takes the flock, empties lock.info, and writes it 150 ms later (a slow
    // instant of the real note); the second run fails in between. With a holder that
    // never writes it, the message falls back after the bounded rereads (0.5 s).
    const script = `orch_lock_open; flock -n 9; : > "$HOME/$ORCH_LOCK_INFO"; ( sleep 0.15; orch_lock_note "me@ctl pid 2 since T" ) &
      bash -c "$(declare -p $(compgen -v ORCH_); declare -f orch_lock_open orch_lock_wait); orch_lock_open && orch_lock_wait 0" 9>&-; echo "second=$?"; wait
      : > "$HOME/$ORCH_LOCK_INFO"; t0=$EPOCHREALTIME
      bash -c "$(declare -p $(compgen -v ORCH_); declare -f orch_lock_open orch_lock_wait); orch_lock_open && orch_lock_wait 0" 9>&-; echo "third=$? ms=$(( (\${EPOCHREALTIME/./} - \${t0/./}) / 1000 ))"`;
    const r = runBash([LOCK_SH], script, [], { env });
    expect(r.stderr).toBe('locked by me@ctl pid 2 since T\nlocked by another orch run\n');
    const m = /^second=75\nthird=75 ms=(\d+)\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(450);
    expect(Number(m![1])).toBeLessThan(3000);
  });
  it('orch_lock_take waits up to WAIT seconds for the holder to go', () => {
    const home = tmp('home');
    const r = runBash([LOCK_SH], '( orch_lock_take 0 first && sleep 1 ) & sleep 0.3; t0=$SECONDS; orch_lock_take 5 second; echo "rc=$? waited=$((SECONDS - t0))"; wait', [], { env: { ...process.env, HOME: home } });
    expect(r.stdout).toMatch(/^rc=0 waited=[01]\n$/);
  });
});

describe('segment.sh', () => {
  it('orch_seg_run reports each step and passes state and registry texts as $2 and $3, never in a command line', () => {
    const { results } = runSegment([
      entry(0, 'printf "%s|%s|%s\\n" "$1" "$2" "$3"; orch_status ok'),
      entry(1, 'tr "\\0" " " < /proc/$$/cmdline; orch_status changed', { stateArg: '{"secret-state":1}', registryArg: '{"apps":{}}' }),
    ]);
    expect(results.map((r) => [r.index, r.rc, r.status])).toEqual([[0, 0, 'ok'], [1, 0, 'changed']]);
    expect(results[0]!.out).toBe('0||\n::orch:: status=ok\n');
    expect(results[1]!.out).not.toContain('secret-state');
  });
  it('writes the step\'s scratch files private (umask 077) without a subshell, and runs each step with the umask it was given', () => {
    const d = tmp('seg-umask');
    // A step's prelude sets umask 022 itself: this one has none, so it shows what it was given.
    const bare = { ...entry(1, ''), task: { ...task(''), script: 'umask; echo "::orch:: status=ok"\n' } };
    writeFileSync(path.join(d, 'fields'), encodeSegment([entry(0, 'ls -l "$0" | cut -c1-10; orch_status ok', { stateArg: 's' }), bare], false, 0));
    const r = runBash([SEGMENT_SH], 'mkdir -m 700 "$1/d" && umask 027 && orch_seg_run "$1/fields" "$1/d"', [d]);
    const res = parseSegmentOutput(r.stdout);
    expect(res.map((x) => x.out)).toEqual(['-rw-------\n::orch:: status=ok\n', '0027\n::orch:: status=ok\n']);
    expect((statSync(path.join(d, 'd', 'st')).mode & 0o777).toString(8)).toBe('600');
  });
  it('skips `when: changed` steps until a step changed the host', () => {
    const { results } = runSegment([{ ...entry(0, 'orch_status changed'), step: step(0, 'changed') }, entry(1, 'orch_status changed'), { ...entry(2, 'orch_status changed'), step: step(2, 'changed') }]);
    expect(results.map((r) => `${r.index} ${r.status}`)).toEqual(['0 skipped', '1 changed', '2 changed']);
  });
  it('stops at a failure (its stderr tail reported) and after a step that ended otherwise than expected', () => {
    const a = runSegment([entry(0, 'echo bad >&2; exit 4'), entry(1, 'orch_status ok')]);
    expect(a.results.map((r) => [r.index, r.rc, r.err])).toEqual([[0, 4, 'bad\n']]);
    const b = runSegment([entry(0, 'orch_status ok', { expect: 'changed' }), entry(1, 'orch_status ok')]);
    expect(b.results.map((r) => r.index)).toEqual([0]);
  });
  it('gives the payload on stdin to the first step only; an inline payload as a private file', () => {
    const { results } = runSegment([entry(0, 'cat; orch_status changed', { send: true }), entry(1, 'cat "${1#f:}"; [ -t 0 ] || cat; orch_status changed', { inline: `b64:${Buffer.from('inline!').toString('base64')}` })], false, 'on stdin');
    expect(results.map((r) => r.out.split('::orch::')[0])).toEqual(['on stdin', 'inline!']);
  });
  it('compare-and-swap: refuses (exit 76) a step whose state.json is not the one read with the facts', () => {
    const d = tmp('cas');
    const f = path.join(d, 'state.json');
    writeFileSync(f, '{"v":1}\n');
    const sha = createHash('sha256').update('{"v":1}\n').digest('hex');
    const ok = runSegment([entry(0, 'orch_write "$0.json" x; orch_status changed', { stateBase: `${sha} ${f}` })]);
    expect(ok.results.map((r) => [r.rc, r.stateSha])).toEqual([[0, sha]]); // the step left state.json as it was: reported
    const wrote = runSegment([entry(0, `orch_write ${f} "$2"; orch_status changed`, { stateBase: `${sha} ${f}`, stateArg: '{"v":9}' })]);
    expect(wrote.results.map((r) => [r.rc, r.stateSha])).toEqual([[0, createHash('sha256').update('{"v":9}\n').digest('hex')]]);
    writeFileSync(f, '{"v":1}\n');
    writeFileSync(f, '{"v":2}\n');
    const stale = runSegment([entry(0, 'touch "$0.ran"; orch_status changed', { stateBase: `${sha} ${f}` })]);
    expect(stale.results.map((r) => [r.rc, r.err])).toEqual([[76, `state.json ${f} changed since the facts were read (another writer?); not running the step\n`]]);
    const absent = runSegment([entry(0, 'orch_status changed', { stateBase: `0 ${path.join(d, 'none.json')}` })]);
    expect(absent.results.map((r) => r.rc)).toEqual([0]);
  });
  it('passes $1..$3 as `$(cat FILE)` would (trailing newlines dropped, inner ones kept) and takes the last status line', () => {
    const { results } = runSegment([
      entry(0, 'printf "[%s]" "$2" "$3"; echo; echo "::orch:: status=skipped"; echo "::orch:: status=ok "; echo "::orch:: status=ok"; printf "x\\n::orch:: status=changedx"', { stateArg: 'a\n\nb\n\n\n', registryArg: '\n' }),
      entry(1, 'printf "::orch:: status=skipped"'),
      entry(2, ':'),
    ]);
    expect(results.map((r) => [r.index, r.rc, r.status])).toEqual([[0, 0, 'ok'], [1, 0, 'skipped'], [2, 0, 'changed']]);
    expect(results[0]!.out).toContain('[a\n\nb][]\n');
    expect(results[2]!.out).toBe('');
    expect(results[2]!.err).toBe('');
  });
  it('orch_seg_sha FILE VAR TMP puts the sha256 (0 when absent) into VAR, through the scratch file TMP', () => {
    const d = tmp('sha');
    writeFileSync(path.join(d, 'f'), 'x');
    expect(runBash([SEGMENT_SH], 'orch_seg_sha "$1/f" a "$1/t"; orch_seg_sha "$1/none" b "$1/t"; echo "$a $b"', [d]).stdout).toBe(`${createHash('sha256').update('x').digest('hex')} 0\n`);
  });
  it('orch_seg_b64 FILE VAR TMP puts the one-line base64 of FILE (empty for an empty file) into VAR', () => {
    const d = tmp('b64');
    const data = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
    writeFileSync(path.join(d, 'f'), data);
    writeFileSync(path.join(d, 'empty'), '');
    const out = runBash([PROTOCOL_SH, SEGMENT_SH], 'orch_seg_b64 "$1/f" a "$1/t"; orch_seg_b64 "$1/empty" b "$1/t"; printf "%s|%s" "$a" "$b"', [d]).stdout;
    expect(out).toBe(`${data.toString('base64')}|`);
  });
});

/**
 * Runs `body` after the libraries in a session of its own (`setsid`): the agent's
 * session-wide kills must never reach the test runner's session.
 */
function runInOwnSession(libs: string[], body: string, args: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('setsid', ['-w', 'bash', '-c', `${libs.join('\n')}\n${body}\n`, 'orch-test', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('agent.sh', () => {
  const lib = [PROTOCOL_SH, LOCK_SH, SEGMENT_SH, AGENT_SH];
  /** Bash lines: HOME=$1, another run holding the lock for 20 s (pid in $holder), and the facts script the agent's code carries (ORCH_AGENT_FACTS, src/engine/agent.ts). */
  const lockHeld = [
    'export HOME=$1',
    'mkdir -p "$HOME/.orch"; ( exec 8>>"$HOME/.orch/lock"; flock 8; exec sleep 20 ) > /dev/null 2>&1 & holder=$!; sleep 0.3',
    'ORCH_AGENT_FACTS="echo FACTS"',
  ];
  it('orch_agent_fields_ok counts the bytes of a frame\'s NUL-terminated fields (any locale), refusing a frame cut short', () => {
    const d = tmp('fields');
    const frame = Buffer.from('1\0é—x\0\0last\0', 'utf8');
    writeFileSync(path.join(d, 'f'), frame);
    writeFileSync(path.join(d, 'short'), frame.subarray(0, frame.length - 3));
    const env = { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };
    const r = runBash([AGENT_SH], `for n in ${frame.length} ${frame.length - 1} ${frame.length + 1}; do orch_agent_fields_ok "$1/f" "$n" && echo "f $n ok"; done; orch_agent_fields_ok "$1/short" ${frame.length} || echo short refused`, [d], { env });
    expect(r.stdout).toBe(`f ${frame.length} ok\nshort refused\n`);
  });
  it('orch_agent_session_pids lists the other live processes of the session, not the caller', () => {
    const r = runInOwnSession(lib, 'sleep 5 & s=$!; orch_agent_session_pids; mine=" ${ORCH_AGENT_PIDS[*]} "; kill $s; case "$mine" in *" $s "*) echo has-sleep;; esac; case "$mine" in *" $BASHPID "*) echo has-self;; esac');
    expect(r.stdout).toBe('has-sleep\n');
  });
  it('orch_agent_kill_session TERMs the session, then KILLs what ignores TERM after the grace', () => {
    const d = tmp('kill');
    const r = runInOwnSession(lib, [
      `bash -c 'trap "" TERM; echo $$ > "$1/stubborn"; sleep 30' x "$1" &`,
      `bash -c 'echo $$ > "$1/polite"; exec sleep 30' x "$1" &`,
      'sleep 0.3; t0=$(date +%s%N); orch_agent_kill_session 1; t1=$(date +%s%N)',
      'sleep 0.2; for f in stubborn polite; do kill -0 "$(cat "$1/$f")" 2>/dev/null && echo "$f alive"; done',
      'echo "ms=$(( (t1 - t0) / 1000000 ))"',
    ].join('\n'), [d]);
    expect(r.stdout).toMatch(/^ms=\d+\n$/);
    const ms = Number(/ms=(\d+)/.exec(r.stdout)![1]);
    expect(ms).toBeGreaterThanOrEqual(950); // KILL only after the 1 s grace
    // ... and both are gone when it returns (no "alive" line above): it waited for them.
  });
  it('orch_agent_kill_session ends a forking loop, a process in its own group and its newcomers at once, without waiting for the grace', () => {
    const d = tmp('kill2');
    // A loop forking a child every few ms (children born after the first TERM), a
    // `timeout` (its own process group) and a TERM handler that starts a new process.
    const r = runInOwnSession(lib, [
      'while :; do sleep 0.005; done &',
      'timeout 30 sleep 30 &',
      `bash -c 'trap "sleep 30 & echo \\$! > \\"\\$1/late\\"; exit 0" TERM; sleep 30 & wait' x "$1" &`,
      // A 600 s grace: waiting for it would outlast runInOwnSession's 30 s timeout (no output).
      'sleep 0.3; t0=$(date +%s%N); orch_agent_kill_session 600; t1=$(date +%s%N)',
      'orch_agent_session_pids; echo "left=${#ORCH_AGENT_PIDS[@]}"',
      // (A zombie is gone: its parent, here init, has not reaped it yet.)
      'read -r st < "/proc/$(cat "$1/late")/stat" 2>/dev/null && st=${st##*) } && [ "${st%% *}" != Z ] && echo "late alive"',
      'echo "ms=$(( (t1 - t0) / 1000000 ))"',
    ].join('\n'), [d]);
    expect(r.stdout, r.stderr).toMatch(/^left=0\nms=\d+\n$/);
    expect(existsSync(path.join(d, 'late')), 'the TERM handler ran').toBe(true);
    // Newcomers got their TERM at once: the call returned (above), long before its 600 s grace.
  });
  it('orch_agent_orphaned: false while the agent is the parent, true once it died (even before it is reaped)', () => {
    const d = tmp('orphan');
    const r = runInOwnSession(lib, [
      // The "agent" (bash -c) starts a watchdog-like child and exits at once; the child asks before and after.
      `bash -c "$(declare -f)"$'\\n''(orch_agent_orphaned $$ || echo parented > "$1/a"; sleep 0.4; orch_agent_orphaned $$ && echo orphaned > "$1/b") & sleep 0.1; exit 0' x "$1"`,
      'sleep 0.8; cat "$1/a" "$1/b"',
    ].join('\n'), [d]);
    expect(r.stdout, r.stderr).toBe('parented\norphaned\n');
  });
  it('orch_agent: stdin closing while it waits for the lock ends the wait at once (the lock is never taken late)', () => {
    const home = tmp('home');
    const r = runInOwnSession(lib, [
      ...lockHeld,
      // The agent (its own session, as under sshd) waits up to 60 s; its control machine goes away 0.5 s later.
      '{ printf "C 30 1 60 me 0\\n"; sleep 0.5; } | setsid bash -c "$(declare -p $(compgen -v ORCH_); declare -f); orch_agent" > "$1/out" 2> "$1/err" & agent=$!',
      't0=$(date +%s%N); wait $agent; echo "rc=$? ms=$(( ($(date +%s%N) - t0) / 1000000 ))"',
      // The agent ended while the other run still held the lock: its wait ended, not the holder's hold.
      'kill -0 $holder 2>/dev/null || echo "holder gone"',
      'ps -eo args= | grep -qx "flock -w 60 9" && echo "waiter alive"',
      'kill $holder',
    ].join('\n'), [home]);
    expect(r.stdout, r.stderr).toMatch(/^rc=0 ms=\d+\n$/);
    // Only the start line (a trace point): never `::orch:: locked` nor facts.
    expect(readFileSync(path.join(home, 'out'), 'utf8')).toBe('::orch:: started\n');
    expect(readFileSync(path.join(home, 'err'), 'utf8')).toContain('stdin closed');
  });
  it('orch_agent: a goodbye (Q) while it waits for the lock ends the wait at once, stdin still open', () => {
    const home = tmp('home-q');
    const r = runInOwnSession(lib, [
      ...lockHeld,
      // The run is cancelled 0.5 s into the wait: Q, and its stdin stays open for 20 s more
      // (through a fifo: the writer is a process of its own, ended below).
      'mkfifo "$1/in"',
      '{ printf "C 30 1 60 me 0\\n"; sleep 0.5; printf "Q\\n"; exec sleep 20; } > "$1/in" & writer=$!',
      'setsid bash -c "$(declare -p $(compgen -v ORCH_); declare -f); orch_agent" < "$1/in" > "$1/out" 2> "$1/err" & agent=$!',
      'wait $agent; echo "rc=$?"',
      'kill -0 $holder 2>/dev/null || echo "holder gone"',
      'kill -0 $writer 2>/dev/null || echo "stdin closed"',
      'ps -eo args= | grep -qx "flock -w 60 9" && echo "waiter alive"',
      'kill $holder $writer',
    ].join('\n'), [home]);
    expect(r.stdout, r.stderr + readFileSync(path.join(home, 'err'), 'utf8')).toBe('rc=0\n');
    expect(readFileSync(path.join(home, 'out'), 'utf8')).toBe('::orch:: started\n');
  });
  it('orch_agent_running: false for a child that exited and is not reaped yet (a zombie, which kill -0 still finds)', () => {
    const d = tmp('zombie');
    // `exec sleep` never reaps the short sleep it inherited: that child stays a zombie.
    const r = runInOwnSession(lib, [
      'bash -c \'sleep 0.1 & echo $! > "$1/z"; exec sleep 3\' x "$1" & parent=$!',
      'sleep 0.6; z=$(cat "$1/z")',
      'kill -0 "$z" && echo "kill-0 finds it"',
      'orch_agent_running "$z" || echo "not running"',
      'orch_agent_running "$parent" && echo "parent running"',
      'kill "$parent"; wait "$parent" 2>/dev/null',
      'orch_agent_running "$parent" || echo "parent gone"',
    ].join('\n'), [d]);
    expect(r.stdout, r.stderr).toBe('kill-0 finds it\nnot running\nparent running\nparent gone\n');
  });
  it('orch_agent_pump spools D frames to a file, heartbeats between them, and stops at D 0', () => {
    const d = tmp('pump');
    const frames = 'D 3\nabcH\nD 2\ndeD 0\nNEXT\n';
    const a = runBash(lib, 'ORCH_AGENT_DIR="$1"; orch_agent_pump "$1/out"; echo "rc=$?"; IFS= read -r l; echo "after=$l"', [d], { stdin: frames });
    expect(a.stdout).toBe('rc=0\nafter=NEXT\n');
    expect(readFileSync(path.join(d, 'out'), 'utf8')).toBe('abcde');
    expect(runBash(lib, 'ORCH_AGENT_DIR="$1"; orch_agent_pump "$1/out2"; echo "rc=$?"', [d], { stdin: 'D 5\nab' }).stdout).toBe('rc=1\n');
    expect(runBash(lib, 'ORCH_AGENT_DIR="$1"; orch_agent_pump "$1/out3"; echo "rc=$?"', [d], { stdin: 'D x\n' }).stdout).toBe('rc=1\n');
  });
  it('orch_agent_alive and orch_agent_now agree on the clock', () => {
    const d = tmp('alive');
    const r = runBash(lib, 'ORCH_AGENT_DIR="$1"; orch_agent_alive; read -r t < "$1/alive"; orch_agent_now n; echo $(( n - t ))', [d]);
    expect(r.stdout).toBe('0\n');
  });
});
