import { describe, expect, it } from 'vitest';
import { parseChallenges } from './challenge.ts';

function simple(values: string | string[]): { scheme: string; params: Record<string, string> }[] {
  return parseChallenges(values).map((c) => ({ scheme: c.scheme, params: Object.fromEntries(c.params) }));
}

describe('parseChallenges', () => {
  it('reads a Docker Hub bearer challenge', () => {
    expect(
      simple(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/hello:pull"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/hello:pull',
        },
      },
    ]);
  });

  it('reads basic, token values, spaces and case', () => {
    expect(simple('BASIC Realm=registry')).toEqual([{ scheme: 'basic', params: { realm: 'registry' } }]);
    expect(simple('Bearer  realm = "r" ,  service="s"')).toEqual([
      { scheme: 'bearer', params: { realm: 'r', service: 's' } },
    ]);
  });

  it('reads several challenges in one header and several headers', () => {
    expect(simple('Bearer realm="a",service="b", Basic realm="c"')).toEqual([
      { scheme: 'bearer', params: { realm: 'a', service: 'b' } },
      { scheme: 'basic', params: { realm: 'c' } },
    ]);
    expect(simple(['Basic realm="x"', 'Bearer realm="y"']).map((c) => c.scheme)).toEqual(['basic', 'bearer']);
  });

  it('unescapes quoted strings and keeps commas inside them', () => {
    expect(simple('Bearer realm="a\\"b,c",scope="repository:x:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'a"b,c', scope: 'repository:x:pull,push' } },
    ]);
  });

  it('keeps the first of repeated parameters, and tolerates token68 and bare schemes', () => {
    expect(simple('Bearer realm="a",realm="b"')).toEqual([{ scheme: 'bearer', params: { realm: 'a' } }]);
    expect(simple('Negotiate abc==, Basic realm="r"')).toEqual([
      { scheme: 'negotiate', params: { '': 'abc' } },
      { scheme: 'basic', params: { realm: 'r' } },
    ]);
    expect(simple('Basic')).toEqual([{ scheme: 'basic', params: {} }]);
    expect(simple([])).toEqual([]);
    expect(parseChallenges(undefined)).toEqual([]);
  });

  it.each([
    ['Bearer realm="open'],
    ['Bearer realm="x\\'],
    ['Bearer realm="x" junk'],
    ['=x'],
    ['Bearer realm=@'],
    ['"quoted"'],
  ])('rejects %j', (value) => {
    expect(() => parseChallenges(value)).toThrow(expect.objectContaining({ code: 'REGISTRY_BAD_RESPONSE' }));
  });

  it('rejects oversized headers', () => {
    expect(() => parseChallenges(`Bearer realm="${'x'.repeat(20_000)}"`)).toThrow(
      expect.objectContaining({ code: 'REGISTRY_BAD_RESPONSE' }),
    );
  });
});
