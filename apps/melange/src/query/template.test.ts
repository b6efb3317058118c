import { describe, expect, it } from 'vitest';
import { seededRandom } from '@tk/core';
import { MelangeError } from '../errors.ts';
import { executeTemplate, MAX_STEPS } from './exec.ts';
import { MAX_NESTING, MAX_TEMPLATE_LENGTH, parseTemplate } from './parse.ts';
import { GoDuration, GoMap, GoPointer, GoSlice, GoStruct, type GoValue } from './values.ts';

const sub = (name: string, uses: string[]): GoStruct =>
  new GoStruct('config.Subpackage', [
    ['Name', name],
    [
      'Pipeline',
      new GoSlice(
        '[]config.Pipeline',
        uses.map((u) => new GoStruct('config.Pipeline', [['Uses', u]])),
      ),
    ],
    ['Test', new GoPointer('*config.Test', null)],
  ]);

const DATA = new GoStruct(
  'config.Configuration',
  [
    [
      'Package',
      new GoStruct(
        'config.Package',
        [
          ['Name', 'zstd'],
          ['Version', '1.5.7'],
          ['Epoch', 8],
          ['TargetArchitecture', new GoSlice('[]string', [])],
          ['Timeout', new GoDuration(5_400_000)],
          ['Options', new GoPointer('*config.PackageOption', null)],
          [
            'Resources',
            new GoPointer(
              '*config.Resources',
              new GoStruct('config.Resources', [
                ['CPU', '1'],
                ['Memory', '1Gi'],
              ]),
            ),
          ],
        ],
        { FullVersion: () => '1.5.7-r8' },
      ),
    ],
    [
      'Subpackages',
      new GoSlice('[]config.Subpackage', [
        sub('zstd-doc', ['split/manpages']),
        sub('zstd-dev', ['split/dev', 'test/pkgconf']),
      ]),
    ],
    [
      'Vars',
      new GoMap('map[string]string', [
        ['b', '2'],
        ['a', '1'],
        ['with-dash', 'x'],
      ]),
    ],
  ],
  { Name: () => 'zstd' },
);

function render(template: string, data: GoValue = DATA): string {
  return executeTemplate(template, parseTemplate(template), data);
}

function failure(template: string, data: GoValue = DATA): MelangeError {
  try {
    render(template, data);
  } catch (e) {
    expect(e).toBeInstanceOf(MelangeError);
    return e as MelangeError;
  }
  throw new Error(`no error for ${template}`);
}

