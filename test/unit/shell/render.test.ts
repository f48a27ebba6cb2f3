import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Masker } from '../../../src/shell/mask.js';
import { findTemplateVariables, RenderError, renderTemplate } from '../../../src/shell/render.js';

const scope = {
  app: 'shop',
  root: '/srv/shop',
  msg: "it's $(id) `id` ; rm -rf / \n next",
  weight: 2,
  debug: false,
  empty: null,
  items: ['a b', "c'd", 'e'],
  host: { name: 'web1', address: '10.0.0.11', roles: ['web', 'db'], vars: { port: 8080 } },
  node: { name: 'shop', path: 'shop' },
  fragment: 'echo one; echo two',
};

function shell(template: string, s: Record<string, unknown> = scope, env?: Record<string, string>): string {
  return renderTemplate(template, s, { mode: 'shell', env });
}
function text(template: string, s: Record<string, unknown> = scope): string {
  return renderTemplate(template, s, { mode: 'text' });
}
function bash(script: string): string {
  const r = spawnSync('bash', ['-c', script]);
  expect(r.stderr.toString()).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.toString();
}
function renderError(fn: () => unknown): RenderError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RenderError);
    return e as RenderError;
  }
  throw new Error('expected a RenderError, nothing was thrown');
}

describe('renderTemplate, shell mode', () => {
  it.each([
    ['echo {{app}}', 'echo shop'],
    ['echo {{msg}}', `echo 'it'\\''s $(id) \`id\` ; rm -rf / \n next'`],
    ['echo {{host.name}} {{host.vars.port}}', 'echo web1 8080'],
    ['echo {{weight}} {{debug}}', 'echo 2 false'],
    ['echo {{empty}}', "echo ''"],
    ['echo {{{fragment}}}', 'echo echo one; echo two'],
    ['echo {{fragment}}', "echo 'echo one; echo two'"],
    ['{{#each items}}echo {{this}}\n{{/each}}', "echo 'a b'\necho 'c'\\''d'\necho e\n"],
    ['{{#each items as |item i|}}{{i}}={{item}} {{/each}}', "0='a b' 1='c'\\''d' 2=e "],
    ['{{#each host.roles}}{{@index}}:{{.}}:{{../app}} {{/each}}', '0:web:shop 1:db:shop '],
    ['{{#with host}}{{name}}@{{address}} {{@root.app}}{{/with}}', 'web1@10.0.0.11 shop'],
    ['{{#if debug}}yes{{else if weight}}w={{weight}}{{else}}no{{/if}}', 'w=2'],
    ['{{#unless debug}}not debug{{/unless}}', 'not debug'],
    ['cd {{lookup host "address"}}', 'cd 10.0.0.11'],
    ['{{lookup items 1}}', "'c'\\''d'"],
    ['{{"app"}}', 'shop'],
    ['a {{~app~}} b', 'ashopb'],
    ['\\{{app}} {{app}}', '{{app}} shop'],
    ['no mustache at all: $HOME', 'no mustache at all: $HOME'],
    ['line1\n{{#if weight}}\nline2\n{{/if}}\nline3', 'line1\nline2\nline3'],
  ])('%j renders %j', (template, expected) => {
    expect(shell(template)).toBe(expected);
  });

  it.each([
    "it's",
    '$(touch /tmp/orch-render-never)',
    '`id`',
    'a\nb\r\nc\t',
    '"double" \\ back',
    '*',
    '~',
    '',
    '-oProxyCommand=touch /tmp/orch-render-never',
    '日本 😀 \u202eRTL',
  ])('the rendered script prints %j exactly when run by bash', (value) => {
    const script = shell('printf %s {{v}}; printf "|%s" {{#each list}}{{this}} {{/each}}', { v: value, list: [value, value] });
    expect(bash(script)).toBe(`${value}|${value}|${value}`);
  });

  it('inserts {{{x}}} raw: bash runs the fragment', () => {
    expect(bash(shell('{{{fragment}}}'))).toBe('one\ntwo\n');
  });

  it('quotes helper results too', () => {
    const env = { GREETING: 'hello world; id' };
    expect(shell('echo {{env "GREETING"}}', scope, env)).toBe("echo 'hello world; id'");
    expect(bash(shell('printf %s {{env "GREETING"}}', scope, env))).toBe('hello world; id');
  });

  it('refuses a value with a NUL byte', () => {
    const e = renderError(() => shell('echo {{v}}', { v: 'a\0b' }));
    expect(e.message).toBe('value of "v" cannot be shell-quoted: cannot quote a value containing a NUL byte (at offset 1) for the shell');
    expect(e.variable).toBe('v');
  });

  it('caches per mode: the same text renders differently in shell and text mode', () => {
    expect(shell('x={{msg}}')).not.toBe(text('x={{msg}}'));
    expect(text('x={{msg}}')).toBe(`x=${scope.msg}`);
  });
});

