/**
 * Tests of the built-in pipeline definitions (`apps/melange/pipelines/**.yaml`): shape, variables, shell
 * syntax, and the behaviour of fetch, strip, git-checkout, patch, make-install and every split/* run for
 * real with the host's /bin/sh (dash) and, when installed, busybox's sh and applets (the sandbox's tools),
 * in a temporary directory laid out like `/home/build/melange-out/<package>`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createRecordingLogger } from '@tk/core';
import { parsePipelineDefinition } from './recipe/load.ts';

const PIPELINES = join(import.meta.dirname, '..', 'pipelines');

interface Step {
  name?: string;
  runs?: string;
  uses?: string;
  with?: Record<string, unknown>;
  if?: string;
  'working-directory'?: string;
  environment?: Record<string, unknown>;
  pipeline?: Step[];
}

interface Definition {
  name?: string;
  description?: string;
  needs?: { packages?: unknown[] };
  inputs?: Record<string, { description?: unknown; default?: unknown; required?: unknown }>;
  pipeline?: Step[];
}

function listYaml(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.isDirectory()) out.push(...listYaml(join(dir, entry.name), `${prefix}${entry.name}/`));
    else if (entry.name.endsWith('.yaml')) out.push(`${prefix}${entry.name.slice(0, -'.yaml'.length)}`);
  }
  return out;
}

const NAMES = listYaml(PIPELINES);

function load(name: string): Definition {
  return parse(readFileSync(join(PIPELINES, `${name}.yaml`), 'utf8')) as Definition;
}

function* steps(list: readonly Step[] | undefined): Generator<Step> {
  for (const step of list ?? []) {
    yield step;
    yield* steps(step.pipeline);
  }
}

const VARIABLE = /\$\{\{\s*([A-Za-z0-9._-]+)\s*\}\}/g;

/** Variables melange defines in every context (main package, subpackage, test); melange.md §3.1. */
const ALWAYS_DEFINED = new Set([
  'package.name',
  'package.version',
  'package.epoch',
  'package.description',
  'package.full-version',
  'package.srcdir',
  'targets.outdir',
  'targets.destdir',
  'targets.contextdir',
  'context.name',
  'host.triplet.gnu',
  'host.triplet.rust',
  'cross.triplet.gnu.glibc',
  'cross.triplet.gnu.musl',
  'cross.triplet.rust.glibc',
  'cross.triplet.rust.musl',
  'build.arch',
  'build.goarch',
]);

/** Every text of a definition that goes through substitution. */
function texts(def: Definition): string[] {
  const out: string[] = [];
  for (const input of Object.values(def.inputs ?? {}))
    if (typeof input.default === 'string') out.push(input.default);
  for (const p of def.needs?.packages ?? []) if (typeof p === 'string') out.push(p);
  for (const step of steps(def.pipeline)) {
    for (const t of [step.runs, step['working-directory'], step.if, step.name])
      if (typeof t === 'string') out.push(t);
    for (const v of Object.values(step.with ?? {})) if (typeof v === 'string') out.push(v);
    for (const v of Object.values(step.environment ?? {})) if (typeof v === 'string') out.push(v);
  }
  return out;
}

function variablesOf(text: string): string[] {
  return [...text.matchAll(VARIABLE)].map((m) => m[1]!);
}

// --- substitution and running -------------------------------------------------------------------------

interface Layout {
  root: string;
  home: string;
  outdir: string;
  cache: string;
}

function makeLayout(): Layout {
  const root = mkdtempSync(join(tmpdir(), 'tk-pipelines-'));
  const home = join(root, 'home', 'build');
  const outdir = join(home, 'melange-out');
  const cache = join(root, 'var', 'cache', 'melange');
  mkdirSync(outdir, { recursive: true });
  mkdirSync(cache, { recursive: true });
  return { root, home, outdir, cache };
}

interface RunOptions {
  layout: Layout;
  /** Main package name (targets.destdir). */
  main?: string;
  /** The package whose pipeline runs (targets.contextdir); default the main package. */
  context?: string;
  with?: Record<string, string>;
  arch?: string;
  /** Working directory of the steps (default /home/build). */
  cwd?: string;
  env?: Record<string, string>;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function substitute(text: string, values: Record<string, string>, name: string): string {
  return text.replace(VARIABLE, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`${name}: undefined variable ${key}`);
    return value;
  });
}

function variablesFor(name: string, def: Definition, options: RunOptions): Record<string, string> {
  const main = options.main ?? 'pkg';
  const context = options.context ?? main;
  const arch = options.arch ?? hostArch();
  const base: Record<string, string> = {
    'package.name': main,
    'package.version': '1.0',
    'package.epoch': '0',
    'package.description': 'test package',
    'package.full-version': '1.0-r0',
    'package.srcdir': options.layout.home,
    'targets.outdir': options.layout.outdir,
    'targets.destdir': join(options.layout.outdir, main),
    'targets.contextdir': join(options.layout.outdir, context),
    'context.name': context,
    'host.triplet.gnu': `${arch}-pc-linux-gnu`,
    'host.triplet.rust': `${arch}-unknown-linux-gnu`,
    'build.arch': arch,
    'build.goarch': arch === 'x86_64' ? 'amd64' : 'arm64',
  };
  for (const key of Object.keys(options.with ?? {})) {
    if (!(key in (def.inputs ?? {}))) throw new Error(`${name}: unknown input ${key}`);
  }
  for (const [key, input] of Object.entries(def.inputs ?? {})) {
    const given = options.with?.[key];
    const value = given ?? (typeof input.default === 'string' ? substitute(input.default, base, name) : '');
    if (input.required === true && value === '') throw new Error(`${name}: missing required input ${key}`);
    base[`inputs.${key}`] = value;
  }
  return base;
}

