import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The Bitrix24 UI kit's stylesheet makes Tailwind scan all of its ~380 components and all their themes
 * (`@source "./components"`, `@source "./b24ui"`; its detection of the components in use works only under Nuxt),
 * which made our CSS 517 KB. This lists what to scan instead: the kit components our .vue files use (`<B24Button`),
 * the kit components those use in turn, and their themes. Paths are real paths: Tailwind matches `@source not` against
 * them, and a linked node_modules (a git worktree) would otherwise silently keep the whole kit.
 */
const KIT_PREFIX = 'B24';

function vueFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.vue')).map((f) => join(dir, f));
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** Kit component names (without the B24 prefix) used by our client, with the kit components they import. */
export function kitComponentsInUse(clientDir: string, kitComponentsDir: string): string[] {
  const queue: string[] = [];
  for (const file of vueFiles(clientDir)) {
    for (const m of readFileSync(file, 'utf8').matchAll(new RegExp(`<${KIT_PREFIX}([A-Z][A-Za-z]*)`, 'g'))) queue.push(m[1] ?? '');
  }
  const seen = new Set<string>();
  while (queue.length > 0) {
    const name = queue.pop() ?? '';
    const file = join(kitComponentsDir, `${name}.vue`);
    if (seen.has(name) || !existsSync(file)) continue;
    seen.add(name);
    for (const m of readFileSync(file, 'utf8').matchAll(/from\s+["']\.\/([A-Za-z]+)\.vue["']/g)) queue.push(m[1] ?? '');
  }
  return [...seen].sort();
}

/** The `@source` lines replacing the kit's own: exclude its folders, include the components in use and their themes. */
export function kitSourceDirectives(root: string): string {
  const nodeModules = realpathSync(resolve(root, 'node_modules'));
  const components = join(nodeModules, '@bitrix24/b24ui-nuxt/dist/runtime/components');
  const themes = join(nodeModules, '.b24ui-nuxt/b24ui');
  const used = kitComponentsInUse(resolve(root, 'client'), components);
  // The themes are written by the kit's Vite plugin; should they not be there yet, the kit's own scan stays (bigger, never
  // missing a class).
  const themeLines = existsSync(themes)
    ? [`@source not "${themes}";`, ...used.filter((name) => existsSync(join(themes, `${kebab(name)}.ts`))).map((name) => `@source "${join(themes, `${kebab(name)}.ts`)}";`)]
    : [];
  return [
    `@source not "${components}";`,
    ...used.map((name) => `@source "${join(components, `${name}.vue`)}";`),
    ...themeLines,
  ].join('\n');
}
