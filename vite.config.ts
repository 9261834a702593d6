import { defineConfig } from 'vitest/config';
import vue from '@vitejs/plugin-vue';
import bitrix24UIPluginVite from '@bitrix24/b24ui-nuxt/vite';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';
import { kitSourceDirectives } from './scripts/kit-sources.js';

// One config for the client build (Vite) and the test runner (Vitest).
// The client is served by the server from dist/client: the app page and the CRM tabs use client/index.html, the
// call card client/call-card.html, the installer install.html at the top level.
// The Bitrix24 UI kit runs in plain-Vue mode (no vue-router): https://bitrix24.github.io/b24ui/docs/getting-started/installation/vue/
// Tailwind scans only the UI kit components we use, not the whole kit (issue 12 point 9: the CSS was 517 KB).
function kitSourcesInUse(): Plugin {
  return {
    name: 'kit-sources-in-use',
    enforce: 'pre',
    transform(code, id) {
      if (!id.split('?')[0]?.endsWith('/client/styles/main.css')) return null;
      return code.replace('/* @kit-sources */', kitSourceDirectives(import.meta.dirname));
    },
  };
}

export default defineConfig({
  plugins: [
    kitSourcesInUse(),
    vue(),
    bitrix24UIPluginVite({
      router: false,
      // Classes the rules of client/styles/main.css find every modal and the toasts by (issue 12 point 1).
      b24ui: { modal: { slots: { content: 'app-dialog' } }, toaster: { slots: { viewport: 'app-toasts' } } },
      autoImport: { dts: 'client/auto-imports.d.ts' },
      components: { dts: 'client/components.d.ts' },
    }),
  ],
  root: '.',
  base: '/',
  build: {
    outDir: 'dist/client',
    emptyOutDir: true,
    rollupOptions: {
      input: {
        app: resolve(import.meta.dirname, 'client/index.html'),
        // The call card's own page: no UI kit, no other view (issue 12 point 9; client/call-card.ts).
        'call-card': resolve(import.meta.dirname, 'client/call-card.html'),
        install: resolve(import.meta.dirname, 'install.html'),
      },
    },
  },
  test: {
    include: ['test/**/*.spec.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
