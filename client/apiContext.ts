import type { Api } from './api.js';

// The stores reach /api through this one handle: main.ts sets the real client, component tests set one built on a
// fake transport. Kept outside Pinia so a store never constructs its own HTTP client.
let current: Api | null = null;

export function setApi(api: Api): void {
  current = api;
}

export function useApi(): Api {
  if (!current) throw new Error('setApi() must run before a store talks to /api');
  return current;
}
