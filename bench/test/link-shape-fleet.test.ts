/**
 * The shaped uplink on a real 2-host fleet: the tbf qdisc sits on the path of every
 * control -> host byte and of none of the host -> control payload (its own byte
 * counter, not a timing), `remove()` restores the bridge's default qdisc, and a bad
 * device is a clear error.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunFleet, startFleet, type Fleet } from '../../test/harness/fleet.js';
import { checkTransfers, parseLinkRate, shapeUplink, uplinkDevice } from '../link-shape.js';
import { hostListText } from '../workload.js';

const qdisc = (dev: string): string => spawnSync('tc', ['qdisc', 'show', 'dev', dev], { encoding: 'utf8' }).stdout;

describe.skipIf(!canRunFleet())('shapeUplink on a fleet', () => {
  let fleet: Fleet;
  let work: string;
  beforeAll(async () => {
    fleet = await startFleet({ count: 2, name: 'oblink' });
    work = await mkdtemp('/var/tmp/orch-bench-link-test-');
  });
  afterAll(async () => {
    await fleet?.teardown();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('counts every uploaded byte and no downloaded payload; remove() restores noqueue', async () => {
    const up = shapeUplink(fleet, parseLinkRate('1gbit')!);
    try {
      expect(up.device).toBe(uplinkDevice(fleet));
      expect(qdisc(up.device)).toMatch(/qdisc tbf \S+ root .*rate 1Gbit/);
      const hostList = path.join(work, 'hosts.txt');
      await writeFile(hostList, hostListText(fleet.hosts));
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: work, KNOWN_HOSTS: fleet.knownHostsFile, IDENTITY: fleet.identityFile };
      const before = up.sentBytes();
      const oneBytes = 4 * 2 ** 20;
      const eachBytes = 2 ** 20;
      const t = await checkTransfers({ fleet, work, hostList, env, oneBytes, eachBytes, runs: 1 });
      expect(t.map((x) => [x.kind, x.bytes])).toEqual([['up-one', oneBytes], ['up-all', 2 * eachBytes], ['down-one', oneBytes]]);
      const sent = up.sentBytes() - before;
      const uploaded = oneBytes + 2 * eachBytes;
      // At least the upload; less than upload + the 4 MiB download (headers and acks add a few %).
      expect(sent).toBeGreaterThanOrEqual(uploaded);
      expect(sent).toBeLessThan(uploaded + oneBytes / 2);
    } finally {
      up.remove();
    }
    expect(qdisc(up.device)).not.toMatch(/tbf/);
    up.remove();
  });

  it('a missing device is an error naming tc and what it needs', () => {
    expect(() => shapeUplink({ subnet: 255 }, parseLinkRate('100mbit')!)).toThrow(/tc qdisc replace dev orb255 root tbf .*needs iproute2 and a kernel with sch_tbf/);
  });
});
