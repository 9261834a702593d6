import { createApp, h } from 'vue';
import { createPinia } from 'pinia';
import { viewFor, type Frame } from './frame.js';
import { loadAppI18n } from './i18n/index.js';
import { connectToPortal, showStartFailure } from './startup.js';
import CallCardView from './views/CallCardView.vue';
import './styles/call-card.css';

/**
 * The CALL_CARD placement's own entry (issue 12 point 9: its first open ≤ 150 KB compressed). It opens during a ringing
 * call, so it carries no UI kit (`B24App`, its plugin, reka-ui, motion) and no other view: plain markup on Tailwind,
 * Vue, Pinia, vue-i18n and the frame SDK. The app page (main.ts) still shows the call card if Bitrix24 opens it there.
 */
async function start(): Promise<void> {
  const frame = await connectToPortal();
  const i18n = await loadAppI18n(frame.lang);
  const view = viewFor(frame.placement, frame.options);
  const target = document.getElementById('app');
  if (view.kind !== 'call-card') {
    // Only CALL_CARD is bound to this page; anything else says what was opened, like the app page does.
    if (target) target.innerHTML = `<p class="p-4 text-sm" data-testid="unsupported"></p>`;
    target?.firstElementChild?.append(i18n.global.t('app.unsupported', { placement: frame.placement }));
    return;
  }
  createApp({ render: () => h(CallCardView, { card: view.card }) }).use(createPinia()).use(i18n).mount('#app');
  fitToContent(frame);
}

/** The call card's frame has a fixed height: tell Bitrix24 our content height whenever it changes. */
function fitToContent(frame: Frame): void {
  const root = document.getElementById('app');
  if (!root) return;
  frame.fit();
  if (typeof window.ResizeObserver !== 'undefined') new window.ResizeObserver(() => frame.fit()).observe(root);
}

start().catch(showStartFailure);