describe('renderTemplate, text mode', () => {
  it.each([
    ['{{root}}/versions/{{host.vars.port}}', '/srv/shop/versions/8080'],
    ['{{msg}}', scope.msg],
    ['{{{msg}}}', scope.msg],
    ['{{#each items}}[{{this}}]{{/each}}', "[a b][c'd][e]"],
    ['{{empty}}|{{debug}}', '|false'],
    ['<{{app}}> & "{{app}}"', '<shop> & "shop"'], // no HTML escaping
  ])('%j renders %j', (template, expected) => {
    expect(text(template)).toBe(expected);
  });
});

describe('renderTemplate errors', () => {
  it.each([
    ['{{foo}}', 'undefined variable "foo"', 'foo'],
    ['echo {{host.nmae}}', 'undefined variable "host.nmae"', 'host.nmae'],
    ['{{host.vars.port.x}}', 'undefined variable "host.vars.port.x"', 'host.vars.port.x'],
    ['{{empty.x}}', 'undefined variable "empty.x"', 'empty.x'],
    ['{{#if missing}}x{{/if}}', 'undefined variable "missing"', 'missing'],
    ['{{#each nothing}}x{{/each}}', 'undefined variable "nothing"', 'nothing'],
    ['{{lookup host missing}}', 'undefined variable "missing"', 'missing'],
    ['{{lookup host "nope"}}', 'undefined variable "nope"', 'nope'],
    ['{{#each items}}{{name}}{{/each}}', 'undefined variable "name"', 'name'],
    ['{{../app}}', 'undefined variable "../app"', '../app'],
    ['{{@index}}', 'undefined variable "@index"', '@index'],
    ['{{host}}', 'variable "host" is an object; use a field of it', 'host'],
    ['{{items}}', 'variable "items" is an object; use a field of it', 'items'],
    ['{{#each items}}{{../host}}{{/each}}', 'variable "../host" is an object; use a field of it', '../host'],
  ])('%j -> %s', (template, message, variable) => {
    for (const mode of ['shell', 'text'] as const) {
      const e = renderError(() => renderTemplate(template, scope, { mode }));
      expect(e.message).toBe(message);
      expect(e.variable).toBe(variable);
    }
  });

  it.each([
    ['{{app', "template syntax error: Parse error on line 1: Expecting 'ID', 'STRING', 'NUMBER', 'BOOLEAN', 'UNDEFINED', 'NULL', 'DATA', got 'INVALID'"],
    ['{{#if app}}x', "template syntax error: Parse error on line 1: Expecting 'OPEN_INVERSE_CHAIN', 'INVERSE', 'OPEN_ENDBLOCK', got 'EOF'"],
    ['{{#if app}}x{{/each}}', 'template syntax error: if doesn\'t match each - 1:3'],
    ['{{> header}}', 'template syntax error: partials ({{> name}}) are not supported (line 1, column 1)'],
    ['{{#*inline "x"}}y{{/inline}}', 'template syntax error: decorators are not supported (line 1, column 1)'],
    ['{{shout app}}', 'template syntax error: unknown helper "shout" (known: lookup, env) (line 1, column 3)'],
    ['{{log app}}', 'template syntax error: unknown helper "log" (known: lookup, env) (line 1, column 3)'],
    ['{{#app}}x{{/app}}', 'template syntax error: unknown block helper "app" (known: #if, #unless, #each, #with) (line 1, column 4)'],
    ['{{if app}}', 'template syntax error: "if" is a block helper; write {{#if ...}}...{{/if}} (line 1, column 3)'],
    ['{{#lookup host "name"}}x{{/lookup}}', 'template syntax error: "lookup" is not a block helper; write {{lookup ...}} (line 1, column 4)'],
    ['{{@_parent}}', 'template syntax error: unknown data variable "@_parent" (line 1, column 3)'],
    ['{{__orchOut "r" "x" fragment}}', 'template syntax error: unknown helper "__orchOut" (known: lookup, env) (line 1, column 3)'],
    ['{{__orchVar}}', 'template syntax error: "__orchVar" is reserved (line 1, column 3)'],
    ['{{lookup host}}', 'template error: lookup needs exactly two arguments: {{lookup object key}}'],
    ['{{env}}', 'undefined variable "env" (to read an environment variable, write {{env "NAME"}})'],
    ['{{lookup}}', 'undefined variable "lookup" (to look a key up, write {{lookup object key}})'],
    ['{{each}}', 'undefined variable "each" (for a loop, write {{#each list}}...{{/each}})'],
    // Ansible habits: Jinja filters get how orch spells them, not a parser trace.
    ['serve --port {{ port | default(8000) }}', 'template syntax error: Jinja filters like "| default(8000)" are not Handlebars: write {{port}} and give "port" its default in the playbook\'s vars: (vars: { port: 8000 }; inventory vars and -e override it)'],
    ['{{ name | upper }}', 'template syntax error: Jinja filters like "| upper" are not Handlebars: orch templates have no filters; put the value you need in a var'],
  ])('%j -> %s', (template, message) => {
    const e = renderError(() => shell(template));
    expect(e.message).toBe(message);
  });

  describe('prototype access is an error, never a value', () => {
    const spies = [vi.spyOn(console, 'error'), vi.spyOn(console, 'warn'), vi.spyOn(console, 'log')];
    afterEach(() => {
      // Handlebars' own denial logs to the console; orch's guards refuse before that.
      for (const s of spies) expect(s).not.toHaveBeenCalled();
    });

    it.each([
      ['{{constructor}}', 'undefined variable "constructor"'],
      ['{{__proto__}}', 'undefined variable "__proto__"'],
      ['{{lookup this "constructor"}}', 'undefined variable "constructor"'],
      ['{{lookup this "__proto__"}}', 'undefined variable "__proto__"'],
      ['{{this.constructor.name}}', 'undefined variable "this.constructor.name"'],
      ['{{host.constructor}}', 'undefined variable "host.constructor"'],
      ['{{items.constructor.name}}', 'undefined variable "items.constructor.name"'],
      ['{{app.constructor}}', 'undefined variable "app.constructor"'],
      ['{{toString}}', 'undefined variable "toString"'],
      ['{{hasOwnProperty}}', 'undefined variable "hasOwnProperty"'],
      ['{{[constructor]}}', 'undefined variable "constructor"'],
      ['{{@root.constructor}}', 'undefined variable "@root.constructor"'],
      ['{{#with constructor}}{{name}}{{/with}}', 'undefined variable "constructor"'],
      ['{{#each __proto__}}x{{/each}}', 'undefined variable "__proto__"'],
      ['{{lookup (lookup this "constructor") "name"}}', 'undefined variable "constructor"'],
      ['{{lookup host.roles "constructor"}}', 'undefined variable "constructor"'],
    ])('%j -> %s', (template, message) => {
      for (const mode of ['shell', 'text'] as const) {
        const e = renderError(() => renderTemplate(template, scope, { mode }));
        expect(e.message).toBe(message);
      }
    });

    it('reads an own property that happens to be called "constructor"', () => {
      expect(shell('{{constructor}}', { constructor: 'own value' })).toBe("'own value'");
    });
  });
});

