import { defineAsyncComponent, type Component } from 'vue';
import type { AppView } from '../frame.js';

export type ViewKind = Exclude<AppView['kind'], 'unsupported'>;

// One chunk per view (issue 12 point 9): the call card's frame does not download the settings page and its UI kit
// components, and the other way round. Vite turns each import() into a chunk of its own.
const LOADERS: Record<ViewKind, () => Promise<{ default: Component }>> = {
  settings: () => import('./SettingsView.vue'),
  timeline: () => import('./TimelineView.vue'),
  'call-card': () => import('./CallCardView.vue'),
};

const loaded = new Map<ViewKind, Component>();

async function loadView(kind: ViewKind): Promise<Component> {
  const component = (await LOADERS[kind]()).default;
  loaded.set(kind, component);
  return component;
}

/** Starts fetching the view's chunk before the app mounts, so it arrives alongside the language's messages. */
export async function preloadView(view: AppView | ViewKind): Promise<void> {
  const kind = typeof view === 'string' ? view : view.kind;
  if (kind !== 'unsupported') await loadView(kind);
}

/** The view's component: itself once preloaded (rendered at once), else one that renders when its chunk arrives. */
export function viewComponent(kind: ViewKind): Component {
  return loaded.get(kind) ?? defineAsyncComponent(() => loadView(kind));
}
