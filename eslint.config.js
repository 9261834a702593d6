import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import vue from 'eslint-plugin-vue';


/*
 * Part boundaries (docs/architecture.md "Who may import whom", /work design §2), held by lint: a wrong import fails
 * `npm run lint`. Each file gets exactly ONE block below (a later flat-config block would replace an earlier one's
 * options, not add to them), so every block lists all it forbids. Patterns match the import string: a relative path
 * that reaches the named folder (`../http/app.js`, `../../server/http/…`). test/unit/lint/boundaries.unit.spec.ts
 * proves each rule fires.
 */
const reaches = (folder) => `^\\.{1,2}/(?:\\.\\./)*(?:server/)?${folder}/`;
const reachesModule = (name) => `^\\.{1,2}/(?:\\.\\./)*(?:server/)?${name}\\.js$`;
const forbid = (folder, why, extra = {}) => ({ regex: reaches(folder), caseSensitive: true, message: why, ...extra });
const forbidModule = (name, why, extra = {}) => ({ regex: reachesModule(name), caseSensitive: true, message: why, ...extra });

const never = {
  client: forbid('client', 'server code never imports client/; share types through contract/.'),
  http: forbid('http', 'http/ is the outer edge: only the composition root (server/index.ts, server/parts.ts) imports it. Move what you need out of http/, or pass it in.'),
  yeastar: forbid('pbx/yeastar', 'the Yeastar adapter is reached through PbxAdapter (pbx/adapter.ts); only pbx/ and the composition root know the brand.'),
  config: forbidModule('config', 'config is parsed once by the composition root and passed in; import its type only (`import type { Config }`).', { allowTypeImports: true }),
  root: forbidModule('(?:parts|parts-types|main|index)', 'the composition root wires the parts; the parts do not import it back.'),
};
const serverCommon = [never.client, never.yeastar, never.config, never.root];
const parts = ['store', 'bitrix', 'pbx', 'calls', 'contacts', 'outbox', 'portals', 'cluster', 'http'];

/** Per part: which other parts it must not import, and why (design §2 "must not"). */
const partRules = {
  store: { forbidden: parts.filter((p) => p !== 'store'), why: 'store/ is the bottom layer: every part uses it, it uses none (shared call words live in server/domain/).' },
  bitrix: { forbidden: ['pbx', 'calls', 'contacts', 'outbox', 'portals', 'cluster', 'http'], why: 'bitrix/ is the Bitrix24 REST client and its wire format: it knows nothing of PBX events or of the parts that use it.' },
  pbx: { forbidden: ['bitrix', 'calls', 'contacts', 'outbox', 'portals', 'cluster', 'http'], why: 'pbx/ knows nothing of Bitrix24 or of the call logic: it hands normalized CallEvents to whoever the composition root wires.' },
  outbox: { forbidden: ['pbx', 'calls', 'contacts', 'portals', 'cluster', 'http'], why: 'outbox/ delivers Bitrix24 writes; it knows nothing of who queued them.' },
  portals: { forbidden: ['calls', 'contacts', 'cluster', 'http'], typeOnly: ['pbx'], why: 'portals/ holds tenants, tokens, settings and status; it never calls the PBX (its types only) nor the call logic.' },
  contacts: { forbidden: ['calls', 'outbox', 'portals', 'cluster', 'http'], why: 'contacts/ answers lookups for calls/; it never reaches back into calls/ or the HTTP edge.' },
  calls: { forbidden: ['portals', 'cluster', 'http', 'net'], why: 'calls/ turns events into intents and never makes HTTP calls itself: Bitrix24 goes through outbox/ and bitrix/, the PBX through its adapter.' },
  cluster: { forbidden: ['bitrix', 'contacts', 'outbox', 'portals', 'http'], why: 'cluster/ decides which instance runs a portal and hands work to that owner; it reaches the PBX and the telephony handlers through their interfaces, and the composition root wires it to the parts, which never import it.' },
  http: { forbidden: [], why: '' },
};

/** A part's block: what every file of `files` must not import. */
const partBlock = (part, rule, files, extra = []) => ({
  files,
  rules: {
    '@typescript-eslint/no-restricted-imports': ['error', {
      patterns: [
        ...serverCommon.filter((p) => !(part === 'pbx' && p === never.yeastar)),
        ...(part === 'http' ? [] : [never.http]),
        ...rule.forbidden.filter((f) => f !== 'http').map((f) => forbid(f, `${part}/ must not import ${f}/: ${rule.why}`)),
        ...(rule.typeOnly ?? []).map((f) => forbid(f, `${part}/ may import only types of ${f}/: ${rule.why}`, { allowTypeImports: true })),
        ...extra,
      ],
    }],
  },
});

/** Generic PBX code (the supervisor and its parts) gets the brand from the composition root (pbx/brand.ts), never by import. */
const genericPbxReachesBrand = {
  regex: '^\\./yeastar/', caseSensitive: true,
  message: 'generic pbx/ code never imports pbx/yeastar/: the composition root hands the brand in (pbx/brand.ts, server/parts.ts).',
};

const boundaryBlocks = [
  ...Object.entries(partRules).flatMap(([part, rule]) => (part === 'pbx'
    ? [partBlock(part, rule, ['server/pbx/*.ts'], [genericPbxReachesBrand]), partBlock(part, rule, ['server/pbx/*/**'])]
    : [partBlock(part, rule, [`server/${part}/**`])])),
  {
    // Shared ground: config, log, errors, phone, crypto, net/, domain/ sit below every part and import none.
    files: ['server/*.ts', 'server/net/**', 'server/domain/**'],
    ignores: ['server/index.ts', 'server/parts.ts', 'server/parts-types.ts', 'server/main.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [...serverCommon, never.http, ...parts.filter((p) => p !== 'http').map((f) => forbid(f, `shared modules (config, log, errors, phone, crypto, net/, domain/) import no part; ${f}/ sits above them.`))],
      }],
    },
  },
  {
    files: ['server/index.ts', 'server/parts.ts', 'server/parts-types.ts', 'server/main.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [never.client] }] },
  },
  {
    files: ['contract/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{ regex: '^\\.\\./', message: 'contract/ is the wire both sides share: it imports nothing of server/ or client/ (spell the type out here).' }],
      }],
    },
  },
  {
    files: ['client/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{ regex: '^(?:\\.\\./)+server/', caseSensitive: true, message: 'client/ never imports server/: the /api shapes are in contract/api-shapes.ts.' }],
      }],
    },
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'client/auto-imports.d.ts', 'client/components.d.ts', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', window: 'readonly', document: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'vue/multi-word-component-names': 'off',
    },
  },
  ...boundaryBlocks,
);
