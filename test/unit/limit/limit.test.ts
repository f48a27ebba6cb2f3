import { describe, expect, it } from 'vitest';
import { type LimitUniverse, MAX_REGEX_LENGTH, selectHosts, translatePythonRegex } from '../../../src/compile/limit.js';

const universe: LimitUniverse = {
  hosts: ['db1', 'db2', 'lb1', 'web1', 'web2'],
  roles: new Map([
    ['web', ['web1', 'web2']],
    ['db', ['db1', 'db2']],
  ]),
  groups: new Map([
    ['prod', { hosts: ['web1', 'db1'] }],
    ['staging', { hosts: ['web2', 'db2'] }],
  ]),
};

describe('selectHosts', () => {
  it.each([
    // plain names
    ['web', ['web1', 'web2']], // role
    ['db', ['db1', 'db2']],
    ['prod', ['db1', 'web1']], // group
    ['staging', ['db2', 'web2']],
    ['lb1', ['lb1']], // host
    ['web1', ['web1']],
    ['all', ['db1', 'db2', 'lb1', 'web1', 'web2']],
    ['*', ['db1', 'db2', 'lb1', 'web1', 'web2']],
    // unions
    ['web,db', ['db1', 'db2', 'web1', 'web2']],
    ['web:lb1', ['lb1', 'web1', 'web2']],
    ['lb1, web1 ,db2', ['db2', 'lb1', 'web1']],
    ['web1,web1,web', ['web1', 'web2']],
    ['nosuchhost,lb1', ['lb1']], // a term that matches nothing is fine on its own
    ['web,,lb1,', ['lb1', 'web1', 'web2']], // empty terms are ignored
    // intersections and exclusions
    ['web:&prod', ['web1']],
    ['web,&staging', ['web2']],
    ['all:!prod', ['db2', 'lb1', 'web2']],
    ['web:!web1', ['web2']],
    ['!db', ['lb1', 'web1', 'web2']], // only exclusions: start from all hosts
    ['&prod', ['db1', 'web1']],
    ['prod:staging:&db:!db2', ['db1']],
    ['!web1:web', ['web2']], // order written does not matter: unions, then &, then !
    ['&prod:db:lb1', ['db1']],
    ['web:&web1:&prod', ['web1']],
    // globs (matched against host, role and group names)
    ['web*', ['web1', 'web2']],
    ['*1', ['db1', 'lb1', 'web1']],
    ['db?', ['db1', 'db2']],
    ['[dw]*2', ['db2', 'web2']], // fnmatch class
    ['web[0]', ['web1']], // subscripts index the group's hosts in order
    ['web[-1]', ['web2']],
    ['all[1:2]', ['db2', 'lb1']],
    ['all[3:]', ['web1', 'web2']],
    ['db1[0]', ['db1']], // a host name with a subscript: the host's own one-element list
    ['[!w]*1', ['db1', 'lb1']],
    ['[a-d]b*', ['db1', 'db2']],
    ['pro*', ['db1', 'web1']], // group name glob
    ['*:!web*', ['db1', 'db2', 'lb1']],
    // regexes: JS syntax, matched at the start of the name (Ansible re.match)
    ['~web\\d', ['web1', 'web2']],
    ['~(web|lb)1', ['lb1', 'web1']],
    ['~.b1', ['db1', 'lb1']],
    ['~db[12]$', ['db1', 'db2']],
    ['~st', ['db2', 'web2']], // group "staging"
    ['all:!~web', ['db1', 'db2', 'lb1']],
    ['~^(db|lb):?1,web2', ['db1', 'lb1', 'web2']], // with a comma, a term runs to the next comma, ':' included
    ['web:&~.*2', ['web2']],
  ] as [string, string[]][])('%j selects %j', (pattern, hosts) => {
    const sel = selectHosts(pattern, universe);
    expect('hosts' in sel && sel.hosts).toEqual(hosts);
  });

  it.each([
    ['', 'empty --limit pattern'],
    ['  ', 'empty --limit pattern'],
    [',:,', '--limit ",:," matches no host (hosts: db1, db2, lb1, web1, web2; roles: db, web; groups: prod, staging)'], // ":" is a term, as in Ansible
    ['web[5]', "--limit: No hosts matched the subscripted pattern 'web[5]'"],
    ['nosuch', '--limit "nosuch" matches no host (hosts: db1, db2, lb1, web1, web2; roles: db, web; groups: prod, staging)'],
    ['web:&db', '--limit "web:&db" matches no host (hosts: db1, db2, lb1, web1, web2; roles: db, web; groups: prod, staging)'],
    ['all:!all', '--limit "all:!all" matches no host (hosts: db1, db2, lb1, web1, web2; roles: db, web; groups: prod, staging)'],
    ['~b1', '--limit "~b1" matches no host (hosts: db1, db2, lb1, web1, web2; roles: db, web; groups: prod, staging)'],
    ['x*', '--limit "x*" matches no host (hosts: db1, db2, lb1, web1, web2; roles: db, web; groups: prod, staging)'],
    ['~(web', '--limit term "~(web": Invalid regular expression: /(web/: Unterminated group'],
    ['web,!~[', '--limit term "!~[": unterminated character set'],
    ['~(?=a)', '--limit term "~(?=a)": backreferences and lookaround are not supported (patterns run in linear time)'],
    ['~(a)\\1', '--limit term "~(a)\\1": backreferences and lookaround are not supported (patterns run in linear time)'],
    ['web:!', '--limit term "!" names nothing'],
    ['&', '--limit term "&" names nothing'],
    [`~${'a'.repeat(MAX_REGEX_LENGTH + 1)}`, `--limit regex "~${'a'.repeat(39)}..." is too long (201 characters; at most 200)`],
  ])('%j -> error %j', (pattern, error) => {
    expect(selectHosts(pattern, universe)).toEqual({ error });
  });

  it('accepts a regex of exactly the maximum length', () => {
    expect(selectHosts(`~${'.?'.repeat(MAX_REGEX_LENGTH / 2)}`, universe)).toMatchObject({ hosts: universe.hosts });
  });

  it('truncates long name lists in the no-match error', () => {
    const hosts = Array.from({ length: 25 }, (_, i) => `h${String(i).padStart(2, '0')}`);
    const big: LimitUniverse = { hosts, roles: new Map(), groups: new Map([['g', { hosts: ['h00'] }]]) };
    expect(selectHosts('nope', big)).toEqual({
      error: '--limit "nope" matches no host (hosts: h00, h01, h02, h03, h04, h05, h06, h07, h08, h09 and 15 more; roles: (none); groups: g)',
    });
  });

  it('unions a name that is both a role and a group', () => {
    const u: LimitUniverse = {
      hosts: ['a', 'b', 'c'],
      roles: new Map([['x', ['a']]]),
      groups: new Map([['x', { hosts: ['b'] }]]),
    };
    expect(selectHosts('x', u)).toMatchObject({ hosts: ['a', 'b'] });
  });

  it('never returns a host outside the universe', () => {
    const u: LimitUniverse = { hosts: ['a'], roles: new Map([['r', ['a', 'ghost']]]), groups: new Map() };
    expect(selectHosts('r', u)).toMatchObject({ hosts: ['a'] });
  });

  it('treats regex and glob metacharacters in plain names literally', () => {
    const u: LimitUniverse = { hosts: ['a.b', 'axb'], roles: new Map(), groups: new Map() };
    expect(selectHosts('a.b', u)).toMatchObject({ hosts: ['a.b'] });
    expect(selectHosts('a?b', u)).toMatchObject({ hosts: ['a.b', 'axb'] });
    expect(selectHosts('a.*', u)).toMatchObject({ hosts: ['a.b'] });
  });
});

