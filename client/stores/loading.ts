import { readonly, ref, type Ref } from 'vue';

/**
 * A loading flag that turns on only when work takes longer than `delayMs`, so quick answers do not flash a
 * spinner (Vikunja's delayed loading), and one in-flight promise per key so two components asking at once make
 * one request.
 */
export function useDelayedLoading(delayMs = 150): {
  loading: Readonly<Ref<boolean>>;
  track<T>(work: () => Promise<T>): Promise<T>;
} {
  const loading = ref(false);
  let active = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;

  async function track<T>(work: () => Promise<T>): Promise<T> {
    active += 1;
    if (active === 1) timer = setTimeout(() => (loading.value = true), delayMs);
    try {
      return await work();
    } finally {
      active -= 1;
      if (active === 0) {
        if (timer) clearTimeout(timer);
        timer = null;
        loading.value = false;
      }
    }
  }
  return { loading: readonly(loading), track };
}

/** Shares one promise between callers while it runs. */
export function singleFlight<T>(run: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | null = null;
  return () => {
    inFlight ??= run().finally(() => {
      inFlight = null;
    });
    return inFlight;
  };
}