describe('{{env "NAME"}}', () => {
  it('reads options.env, never process.env, and masks the value', () => {
    process.env.ORCH_RENDER_TEST = 'from-process-env';
    try {
      const masker = new Masker();
      const e = renderError(() => renderTemplate('{{env "ORCH_RENDER_TEST"}}', scope, { mode: 'shell', env: {}, masker }));
      expect(e.message).toBe('environment variable "ORCH_RENDER_TEST" is not set');
      expect(e.variable).toBe('env:ORCH_RENDER_TEST');
      expect(masker.size).toBe(0);

      const script = renderTemplate('curl -H "X-Token: "{{env "TOKEN"}} {{env "ORCH_RENDER_TEST"}}', scope, {
        mode: 'shell',
        env: { TOKEN: 'tok en$', ORCH_RENDER_TEST: 'passed-in' },
        masker,
      });
      expect(script).toBe(`curl -H "X-Token: "'tok en$' passed-in`);
      expect(masker.size).toBe(2);
      expect(masker.mask(script)).toBe('curl -H "X-Token: "*** ***');
    } finally {
      delete process.env.ORCH_RENDER_TEST;
    }
  });

  it('errors without an env at all', () => {
    expect(renderError(() => renderTemplate('{{env "HOME"}}', scope, { mode: 'text' })).message).toBe('environment variable "HOME" is not set');
  });

  it('refuses a value shorter than 4 characters, naming it (it could not be masked readably)', () => {
    const masker = new Masker();
    const e = renderError(() => renderTemplate('pw={{env "PW"}}', scope, { mode: 'text', env: { PW: 'x' }, masker }));
    expect(e.message).toBe('environment variable "PW" (read with {{env}}, so a secret) is 1 character long; a secret needs at least 4 characters (a shorter value cannot be masked without garbling every message)');
    expect(e.variable).toBe('env:PW');
    expect(masker.size).toBe(0);
  });

  it('masks in text mode too', () => {
    const masker = new Masker();
    expect(renderTemplate('pw={{env "PW"}}', scope, { mode: 'text', env: { PW: 's3cret' }, masker })).toBe('pw=s3cret');
    expect(masker.mask('log: pw=s3cret')).toBe('log: pw=***');
  });
});