function hostArch(): string {
  return process.arch === 'arm64' ? 'aarch64' : 'x86_64';
}

/** A shell to run the scripts with: the host's dash and tools, or busybox's sh and applets. */
interface Shell {
  label: string;
  sh: string;
  path: string;
}

const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function which(cmd: string): string | undefined {
  const r = spawnSync('/bin/sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const BUSYBOX = which('busybox');
const CC = which('cc');
const GIT = which('git');
const PATCH = which('patch');
const MAKE = which('make');

/** Applets the sandbox does not take from busybox (GNU tar and patch are real packages there). */
const NOT_FROM_BUSYBOX = new Set(['tar', 'patch', 'strip', 'objcopy']);

let busyboxDir: string | undefined;

function shells(): Shell[] {
  const list: Shell[] = [{ label: 'dash + host tools', sh: '/bin/sh', path: HOST_PATH }];
  if (BUSYBOX !== undefined) {
    if (busyboxDir === undefined) {
      busyboxDir = mkdtempSync(join(tmpdir(), 'tk-busybox-'));
      const applets = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n');
      for (const applet of applets) {
        if (applet === '' || NOT_FROM_BUSYBOX.has(applet)) continue;
        symlinkSync(BUSYBOX, join(busyboxDir, applet));
      }
    }
    list.push({ label: 'busybox', sh: join(busyboxDir, 'sh'), path: `${busyboxDir}:${HOST_PATH}` });
  }
  return list;
}

afterAll(() => {
  if (busyboxDir !== undefined) rmSync(busyboxDir, { recursive: true, force: true });
});

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Run every step of a pipeline as the build would: `sh -c`, `set -e`, in its working directory. */
async function runPipeline(name: string, shell: Shell, options: RunOptions): Promise<RunResult> {
  const def = load(name);
  const values = variablesFor(name, def, options);
  let stdout = '';
  let stderr = '';
  for (const step of steps(def.pipeline)) {
    if (step.runs === undefined) continue;
    const runs = substitute(step.runs, values, name).replaceAll('/var/cache/melange', options.layout.cache);
    const workdir =
      step['working-directory'] === undefined
        ? (options.cwd ?? options.layout.home)
        : substitute(step['working-directory'], values, name);
    const script = `set -e\nmkdir -p ${shellQuote(workdir)}\ncd ${shellQuote(workdir)}\n${runs}\nexit 0\n`;
    const result = await new Promise<RunResult>((resolve, reject) => {
      const child = spawn(shell.sh, ['-c', script], {
        env: {
          PATH: shell.path,
          HOME: options.layout.home,
          TMPDIR: options.layout.root,
          SOURCE_DATE_EPOCH: '1700000000',
          ...options.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: out, stderr: err }));
    });
    stdout += result.stdout;
    stderr += result.stderr;
    if (result.code !== 0) return { code: result.code, stdout, stderr };
  }
  return { code: 0, stdout, stderr };
}

/** Write files under a root: `path: content`, `path -> target` for a symlink (content starting with `->`). */
function tree(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    if (content.startsWith('-> ')) symlinkSync(content.slice(3), full);
    else writeFileSync(full, content);
  }
}

/** Every path under a root (files and symlinks; directories only when empty), sorted. */
function listTree(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true });
    if (entries.length === 0 && dir !== root) out.push(`${relative(root, dir)}/`);
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(relative(root, full) + (entry.isSymbolicLink() ? ` -> ${readlinkSync(full)}` : ''));
    }
  };
  walk(root);
  return out.sort();
}

// --- shape and variables ---------------------------------------------------------------------------------

const REQUIRED = [
  'fetch',
  'git-checkout',
  'git-am',
  'patch',
  'autoconf/configure',
  'autoconf/make',
  'autoconf/make-install',
  'cmake/configure',
  'cmake/build',
  'cmake/install',
  'meson/configure',
  'meson/compile',
  'meson/install',
  'strip',
  'split/dev',
  'split/static',
  'split/manpages',
  'split/locales',
  'split/infodir',
  'split/lib',
  'split/debug',
  'split/bin',
  'split/alldocs',
];

/** Inputs that are informational: declared for compatibility, not read by the script. */
const INFORMATIONAL = new Set([
  'fetch:purl-name',
  'fetch:purl-version',
  'fetch:reason',
  'fetch:dns-timeout',
  'git-checkout:type-hint',
  'git-checkout:reason',
]);