describe('rendering', () => {
  it.each([
    ['{{.Package.Name}}-{{.Package.Version}}-r{{.Package.Epoch}}', 'zstd-1.5.7-r8'],
    ['{{ .Package.Name }}-{{ .Package.Version }}-r{{ .Package.Epoch }}', 'zstd-1.5.7-r8'],
    ['{{.Package.FullVersion}} {{.Name}}', '1.5.7-r8 zstd'],
    ['{{range .Subpackages}}{{.Name}} {{end}}', 'zstd-doc zstd-dev '],
    ['{{range $i, $s := .Subpackages}}{{$i}}:{{$s.Name}};{{end}}', '0:zstd-doc;1:zstd-dev;'],
    ['{{range $s := .Subpackages}}{{$s.Name}}/{{$.Package.Name}} {{end}}', 'zstd-doc/zstd zstd-dev/zstd '],
    [
      '{{range .Subpackages}}{{range .Pipeline}}{{if eq .Uses "test/pkgconf"}}{{break}}{{end}}{{.Uses}},{{end}}{{end}}',
      'split/manpages,split/dev,',
    ],
    ['{{range .Subpackages}}{{if eq .Name "zstd-doc"}}{{continue}}{{end}}{{.Name}}{{end}}', 'zstd-dev'],
    ['{{range .Package.TargetArchitecture}}x{{else}}none{{end}}', 'none'],
    ['{{range $k, $v := .Vars}}{{$k}}={{$v}} {{end}}', 'a=1 b=2 with-dash=x '],
    [
      '{{.Vars.a}} {{.Vars.missing}} {{index .Vars "with-dash"}} [{{index .Vars "missing"}}]',
      '1 <no value> x []',
    ],
    ['{{.Vars}}', 'map[a:1 b:2 with-dash:x]'],
    ['{{.Package.TargetArchitecture}} {{.Package.Options}} {{.Package.Timeout}}', '[] <nil> 1h30m0s'],
    ['{{.Package.Resources}} {{printf "%v" .Package.Resources}}', '{1 1Gi} &{1 1Gi}'],
    ['{{index .Subpackages 1 | printf "%v"}}', '{zstd-dev [{split/dev} {test/pkgconf}] <nil>}'],
    ['{{(index .Subpackages 1).Name}} {{len .Subpackages}} {{len "héllo"}} {{len .Vars}}', 'zstd-dev 2 6 3'],
    ['{{if .Package.Options}}opts{{else if .Vars}}vars{{else}}none{{end}}', 'vars'],
    ['{{with .Package.Resources}}{{.Memory}}{{end}}{{with .Package.Options}}x{{else}}-{{end}}', '1Gi-'],
    ['{{$x := .Package.Name}}{{$x}}{{$x = "y"}}{{$x}}', 'zstdy'],
    ['{{if $o := .Package.Options}}{{$o}}{{else}}[{{$o}}]{{end}}', '[<nil>]'],
    ['{{$x := 1}}{{range .Subpackages}}{{$x = 2}}{{end}}{{$x}}', '2'],
    ['{{- /* a comment */ -}}  {{"a"}}  {{- "b" -}}  {{"c"}}', 'abc'],
    [
      '{{"a\\tb\\u00e9\\x41"}}|{{`raw\\n`}}|{{\'x\'}}|{{0x1F}}|{{1_000}}|{{-3}}|{{2.5}}|{{true}}|{{print nil}}',
      'a\tbéA|raw\\n|120|31|1000|-3|2.5|true|<nil>',
    ],
    ['{{and 1 0 2}} {{and 1 2}} {{or 0 "" "z"}} {{or 0 ""}} {{not .Package.Options}}', '0 2 z  true'],
    [
      '{{eq .Package.Name "x" "zstd"}} {{ne 1 2}} {{lt "a" "b"}} {{le 2 2}} {{gt 1 2}} {{ge .Package.Epoch 8}}',
      'true true true true false true',
    ],
    [
      '{{print 1 2 "a" 3 "b"}}|{{println "a" 1}}|{{slice "abcdef" 1 3}}|{{slice .Subpackages 1}}',
      '1 2a3b|a 1\n|bc|[{zstd-dev [{split/dev} {test/pkgconf}] <nil>}]',
    ],
    [
      '{{printf "%s-%d-%q-%5s|%-4d|%05d|%x|%X|%t|%c|%.2f|%%" "a" 8 "q\\n" "ab" 3 42 255 "hi" true 65 1.5}}',
      'a-8-"q\\n"-   ab|3   |00042|ff|6869|true|A|1.50|%',
    ],
    ['{{printf "%d %s" "x"}}|{{printf "%s" 1 2}}', '%!d(string=x) %!s(MISSING)|%!s(int=1)%!(EXTRA int=2)'],
    [
      '{{html "<a href=\'x\'>&</a>"}} {{urlquery "a b&c/é"}}',
      '&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt; a+b%26c%2F%C3%A9',
    ],
    ['{{range 3}}{{.}}{{end}}', '012'],
    ['{{.Package.Name | printf "<%s>"}}', '<zstd>'],
  ])('%s', (template, expected) => {
    expect(render(template)).toBe(expected);
  });
});

