/**
 * A seeded pseudo-random generator for tests that draw random schedules and corpora
 * (kill moments, inventories, patterns, ssh_config files): the same seed replays the same
 * run. mulberry32 (Tommy Ettinger's public-domain 32-bit generator): `seededRandom(seed)()`
 * returns a float in [0, 1).
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