describe('built-in pipeline files', () => {
  it('include every pipeline recipes commonly use', () => {
    expect(NAMES).toEqual(expect.arrayContaining(REQUIRED));
  });

  it.each(NAMES)('%s has the PipelineDefinition shape', (name) => {
    const def = load(name);
    expect(
      Object.keys(def).filter((k) => !['name', 'description', 'needs', 'inputs', 'pipeline'].includes(k)),
    ).toEqual([]);
    expect(typeof def.name).toBe('string');
    expect(typeof def.description).toBe('string');
    expect(Array.isArray(def.needs?.packages)).toBe(true);
    // A package name, or an input naming one (`${{inputs.go-package}}`, as melange's go pipelines have it).
    for (const p of def.needs?.packages ?? [])
      expect(p).toMatch(/^(?:[a-z0-9][a-z0-9+._-]*|\$\{\{inputs\.[a-z0-9-]+\}\})$/);
    for (const [key, input] of Object.entries(def.inputs ?? {})) {
      expect(key).toMatch(/^[a-z0-9][a-z0-9-]*$/);
      expect(Object.keys(input).filter((k) => !['description', 'default', 'required'].includes(k))).toEqual(
        [],
      );
      expect(typeof input.description, `${name}: inputs.${key}.description`).toBe('string');
      // `with:` values are strings: a default must be one too (quote numbers and booleans).
      if (input.default !== undefined)
        expect(typeof input.default, `${name}: inputs.${key}.default`).toBe('string');
      if (input.required !== undefined) expect(typeof input.required).toBe('boolean');
    }
    expect(def.pipeline?.length).toBeGreaterThan(0);
    for (const step of steps(def.pipeline)) {
      const keys = Object.keys(step).filter(
        (k) =>
          !['name', 'runs', 'uses', 'with', 'if', 'working-directory', 'environment', 'pipeline'].includes(k),
      );
      expect(keys).toEqual([]);
      if (step.runs !== undefined) expect(typeof step.runs).toBe('string');
    }
  });

  it.each(NAMES)('%s passes the pipeline definition schema without warnings', (name) => {
    const logger = createRecordingLogger();
    const def = parsePipelineDefinition(readFileSync(join(PIPELINES, `${name}.yaml`)), `${name}.yaml`, {
      logger,
    });
    expect(logger.messages.filter((m) => m.level === 'warn')).toEqual([]);
    expect(def.pipeline.length).toBeGreaterThan(0);
  });

  it.each(NAMES)(
    '%s declares every input it uses, uses every input it declares, and only known variables',
    (name) => {
      const def = load(name);
      const declared = new Set(Object.keys(def.inputs ?? {}));
      const used = new Set<string>();
      for (const text of texts(def)) {
        for (const variable of variablesOf(text)) {
          if (variable.startsWith('inputs.')) {
            const input = variable.slice('inputs.'.length);
            expect(declared.has(input), `${name} uses undeclared ${variable}`).toBe(true);
            used.add(input);
          } else {
            expect(
              ALWAYS_DEFINED.has(variable),
              `${name} uses ${variable}, not defined in every context`,
            ).toBe(true);
          }
        }
      }
      for (const input of declared) {
        if (INFORMATIONAL.has(`${name}:${input}`)) continue;
        expect(used.has(input), `${name} declares inputs.${input} but never uses it`).toBe(true);
      }
    },
  );

  it('README lists the needs of every pipeline', () => {
    const readme = readFileSync(join(PIPELINES, 'README.md'), 'utf8');
    const rows = new Map<string, string[]>();
    for (const line of readme.split('\n')) {
      const m = /^\| (`[^|]+`) \| ([^|]*) \|/.exec(line);
      if (m === null) continue;
      const needs = m[2]!.trim() === '—' ? [] : m[2]!.split(',').map((s) => s.trim());
      for (const n of m[1]!.matchAll(/`([^`]+)`/g)) rows.set(n[1]!, needs);
    }
    for (const name of NAMES) {
      expect(rows.get(name), `README row for ${name}`).toEqual(load(name).needs?.packages ?? []);
    }
  });

  describe.each(shells())('with $label', (shell) => {
    it.each(NAMES)('%s: every script passes sh -n', (name) => {
      const layout = {
        root: '/tmp/x',
        home: '/home/build',
        outdir: '/home/build/melange-out',
        cache: '/var/cache/melange',
      };
      const def = load(name);
      const placeholders: Record<string, string> = {};
      for (const key of Object.keys(def.inputs ?? {})) placeholders[key] = `placeholder-${key}`;
      const values = variablesFor(name, def, { layout, with: placeholders, context: 'pkg-sub' });
      for (const step of steps(def.pipeline)) {
        if (step.runs === undefined) continue;
        const script = substitute(step.runs, values, name);
        const r = spawnSync(shell.sh, ['-n', '-c', script], { encoding: 'utf8', env: { PATH: shell.path } });
        expect(r.stderr, `${name}: ${r.stderr}`).toBe('');
        expect(r.status).toBe(0);
      }
    });
  });
});

// --- behaviour --------------------------------------------------------------------------------------------

describe.each(shells())('split pipelines with $label', (shell) => {
  let layout: Layout;
  beforeAll(() => {
    layout = makeLayout();
  });
  afterAll(() => rmSync(layout.root, { recursive: true, force: true }));

  /** A fresh main package `pkg` (and an empty subpackage dir) per test. */
  function fresh(files: Record<string, string>, sub = 'pkg-sub'): { main: string; sub: string } {
    rmSync(layout.outdir, { recursive: true, force: true });
    const main = join(layout.outdir, 'pkg');
    mkdirSync(main, { recursive: true });
    mkdirSync(join(layout.outdir, sub), { recursive: true });
    tree(main, files);
    return { main, sub: join(layout.outdir, sub) };
  }

  const LIBRARY = {
    'usr/include/foo.h': 'h',
    'usr/include/foo/bar.h': 'h',
    'usr/lib/pkgconfig/foo.pc': 'pc',
    'usr/share/pkgconfig/foo-data.pc': 'pc',
    'usr/share/aclocal/foo.m4': 'm4',
    'usr/lib/cmake/Foo/FooConfig.cmake': 'cmake',
    'usr/lib/libfoo.a': 'a',
    'usr/lib/libfoo.so.1.2.3': 'elf',
    'usr/lib/libfoo.so.1': '-> libfoo.so.1.2.3',
    'usr/lib/libfoo.so': '-> libfoo.so.1',
    'usr/lib/libplugin.so': 'a plugin, not a symlink',
    'usr/lib/foo/crt1.o': 'o',
    'lib/libbar.so': '-> libbar.so.2',
    'lib/libbar.so.2': 'elf',
    'usr/bin/foo': 'bin',
    'usr/bin/foo-config': 'script',
    'usr/share/man/man1/foo.1': 'man',
    'usr/share/man/man3/foo.3': 'man',
    'usr/share/info/foo.info': 'info',
    'usr/share/info/dir': 'index',
    'usr/share/locale/de/LC_MESSAGES/foo.mo': 'mo',
    'usr/share/doc/foo/README': 'doc',
  };

  it('split/dev moves headers, .pc, .m4, cmake files, .a, .o, *-config and unversioned .so symlinks', async () => {
    const { main, sub } = fresh(LIBRARY, 'pkg-dev');
    tree(sub, { 'usr/include/already-there.h': 'h' });
    const r = await runPipeline('split/dev', shell, { layout, context: 'pkg-dev' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(listTree(sub)).toEqual([
      'lib/libbar.so -> libbar.so.2',
      'usr/bin/foo-config',
      'usr/include/already-there.h',
      'usr/include/foo.h',
      'usr/include/foo/bar.h',
      'usr/lib/cmake/Foo/FooConfig.cmake',
      'usr/lib/foo/crt1.o',
      'usr/lib/libfoo.a',
      'usr/lib/libfoo.so -> libfoo.so.1',
      'usr/lib/pkgconfig/foo.pc',
      'usr/share/aclocal/foo.m4',
      'usr/share/pkgconfig/foo-data.pc',
    ]);
    expect(listTree(main)).toEqual([
      'lib/libbar.so.2',
      'usr/bin/foo',
      'usr/lib/libfoo.so.1 -> libfoo.so.1.2.3',
      'usr/lib/libfoo.so.1.2.3',
      'usr/lib/libplugin.so',
      'usr/share/doc/foo/README',
      'usr/share/info/dir',
      'usr/share/info/foo.info',
      'usr/share/locale/de/LC_MESSAGES/foo.mo',
      'usr/share/man/man1/foo.1',
      'usr/share/man/man3/foo.3',
    ]);
  });

  it('split/dev refuses to split the main package into itself', async () => {
    const { main } = fresh(LIBRARY);
    const r = await runPipeline('split/dev', shell, { layout });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('cannot split package pkg into itself');
    expect(existsSync(join(main, 'usr/include/foo.h'))).toBe(true);
  });

  it('split/dev takes files from the package named by the `package` input', async () => {
    fresh({});
    const other = join(layout.outdir, 'pkg-libs');
    tree(other, { 'usr/include/x.h': 'h', 'usr/lib/libx.so.1': 'elf', 'usr/lib/libx.so': '-> libx.so.1' });
    const r = await runPipeline('split/dev', shell, {
      layout,
      context: 'pkg-sub',
      with: { package: 'pkg-libs' },
    });
    expect(r.code).toBe(0);
    expect(listTree(join(layout.outdir, 'pkg-sub'))).toEqual([
      'usr/include/x.h',
      'usr/lib/libx.so -> libx.so.1',
    ]);
    expect(listTree(other)).toEqual(['usr/lib/libx.so.1']);
  });

  it('split/static moves static libraries only', async () => {
    const { main, sub } = fresh({
      'usr/lib/libfoo.a': 'a',
      'lib/libc_nonshared.a': 'a',
      'usr/lib/libfoo.so.1': 'so',
    });
    const r = await runPipeline('split/static', shell, { layout, context: 'pkg-sub' });
    expect(r.code).toBe(0);
    expect(listTree(sub)).toEqual(['lib/libc_nonshared.a', 'usr/lib/libfoo.a']);
    expect(listTree(main)).toEqual(['usr/lib/libfoo.so.1']);
  });

  it('split/manpages gathers man, local/share/man and usr/man into usr/share/man', async () => {
    const { main, sub } = fresh({
      'usr/share/man/man1/foo.1': 'a',
      'usr/man/man8/food.8': 'b',
      'usr/local/share/man/man5/foo.conf.5': 'c',
      'usr/share/foo/data': 'd',
    });
    const r = await runPipeline('split/manpages', shell, { layout, context: 'pkg-sub' });
    expect(r.code).toBe(0);
    expect(listTree(sub)).toEqual([
      'usr/share/man/man1/foo.1',
      'usr/share/man/man5/foo.conf.5',
      'usr/share/man/man8/food.8',
    ]);
    expect(listTree(main)).toEqual(['usr/share/foo/data']);
  });

  it('split/locales moves usr/share/locale', async () => {
    const { main, sub } = fresh({ 'usr/share/locale/de/LC_MESSAGES/foo.mo': 'mo', 'usr/bin/foo': 'x' });
    const r = await runPipeline('split/locales', shell, { layout, context: 'pkg-sub' });
    expect(r.code).toBe(0);
    expect(listTree(sub)).toEqual(['usr/share/locale/de/LC_MESSAGES/foo.mo']);
    expect(listTree(main)).toEqual(['usr/bin/foo']);
  });

  it('split/infodir moves usr/share/info without the dir index', async () => {
    const { main, sub } = fresh({
      'usr/share/info/foo.info': 'i',
      'usr/share/info/dir': 'index',
      'usr/bin/foo': 'x',
    });
    const r = await runPipeline('split/infodir', shell, { layout, context: 'pkg-sub' });
    expect(r.code).toBe(0);
    expect(listTree(sub)).toEqual(['usr/share/info/foo.info']);
    expect(listTree(main)).toEqual(['usr/bin/foo']);
  });

  it('split/lib moves versioned shared libraries, all or by pattern', async () => {
    const files = {
      'usr/lib/libssl.so.3': 'ssl',
      'usr/lib/libcrypto.so.3': 'crypto',
      'usr/lib/libcrypto.so': '-> libcrypto.so.3',
      'usr/lib64/libz.so.1': 'z',
      'usr/bin/openssl': 'x',
    };
    let { main, sub } = fresh(files);
    let r = await runPipeline('split/lib', shell, {
      layout,
      context: 'pkg-sub',
      with: { paths: 'usr/lib64\n' },
    });
    expect(r.code).toBe(0);
    expect(listTree(sub)).toEqual(['usr/lib/libcrypto.so.3', 'usr/lib/libssl.so.3', 'usr/lib64/libz.so.1']);
    expect(listTree(main)).toEqual(['usr/bin/openssl', 'usr/lib/libcrypto.so -> libcrypto.so.3']);

    ({ main, sub } = fresh(files));
    r = await runPipeline('split/lib', shell, { layout, context: 'pkg-sub', with: { patterns: 'ssl\n' } });
    expect(r.code).toBe(0);
    expect(listTree(sub)).toEqual(['usr/lib/libssl.so.3']);
    expect(listTree(main)).toContain('usr/lib/libcrypto.so.3');
  });

  it('split/bin takes usr/bin from <name> in a <name>-bin subpackage', async () => {
    fresh({ 'usr/bin/main-tool': 'x' });
    const tools = join(layout.outdir, 'tools');
    tree(tools, { 'usr/bin/tool': 'y', 'usr/lib/libtool.so.1': 'z' });
    const r = await runPipeline('split/bin', shell, { layout, context: 'tools-bin' });
    expect(r.code).toBe(0);
    expect(listTree(join(layout.outdir, 'tools-bin'))).toEqual(['usr/bin/tool']);
    expect(listTree(tools)).toEqual(['usr/lib/libtool.so.1']);
    expect(listTree(join(layout.outdir, 'pkg'))).toEqual(['usr/bin/main-tool']);
  });

  it('split/alldocs moves info, man and doc directories', async () => {
    const { main, sub } = fresh(LIBRARY);
    const r = await runPipeline('split/alldocs', shell, { layout, context: 'pkg-sub' });
    expect(r.code).toBe(0);
    expect(listTree(sub)).toEqual([
      'usr/share/doc/foo/README',
      'usr/share/info/foo.info',
      'usr/share/man/man1/foo.1',
      'usr/share/man/man3/foo.3',
    ]);
    expect(listTree(main)).not.toContain('usr/share/info/dir');
  });

  it.each([
    'split/static',
    'split/manpages',
    'split/locales',
    'split/infodir',
    'split/lib',
    'split/alldocs',
    'split/debug',
    'split/bin',
  ])('%s refuses to split the main package into itself', async (name) => {
    fresh(LIBRARY);
    const r = await runPipeline(name, shell, { layout });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('into itself');
  });
});

// --- strip and split/debug on real ELF files ----------------------------------------------------------

const HELLO_C =
  '#include <stdio.h>\nint answer(void) { return 42; }\nint main(void) { printf("hello %d\\n", answer()); return 0; }\n';

function compile(dir: string, name: string, extra: string[] = []): string {
  const src = join(dir, `${name}.c`);
  writeFileSync(src, HELLO_C);
  const out = join(dir, name);
  const r = spawnSync(CC!, ['-g', '-O0', ...extra, '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
  rmSync(src);
  return out;
}

function sections(path: string): string {
  return spawnSync('readelf', ['-S', '-W', path], { encoding: 'utf8' }).stdout;
}

describe.each(shells())('strip with $label', (shell) => {
  let layout: Layout;
  beforeAll(() => {
    layout = makeLayout();
  });
  afterAll(() => rmSync(layout.root, { recursive: true, force: true }));

  it.skipIf(CC === undefined)(
    'strips native ELF executables in place, keeping modes and hard links, and leaves other files alone',
    async () => {
      // (skipped only when the host has no C compiler to make a real ELF file)
      const ctx = join(layout.outdir, 'pkg');
      rmSync(ctx, { recursive: true, force: true });
      mkdirSync(join(ctx, 'usr/bin'), { recursive: true });
      mkdirSync(join(ctx, 'usr/lib/debug/usr/bin'), { recursive: true });
      const hello = compile(join(ctx, 'usr/bin'), 'hello');
      chmodSync(hello, 0o750);
      linkSync(hello, join(ctx, 'usr/bin/hello-link'));
      const readonly = compile(join(ctx, 'usr/bin'), 'readonly');
      chmodSync(readonly, 0o555);
      const script = join(ctx, 'usr/bin/script.sh');
      writeFileSync(script, '#!/bin/sh\necho hi\n', { mode: 0o755 });
      // An object file (ET_REL) and a debug file are never stripped.
      const obj = join(ctx, 'usr/lib/thing.o');
      writeFileSync(join(ctx, 'usr/lib/thing.c'), HELLO_C);
      spawnSync(CC!, ['-g', '-c', '-o', obj, join(ctx, 'usr/lib/thing.c')]);
      rmSync(join(ctx, 'usr/lib/thing.c'));
      const debugCopy = join(ctx, 'usr/lib/debug/usr/bin/hello.debug');
      writeFileSync(debugCopy, readFileSync(hello));
      // A file with ELF magic that strip does not recognise, of the native machine: skipped, not fatal.
      const bogus = join(ctx, 'usr/bin/bogus');
      const header = Buffer.alloc(64);
      header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
      header.writeUInt16LE(2, 16);
      header.writeUInt16LE(hostArch() === 'x86_64' ? 62 : 183, 18);
      writeFileSync(bogus, header);
      // An ELF file of another machine: skipped without calling strip.
      const foreign = join(ctx, 'usr/bin/foreign');
      const other = Buffer.from(header);
      other.writeUInt16LE(hostArch() === 'x86_64' ? 183 : 62, 18);
      writeFileSync(foreign, other);

      const before = {
        hello: statSync(hello).size,
        readonly: statSync(readonly).size,
        obj: readFileSync(obj),
        script: readFileSync(script),
        debug: readFileSync(debugCopy),
      };
      const inode = statSync(hello).ino;
      const r = await runPipeline('strip', shell, { layout });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('strip: skipping ./usr/bin/bogus');
      expect(r.stdout).toContain('strip: skipping ./usr/bin/foreign');

      expect(statSync(hello).size).toBeLessThan(before.hello);
      expect(sections(hello)).not.toContain('.debug_info');
      expect(statSync(hello).mode & 0o7777).toBe(0o750);
      expect(statSync(hello).ino).toBe(inode);
      expect(statSync(hello).nlink).toBe(2);
      expect(statSync(readonly).size).toBeLessThan(before.readonly);
      expect(statSync(readonly).mode & 0o7777).toBe(0o555);
      expect(r.stdout.match(/strip: \.\/usr\/bin\/hello/g)?.length).toBe(1); // the hard link once
      expect(spawnSync(hello, { encoding: 'utf8' }).stdout).toBe('hello 42\n');
      expect(readFileSync(script)).toEqual(before.script);
      expect(readFileSync(obj)).toEqual(before.obj);
      expect(readFileSync(debugCopy)).toEqual(before.debug);
      expect(readFileSync(bogus)).toEqual(header);
    },
  );

  it('fails on a real strip error (bad options)', async () => {
    const ctx = join(layout.outdir, 'pkg');
    rmSync(ctx, { recursive: true, force: true });
    mkdirSync(join(ctx, 'usr/bin'), { recursive: true });
    // /bin/true is a native ELF executable on any host.
    writeFileSync(join(ctx, 'usr/bin/true'), readFileSync('/bin/true'), { mode: 0o755 });
    const r = await runPipeline('strip', shell, { layout, with: { opts: '--no-such-option' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('strip: failed on ./usr/bin/true');
  });

  it.skipIf(CC === undefined)('split/debug moves debug info into usr/lib/debug and links it', async () => {
    rmSync(layout.outdir, { recursive: true, force: true });
    const main = join(layout.outdir, 'pkg');
    const dbg = join(layout.outdir, 'pkg-dbg');
    mkdirSync(join(main, 'usr/bin'), { recursive: true });
    mkdirSync(dbg, { recursive: true });
    const hello = compile(join(main, 'usr/bin'), 'hello');
    linkSync(hello, join(main, 'usr/bin/hello2'));
    writeFileSync(join(main, 'usr/bin/script'), '#!/bin/sh\n', { mode: 0o755 });
    const size = statSync(hello).size;
    const r = await runPipeline('split/debug', shell, { layout, context: 'pkg-dbg' });
    expect(r.code, r.stderr).toBe(0);
    expect(listTree(dbg)).toEqual(['usr/lib/debug/usr/bin/hello.debug']);
    expect(sections(join(dbg, 'usr/lib/debug/usr/bin/hello.debug'))).toContain('.debug_info');
    expect(statSync(hello).size).toBeLessThan(size);
    expect(sections(hello)).toContain('.gnu_debuglink');
    expect(sections(hello)).not.toContain('.debug_info');
    expect(statSync(hello).nlink).toBe(2);
    expect(spawnSync(hello, { encoding: 'utf8' }).stdout).toBe('hello 42\n');
  });
});

// --- fetch ------------------------------------------------------------------------------------------------

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function makeTarball(root: string): Buffer {
  const src = join(root, 'tarball-src');
  tree(src, { 'hello-1.0/README': 'readme\n', 'hello-1.0/src/hello.c': 'int main(){}\n' });
  const out = join(root, 'hello-1.0.tar.gz');
  const r = spawnSync('tar', ['-czf', out, '-C', src, 'hello-1.0'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  rmSync(src, { recursive: true });
  const bytes = readFileSync(out);
  rmSync(out);
  return bytes;
}

describe.each(shells())('fetch with $label', (shell) => {
  let layout: Layout;
  let tarball: Buffer;
  let hash: string;
  let server: Server;
  let base: string;
  let requests = 0;
  beforeAll(async () => {
    layout = makeLayout();
    tarball = makeTarball(layout.root);
    hash = sha256(tarball);
    server = createServer((req, res) => {
      requests++;
      if (req.url === '/hello-1.0.tar.gz') res.end(tarball);
      else res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(layout.root, { recursive: true, force: true });
  });

  function workdir(): string {
    const dir = join(layout.home, 'work');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    rmSync(layout.cache, { recursive: true, force: true });
    mkdirSync(layout.cache, { recursive: true });
    return dir;
  }

  it('copies the source from the cache and extracts it with strip-components', async () => {
    const cwd = workdir();
    writeFileSync(join(layout.cache, `sha256:${hash}`), tarball);
    const r = await runPipeline('fetch', shell, {
      layout,
      cwd,
      with: { uri: 'https://example.invalid/dist/hello-1.0.tar.gz', 'expected-sha256': hash },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(listTree(cwd)).toEqual(['README', 'hello-1.0.tar.gz', 'src/hello.c']);
    expect(readFileSync(join(cwd, 'README'), 'utf8')).toBe('readme\n');
  });

  it('extracts into a directory without stripping, and deletes the archive when asked', async () => {
    const cwd = workdir();
    writeFileSync(join(layout.cache, `sha256:${hash}`), tarball);
    const r = await runPipeline('fetch', shell, {
      layout,
      cwd,
      with: {
        uri: 'https://example.invalid/hello-1.0.tar.gz',
        'expected-sha256': hash,
        'strip-components': '0',
        directory: 'sub dir',
        delete: 'true',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(listTree(cwd)).toEqual(['sub dir/hello-1.0/README', 'sub dir/hello-1.0/src/hello.c']);
  });

  it('fails on a checksum mismatch and extracts nothing', async () => {
    const cwd = workdir();
    writeFileSync(join(layout.cache, `sha256:${hash}`), Buffer.concat([tarball, Buffer.from('x')]));
    const r = await runPipeline('fetch', shell, {
      layout,
      cwd,
      with: { uri: 'https://example.invalid/hello-1.0.tar.gz', 'expected-sha256': hash },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`expected ${hash}`);
    expect(existsSync(join(cwd, 'README'))).toBe(false);
  });

  it('checks sha512 too', async () => {
    const cwd = workdir();
    const h512 = createHash('sha512').update(tarball).digest('hex');
    writeFileSync(join(layout.cache, `sha512:${h512}`), tarball);
    const ok = await runPipeline('fetch', shell, {
      layout,
      cwd,
      with: { uri: 'https://example.invalid/hello-1.0.tar.gz', 'expected-sha512': h512 },
    });
    expect(ok.code, ok.stderr).toBe(0);
    const wrong = `${h512.slice(0, -1)}${h512.endsWith('0') ? '1' : '0'}`;
    writeFileSync(join(layout.cache, `sha512:${wrong}`), tarball);
    const bad = await runPipeline('fetch', shell, {
      layout,
      cwd,
      with: { uri: 'https://example.invalid/hello-1.0.tar.gz', 'expected-sha512': wrong },
    });
    expect(bad.code).not.toBe(0);
  });

  it('refuses a step without any checksum input, and a malformed checksum', async () => {
    const cwd = workdir();
    let r = await runPipeline('fetch', shell, {
      layout,
      cwd,
      with: { uri: 'https://example.invalid/x.tar.gz' },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('one of expected-sha256, expected-sha512 or expected-none is required');
    r = await runPipeline('fetch', shell, {
      layout,
      cwd,
      with: { uri: 'https://example.invalid/x.tar.gz', 'expected-sha256': '../../etc/passwd' },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('expected-sha256 must be lowercase hex');
  });

  it('downloads with wget when the cache misses, and fills the cache only with a verified file', async () => {
    const cwd = workdir();
    const before = requests;
    const r = await runPipeline('fetch', shell, {
      layout,
      cwd,
      with: { uri: `${base}/hello-1.0.tar.gz`, 'expected-sha256': hash },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(requests).toBe(before + 1);
    expect(readFileSync(join(layout.cache, `sha256:${hash}`))).toEqual(tarball);
    expect(listTree(cwd)).toEqual(['README', 'hello-1.0.tar.gz', 'src/hello.c']);

    const cwd2 = workdir();
    const wrong = sha256(Buffer.from('something else'));
    const bad = await runPipeline('fetch', shell, {
      layout,
      cwd: cwd2,
      with: { uri: `${base}/hello-1.0.tar.gz`, 'expected-sha256': wrong },
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`is ${hash}, expected ${wrong}`);
    expect(readdirSync(layout.cache)).toEqual([]);
    expect(listTree(cwd2)).toEqual([]);
  });

  it('retries a failing download retry-limit times, then fails', async () => {
    const cwd = workdir();
    const before = requests;
    const r = await runPipeline('fetch', shell, {
      layout,
      cwd,
      with: { uri: `${base}/missing.tar.gz`, 'expected-none': 'true', 'retry-limit': '2' },
    });
    expect(r.code).not.toBe(0);
    expect(requests - before).toBe(2);
    expect(r.stderr).toContain('could not download');
  });

  it('with expected-none, downloads without a checksum and without caching', async () => {
    const cwd = workdir();
    const r = await runPipeline('fetch', shell, {
      layout,
      cwd,
      with: { uri: `${base}/hello-1.0.tar.gz`, 'expected-none': 'true', extract: 'false' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('checksum validation skipped');
    expect(listTree(cwd)).toEqual(['hello-1.0.tar.gz']);
    expect(readdirSync(layout.cache)).toEqual([]);
  });
});

// --- git-checkout, patch, make-install ----------------------------------------------------------------

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      PATH: HOST_PATH,
      HOME: cwd,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
      GIT_AUTHOR_DATE: '@1700000000 +0000',
      GIT_COMMITTER_DATE: '@1700000000 +0000',
    },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

describe.skipIf(GIT === undefined)('git-checkout', () => {
  // (skipped only when the host has no git)
  const shell = shells().at(-1)!;
  let layout: Layout;
  let repo: string;
  let first: string;
  let second: string;
  let third: string;
  beforeAll(() => {
    layout = makeLayout();
    repo = join(layout.root, 'upstream');
    mkdirSync(repo);
    git(repo, 'init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'a.txt'), 'one\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'first');
    first = git(repo, 'rev-parse', 'HEAD');
    git(repo, 'tag', '-a', 'v1', '-m', 'version 1');
    writeFileSync(join(repo, 'a.txt'), 'two\n');
    git(repo, 'commit', '-q', '-am', 'second');
    second = git(repo, 'rev-parse', 'HEAD');
    git(repo, 'checkout', '-q', '-b', 'fixes');
    writeFileSync(join(repo, 'b.txt'), 'fix\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'a fix');
    third = git(repo, 'rev-parse', 'HEAD');
    git(repo, 'checkout', '-q', 'main');
  });
  afterAll(() => rmSync(layout.root, { recursive: true, force: true }));

  function dest(): string {
    const dir = join(layout.home, 'src');
    rmSync(dir, { recursive: true, force: true });
    return dir;
  }

  it('checks out a tag at the expected commit (the annotated tag object is accepted with a warning)', async () => {
    const cwd = dest();
    let r = await runPipeline('git-checkout', shell, {
      layout,
      cwd,
      with: { repository: repo, tag: 'v1', 'expected-commit': first },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(cwd, 'a.txt'), 'utf8')).toBe('one\n');
    expect(git(cwd, 'rev-parse', 'HEAD')).toBe(first);

    const tagObject = git(repo, 'rev-parse', 'v1');
    r = await runPipeline('git-checkout', shell, {
      layout,
      cwd: dest(),
      with: { repository: repo, tag: 'v1', 'expected-commit': tagObject },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('annotated tag object');
  });

  it('fails when the tag is at another commit', async () => {
    const r = await runPipeline('git-checkout', shell, {
      layout,
      cwd: dest(),
      with: { repository: repo, tag: 'v1', 'expected-commit': second },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`expected commit ${second} for tag v1`);
  });

  it('resets a branch to an older expected commit and applies cherry-picks reproducibly', async () => {
    const cwd = dest();
    const r = await runPipeline('git-checkout', shell, {
      layout,
      cwd,
      with: {
        repository: repo,
        branch: 'main',
        'expected-commit': first,
        'cherry-picks': `# comment line\nfixes/${third}: bring in the fix\n`,
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(cwd, 'a.txt'), 'utf8')).toBe('one\n');
    expect(readFileSync(join(cwd, 'b.txt'), 'utf8')).toBe('fix\n');
    expect(git(cwd, 'log', '-1', '--format=%ct')).toBe('1700000000');
  });

  it('git-am applies mail-formatted patches in the checkout', async () => {
    const cwd = dest();
    let r = await runPipeline('git-checkout', shell, {
      layout,
      cwd,
      with: { repository: repo, branch: 'main' },
    });
    expect(r.code, r.stderr).toBe(0);
    const patchDir = join(layout.root, 'patches');
    rmSync(patchDir, { recursive: true, force: true });
    git(repo, 'format-patch', '-q', '-1', third, '-o', patchDir);
    const [patch] = readdirSync(patchDir);
    writeFileSync(join(cwd, 'fix.patch'), readFileSync(join(patchDir, patch!)));
    r = await runPipeline('git-am', shell, { layout, cwd, with: { patches: 'fix.patch' } });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(cwd, 'b.txt'), 'utf8')).toBe('fix\n');
    expect(git(cwd, 'log', '-1', '--format=%s')).toBe('a fix');
    r = await runPipeline('git-am', shell, { layout, cwd, with: { patches: ' ' } });
    expect(r.code).not.toBe(0);
  });

  it('refuses branch and tag together', async () => {
    const r = await runPipeline('git-checkout', shell, {
      layout,
      cwd: dest(),
      with: { repository: repo, tag: 'v1', branch: 'main' },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('both branch (main) and tag (v1)');
  });
});

