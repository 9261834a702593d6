import type { Bitrix24Emulator } from '../emulators/bitrix24/harness.js';
import type { YeastarEmulator } from '../emulators/yeastar/harness.js';
import type { Stack } from './stack.js';

/**
 * Every secret the emulators issued or were configured with, and a scan of captured output for any of them.
 * A secret is looked for verbatim and in its URL-encoded and base64 forms (a token in a query string or a header dump).
 */
export interface SecretSet {
  /** name → value, e.g. "b24 token #3" → "ab12…". */
  values: Map<string, string>;
}

export async function issuedSecrets(b24: Bitrix24Emulator, pbxs: YeastarEmulator[], extra: Record<string, string> = {}): Promise<SecretSet> {
  const values = new Map<string, string>();
  const b = await b24.issuedSecrets();
  b.tokens.forEach((t, i) => values.set(`bitrix24 access/refresh token #${i}`, t));
  b.applicationTokens.forEach((t, i) => values.set(`application_token #${i}`, t));
  b.webhookCodes.forEach((t, i) => values.set(`bitrix24 webhook code #${i}`, t));
  values.set('bitrix24 client secret', b.clientSecret);
  for (const [n, pbx] of pbxs.entries()) {
    values.set(`PBX #${n} client secret`, pbx.clientSecret);
    (await pbx.issuedTokens()).forEach((t, i) => values.set(`PBX #${n} token #${i}`, t));
  }
  for (const [name, value] of Object.entries(extra)) values.set(name, value);
  return { values };
}

export interface Leak {
  secret: string;
  source: string;
  excerpt: string;
}

/** Finds every secret in every text; short values (< 8 chars) are skipped, they would match by chance. */
export function findLeaks(secrets: SecretSet, texts: { source: string; text: string }[]): Leak[] {
  const leaks: Leak[] = [];
  for (const [name, value] of secrets.values) {
    if (value.length < 8) continue;
    const forms = new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64')]);
    for (const { source, text } of texts) {
      for (const form of forms) {
        const at = text.indexOf(form);
        if (at < 0) continue;
        leaks.push({ secret: name, source, excerpt: text.slice(Math.max(0, at - 120), at + form.length + 40).replaceAll(value, '<SECRET>') });
        break;
      }
    }
  }
  return leaks;
}

/**
 * The leak check a stack-based suite ends with: every secret the emulators issued (and `extra`) looked for in the
 * server's log and in every /api answer of the file's runs, read before the stack stops; then the stack stops.
 */
export async function closeStackFindingLeaks(stack: Stack, opts: { pbxs?: YeastarEmulator[]; extra?: Record<string, string> } = {}): Promise<Leak[]> {
  const secrets = await issuedSecrets(stack.b24, opts.pbxs ?? [stack.pbx], opts.extra);
  const leaks = findLeaks(secrets, [{ source: 'server log', text: await stack.logs() }, { source: 'api answers', text: stack.answers.join('\n') }]);
  await stack.close();
  return leaks;
}
