/**
 * Account tables of a guest (`/etc/passwd`, `/etc/group`): id → name, for the owner names written into
 * packages. The files come from packages, so they are read defensively: lines that are not
 * `name:x:id:…` with a plain decimal id are skipped, the first entry of an id wins (as getpwuid does), and
 * only the first {@link MAX_ACCOUNT_LINES} lines are read.
 */

/** Lines read from one table at most. */
export const MAX_ACCOUNT_LINES = 65536;

const NAME = /^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/;
const ID = /^(0|[1-9][0-9]{0,9})$/;

/**
 * Parse `/etc/passwd` or `/etc/group` text.
 *
 * @param text - the file's text
 * @returns id → name
 */
export function parseAccountTable(text: string): Map<number, string> {
  const map = new Map<number, string>();
  const lines = text.split('\n', MAX_ACCOUNT_LINES);
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const fields = line.split(':');
    const name = fields[0];
    const idText = fields[2];
    if (name === undefined || idText === undefined || fields.length < 4) continue;
    if (!NAME.test(name) || name.length > 256 || !ID.test(idText)) continue;
    const id = Number(idText);
    if (id > 0xffffffff) continue;
    if (!map.has(id)) map.set(id, name);
  }
  return map;
}
