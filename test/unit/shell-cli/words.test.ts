import { describe, expect, it } from 'vitest';
import { splitWords } from '../../../src/cli/shell/words.js';

describe('splitWords', () => {
  it.each([
    ['cd shop', ['cd', 'shop']],
    ['  ls   a/b  ', ['ls', 'a/b']],
    [`put 'my file.txt' "/srv/a b"`, ['put', 'my file.txt', '/srv/a b']],
    [String.raw`get a\ b "q\"x"`, ['get', 'a b', 'q"x']],
    [`x ''`, ['x', '']],
  ])('%s', (line, want) => expect(splitWords(line)).toEqual(want));

  it('refuses an open quote', () => {
    expect(() => splitWords(`cat 'x`)).toThrow('unterminated single quote');
  });
});