describe('Ansible details', () => {
  it('names every term that matched nothing, and selects the rest (ansible: "Could not match supplied host pattern")', () => {
    expect(selectHosts('web1,hh2,&prod,!nosuch', universe)).toEqual({
      hosts: ['web1'],
      warnings: ['Could not match supplied host pattern, ignoring: hh2', 'Could not match supplied host pattern, ignoring: nosuch'],
    });
    expect(selectHosts('web[0-1]', universe)).toEqual({ hosts: ['web1', 'web2'], warnings: ['Use [x:y] inclusive subscripts instead of [x-y] which has been removed'] });
  });

  it('a name that is a host selects that host only, even when a group has the name', () => {
    const u: LimitUniverse = { hosts: ['db', 'db1', 'db2'], roles: new Map(), groups: new Map([['db', { hosts: ['db1', 'db2'] }]]) };
    expect(selectHosts('db', u)).toMatchObject({ hosts: ['db'] });
    expect(selectHosts('d*', u)).toMatchObject({ hosts: ['db', 'db1', 'db2'] }); // a glob matches groups and hosts
    expect(selectHosts('db[1]', u)).toMatchObject({ hosts: ['db2'] }); // the group's hosts, in order
  });

  it('splits on ":" and whitespace only without a comma, and keeps an address with a port whole', () => {
    expect(selectHosts('web1:db1', universe)).toMatchObject({ hosts: ['db1', 'web1'] });
    expect(selectHosts('web1 db1', universe)).toMatchObject({ hosts: ['db1', 'web1'] });
    expect(selectHosts('web1:22', universe)).toEqual({
      error: '--limit "web1:22" matches no host (hosts: db1, db2, lb1, web1, web2; roles: db, web; groups: prod, staging)',
    });
  });

  it('has the built-in groups all and ungrouped', () => {
    expect(selectHosts('ungrouped', universe)).toMatchObject({ hosts: ['lb1'] });
    expect(selectHosts('al*', universe)).toMatchObject({ hosts: universe.hosts });
  });

  it.each([
    ['~(?i)WEB', ['web1', 'web2']],
    ['~.*1\\Z', ['db1', 'lb1', 'web1']],
    ['~(?P<kind>db)\\d', ['db1', 'db2']],
    ['~(?i)[A-C]', ['db1', 'db2', 'lb1', 'web1', 'web2']], // matches the group "all"
    ['~(?i)[V-X]', ['web1', 'web2']],
  ] as [string, string[]][])('translates the Python regex %s', (p, hosts) => {
    expect(selectHosts(p, universe)).toMatchObject({ hosts });
  });

  it('splits a regex at commas (and, without a comma, at ":" and spaces), as Ansible does', () => {
    // Ansible: "~x{,2}w" is the terms "~x{" and "2}w"; "~(?i:a)" is "~(?i" and "a)".
    expect(selectHosts('~x{,2}w', universe)).toMatchObject({ error: expect.stringContaining('matches no host') });
    expect(selectHosts('~(?i:a)', universe)).toEqual({ error: '--limit term "~(?i": unknown extension (?i' });
  });

  it.each([
    ['[]w]eb', ['web1', 'web2', 'web']],
    ['x{,2}w', ['web1', 'web2', 'web']],
    ['(?i)W[A-E]', ['web1', 'web2', 'web']],
    ['\\x77eb', ['web1', 'web2', 'web']],
    ['db|l', ['db1', 'db2', 'lb1', 'db']],
    ['[^w].', ['db1', 'db2', 'lb1', 'db', 'prod', 'staging', 'all', 'ungrouped']],
  ])('translatePythonRegex(%j) matches what re.match matches', (src, want) => {
    const names = ['db1', 'db2', 'lb1', 'web1', 'web2', 'web', 'db', 'prod', 'staging', 'all', 'ungrouped'];
    const re = translatePythonRegex(src);
    expect(typeof re).not.toBe('string');
    expect(names.filter((n) => ((re as RegExp).lastIndex = 0, (re as RegExp).test(n)))).toEqual(want);
  });

  it.each([
    ['(?>a)', 'atomic groups (?>...) are not supported'],
    ['a*+', 'possessive quantifiers (*+, ++, ?+, {m,n}+) are not supported'],
    ['(?i:a)', 'scoped flags (?flags:...) are not supported; put global flags such as (?i) at the start'],
    ['a(?i)', 'global flags such as (?i) must be at the start of the pattern'],
    ['(?x) a', 'verbose mode (?x) is not supported'],
    ['\\q', 'bad escape \\q'],
    ['[]a', 'unterminated character set'],
    ['(a)\\1', 'backreferences and lookaround are not supported (patterns run in linear time)'],
    ['(?<=a)b', 'backreferences and lookaround are not supported (patterns run in linear time)'],
  ])('translatePythonRegex refuses %j clearly', (src, msg) => {
    expect(translatePythonRegex(src)).toBe(msg);
  });
});