describe('errors', () => {
  it.each([
    ['{{.Package.Nmae}}', 'MELANGE_QUERY_UNKNOWN_FIELD', "can't evaluate field Nmae in type config.Package"],
    [
      '{{range .Subpackages}}{{.Foo}}{{end}}',
      'MELANGE_QUERY_UNKNOWN_FIELD',
      "can't evaluate field Foo in type config.Subpackage",
    ],
    ['{{.Package.Name.Length}}', 'MELANGE_QUERY_UNKNOWN_FIELD', "can't evaluate field Length in type string"],
    [
      '{{.Package.Options.NoProvides}}',
      'MELANGE_QUERY_FAILED',
      'nil pointer evaluating *config.PackageOption.NoProvides',
    ],
    ['{{index .Subpackages 5}}', 'MELANGE_QUERY_FAILED', 'error calling index: index out of range: 5'],
    ['{{index .Package 0}}', 'MELANGE_QUERY_FAILED', "can't index item of type config.Package"],
    ['{{len .Package.Epoch}}', 'MELANGE_QUERY_FAILED', 'len of type int'],
    ['{{lt .Package.Name 3}}', 'MELANGE_QUERY_FAILED', 'incompatible types for comparison'],
    ['{{eq .Subpackages 3}}', 'MELANGE_QUERY_FAILED', 'non-comparable type'],
    ['{{range .Package}}{{end}}', 'MELANGE_QUERY_FAILED', "range can't iterate over"],
    ['{{.Package.Name 1}}', 'MELANGE_QUERY_FAILED', 'is not a method but has arguments'],
    ['{{"x" 1}}', 'MELANGE_QUERY_FAILED', "can't give argument to non-function"],
    ['{{nil}}', 'MELANGE_QUERY_FAILED', 'nil is not a command'],
    ['{{$y}}', 'MELANGE_QUERY_FAILED', 'undefined variable: $y'],
    ['{{not}}', 'MELANGE_QUERY_FAILED', 'wrong number of args for not: want 1 got 0'],
    ['{{printf "%999999d" 1}}', 'MELANGE_QUERY_FAILED', 'width or precision over'],
    ['{{foo .}}', 'MELANGE_QUERY_BAD_TEMPLATE', 'function "foo" not defined'],
    ['{{.Package.Name', 'MELANGE_QUERY_BAD_TEMPLATE', 'unclosed action'],
    ['{{if .Vars}}x', 'MELANGE_QUERY_BAD_TEMPLATE', 'has no {{end}}'],
    ['x{{end}}', 'MELANGE_QUERY_BAD_TEMPLATE', 'unexpected {{end}}'],
    ['{{break}}', 'MELANGE_QUERY_BAD_TEMPLATE', '{{break}} outside {{range}}'],
    ['{{define "x"}}{{end}}', 'MELANGE_QUERY_BAD_TEMPLATE', 'is not supported'],
    ['{{"abc}}', 'MELANGE_QUERY_BAD_TEMPLATE', 'unterminated quoted string'],
    ['{{/* no end }}', 'MELANGE_QUERY_BAD_TEMPLATE', 'unclosed comment'],
    ['{{(.Package}}', 'MELANGE_QUERY_BAD_TEMPLATE', 'unclosed left paren'],
    ['{{.Package)}}', 'MELANGE_QUERY_BAD_TEMPLATE', 'unexpected right paren'],
    ['{{}}', 'MELANGE_QUERY_BAD_TEMPLATE', 'missing value for command'],
    ['{{.A|}}', 'MELANGE_QUERY_BAD_TEMPLATE', 'missing command after |'],
    ['{{3x}}', 'MELANGE_QUERY_BAD_TEMPLATE', 'bad number syntax'],
    ['{{#}}', 'MELANGE_QUERY_BAD_TEMPLATE', 'unrecognized character'],
  ])('%s → %s', (template, code, message) => {
    const error = failure(template);
    expect(error.code).toBe(code);
    expect(error.message).toContain(message);
    expect(error.hint).toBeDefined();
  });

  it('gives the line and column', () => {
    expect(failure('line one\n  {{.Package.Nope}}').message).toMatch(/^template 2:5: /);
  });
});

describe('hostile templates are bounded', () => {
  it('refuses a template over the length limit', () => {
    expect(failure('x'.repeat(MAX_TEMPLATE_LENGTH + 1)).code).toBe('MELANGE_QUERY_BAD_TEMPLATE');
  });

  it('refuses nesting deeper than the limit (blocks and parentheses)', () => {
    const deep = `${'{{if 1}}'.repeat(MAX_NESTING + 1)}${'{{end}}'.repeat(MAX_NESTING + 1)}`;
    expect(failure(deep).message).toContain('nest deeper');
    const parens = `{{${'('.repeat(MAX_NESTING + 1)}1${')'.repeat(MAX_NESTING + 1)}}}`;
    expect(failure(parens).message).toContain('nest deeper');
    expect(render(`{{${'('.repeat(10)}1${')'.repeat(10)}}}`)).toBe('1');
  });

  it('stops a runaway range after the step limit', () => {
    const error = failure('{{range 1000}}{{range 1000}}{{range 1000}}x{{end}}{{end}}{{end}}');
    expect(error.code).toBe('MELANGE_QUERY_FAILED');
    expect(error.message).toContain(`more than ${MAX_STEPS} steps`);
    expect(failure('{{range 999999999999}}{{end}}').code).toBe('MELANGE_QUERY_FAILED');
  });

  it('stops output that grows past the limit', () => {
    const error = failure(`{{range 300}}{{range 300}}{{printf "%1000s" "x"}}{{end}}{{end}}`);
    expect(error.message).toContain('the output is over');
  });

  it('random templates never throw anything but a MelangeError', () => {
    const random = seededRandom(42);
    const pieces = [
      '{{',
      '}}',
      '.Package',
      '.Name',
      ' ',
      '|',
      '(',
      ')',
      'range',
      'if',
      'end',
      'else',
      '$x',
      ':=',
      '"s"',
      '1',
      'index',
      'printf',
      '-',
      '/*',
      '*/',
      '`',
      "'",
      ',',
      '.',
    ];
    for (let round = 0; round < 3000; round++) {
      let t = '';
      const n = 1 + Math.floor(random() * 12);
      for (let i = 0; i < n; i++) t += pieces[Math.floor(random() * pieces.length)]!;
      try {
        render(t);
      } catch (e) {
        if (!(e instanceof MelangeError)) throw new Error(`${JSON.stringify(t)} threw ${String(e)}`);
      }
    }
  });
});