describe.skipIf(PATCH === undefined)('patch', () => {
  // (skipped only when the host has no GNU patch)
  const shell = shells().at(-1)!;
  let layout: Layout;
  beforeAll(() => {
    layout = makeLayout();
  });
  afterAll(() => rmSync(layout.root, { recursive: true, force: true }));

  const DIFF = '--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-old\n+new\n';

  it('applies patches from a list and from a series file, and refuses shell metacharacters', async () => {
    const cwd = join(layout.home, 'p');
    tree(cwd, { 'f.txt': 'old\n', 'fix.patch': DIFF, 'g.txt': 'old\n' });
    let r = await runPipeline('patch', shell, { layout, cwd, with: { patches: 'fix.patch' } });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(cwd, 'f.txt'), 'utf8')).toBe('new\n');

    tree(cwd, {
      'g.patch': DIFF.replaceAll('f.txt', 'g.txt').replace('a/g.txt', 'g.txt').replace('b/g.txt', 'g.txt'),
      series: '# comment\n\ng.patch -p0\n',
    });
    r = await runPipeline('patch', shell, { layout, cwd, with: { series: 'series' } });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(cwd, 'g.txt'), 'utf8')).toBe('new\n');

    r = await runPipeline('patch', shell, { layout, cwd, with: { patches: 'x;touch${IFS}pwned' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('shell metacharacter');
    expect(existsSync(join(cwd, 'pwned'))).toBe(false);
  });
});

describe.skipIf(MAKE === undefined)('autoconf/make-install', () => {
  // (skipped only when the host has no make)
  const shell = shells().at(-1)!;

  it('installs into the context directory and removes libtool .la files', async () => {
    const layout = makeLayout();
    try {
      const cwd = join(layout.home, 'src');
      tree(cwd, {
        Makefile:
          'install:\n\tmkdir -p $(DESTDIR)/usr/lib\n\techo so > $(DESTDIR)/usr/lib/libx.so.1\n\techo la > $(DESTDIR)/usr/lib/libx.la\n',
      });
      const r = await runPipeline('autoconf/make-install', shell, { layout, cwd });
      expect(r.code, r.stderr).toBe(0);
      expect(listTree(join(layout.outdir, 'pkg'))).toEqual(['usr/lib/libx.so.1']);
    } finally {
      rmSync(layout.root, { recursive: true, force: true });
    }
  });
});
