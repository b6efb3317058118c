import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './fs.ts';

const dir = mkdtempSync(join(tmpdir(), 'tk-core-fs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('writes many chunks (more than one writev takes, empty ones among them) in order', async () => {
    const chunks = Array.from({ length: 2500 }, (_, i) =>
      i % 7 === 0 ? new Uint8Array(0) : new Uint8Array(1 + (i % 300)).fill(i & 0xff),
    );
    chunks.push(new Uint8Array(3 << 20).fill(9));
    const path = join(dir, 'chunks.bin');
    await writeFileAtomic(path, chunks);
    expect(readFileSync(path).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('writes a string and a single buffer, replaces a file whole, and leaves no temporary file', async () => {
    const path = join(dir, 'text');
    writeFileSync(path, 'old content that is longer than the new one');
    await writeFileAtomic(path, 'héllo\n');
    expect(readFileSync(path, 'utf8')).toBe('héllo\n');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]), { mode: 0o600 });
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await writeFileAtomic(path, []);
    expect(readFileSync(path).length).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('creates the parent folder when asked', async () => {
    const path = join(dir, 'a/b/c.txt');
    await writeFileAtomic(path, 'x', { mkdir: true });
    expect(readFileSync(path, 'utf8')).toBe('x');
  });
});