describe('variables named like helpers', () => {
  const named = { ...scope, env: 'prod', if: 'yes', unless: 'no', each: 'every', with: 'w', lookup: 'l' };
  it.each([
    ['{{env}}', 'prod'],
    ['{{{env}}}', 'prod'],
    ['{{env}}/{{env "STAGE"}}', 'prod/blue'],
    ['{{if}} {{unless}} {{each}} {{with}} {{lookup}}', 'yes no every w l'],
    ['{{#if env}}on {{env}}{{/if}}', 'on prod'],
    ['{{lookup this "env"}}', 'prod'],
    ['{{#with host}}{{../env}}{{/with}}', 'prod'],
  ])('%j -> %j', (template, expected) => {
    expect(renderTemplate(template, named, { mode: 'text', env: { STAGE: 'blue' } })).toBe(expected);
  });

  it('quotes a helper-named var in shell mode like any var', () => {
    expect(renderTemplate('echo {{env}}', { env: "it's prod" }, { mode: 'shell' })).toBe(`echo 'it'\\''s prod'`);
  });

  it('findTemplateVariables counts {{env}} as the var, {{env "X"}} as the helper', () => {
    expect(findTemplateVariables('{{env}} {{env "HOME"}} {{#each each}}{{/each}}')).toEqual(['each', 'env']);
  });
});

describe('findTemplateVariables', () => {
  it.each([
    ['no mustache', []],
    ['{{a}} {{b.c}} {{{d}}}', ['a', 'b', 'd']],
    ['{{this.x}} {{@root.y}} {{@root}}', ['x', 'y']],
    ['{{#if a}}{{b}}{{else}}{{c}}{{/if}}', ['a', 'b', 'c']],
    ['{{#unless a}}{{b}}{{/unless}}', ['a', 'b']],
    ['{{#each list}}{{name}} {{this}} {{@index}} {{../top}}{{else}}{{other}}{{/each}}', ['list', 'other', 'top']],
    ['{{#each list as |item|}}{{item.x}} {{../z}}{{/each}}', ['list', 'z']],
    ['{{#with obj}}{{inner}}{{../outer}}{{/with}}', ['obj', 'outer']],
    ['{{lookup map key}} {{lookup map "k"}}', ['key', 'map']],
    ['{{env "HOME"}} {{lookup (lookup a "b") c}}', ['a', 'c']],
    ['{{b}} {{a}} {{b}}', ['a', 'b']],
    ['{{"quoted key"}}', ['quoted key']],
  ])('%j -> %j', (template, expected) => {
    expect(findTemplateVariables(template)).toEqual(expected);
  });

  it('reports syntax errors', () => {
    expect(() => findTemplateVariables('{{#if a}}x')).toThrow(
      new RenderError("template syntax error: Parse error on line 1: Expecting 'OPEN_INVERSE_CHAIN', 'INVERSE', 'OPEN_ENDBLOCK', got 'EOF'"),
    );
  });

  it('agrees with renderTemplate: rendering with exactly the found variables succeeds', () => {
    const template = 'cd {{root}} && {{#each hosts as |h|}}ping {{h}} {{../flag}};{{/each}} echo {{host.name}}';
    const names = findTemplateVariables(template);
    expect(names).toEqual(['flag', 'host', 'hosts', 'root']);
    const s = { root: '/srv', hosts: ['a', 'b'], flag: '-c1', host: { name: 'web1' } };
    expect(shell(template, s)).toBe('cd /srv && ping a -c1;ping b -c1; echo web1');
    for (const name of names) {
      const partial: Record<string, unknown> = { ...s };
      delete partial[name];
      expect(renderError(() => shell(template, partial)).message).toMatch(new RegExp(`^undefined variable "(\\.\\./)?${name}`));
    }
  });
});
