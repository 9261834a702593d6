import { defineStore } from 'pinia';
import { readonly, ref } from 'vue';
import type { PbxTestResponse, SettingsResponse, SettingsUpdate } from '../../contract/api-shapes.js';
import { AxiosError } from 'axios';
import type { PbxTestRequest } from '../api.js';
import { useApi } from '../apiContext.js';
import { toUserError, type UserError } from '../errors.js';
import { attempt } from './attempt.js';
import { singleFlight, useDelayedLoading } from './loading.js';

/** Portal settings: read, save (admins), test the PBX connection, disconnect. */
export const useSettingsStore = defineStore('settings', () => {
  const settings = ref<SettingsResponse | null>(null);
  const error = ref<UserError | null>(null);
  const saving = ref(false);
  const saveError = ref<UserError | null>(null);
  const testing = ref(false);
  const testResult = ref<PbxTestResponse | null>(null);
  const testError = ref<UserError | null>(null);
  const { loading, track } = useDelayedLoading();

  const load = singleFlight(() =>
    track(() => attempt(error, async () => {
      settings.value = await useApi().settings();
    })),
  );

  /** Returns true when saved; the server answers with the stored (masked) settings. */
  async function save(update: SettingsUpdate): Promise<boolean> {
    const saved = await attempt(saveError, async () => {
      settings.value = await useApi().saveSettings(update);
      return true;
    }, saving);
    return saved ?? false;
  }

  // A refused test (400: no secret saved for this address…) still answers in the PbxTestResponse shape.
  function refusedTest(e: unknown): PbxTestResponse | null {
    const body: unknown = e instanceof AxiosError ? e.response?.data : null;
    if (typeof body === 'object' && body !== null && (body as PbxTestResponse).ok === false && typeof (body as PbxTestResponse).message === 'string') {
      return body as PbxTestResponse;
    }
    return null;
  }

  async function testPbx(pbx: PbxTestRequest): Promise<PbxTestResponse | null> {
    testing.value = true;
    testResult.value = null;
    testError.value = null;
    try {
      testResult.value = await useApi().testPbx(pbx);
      return testResult.value;
    } catch (e) {
      testResult.value = refusedTest(e);
      if (!testResult.value) testError.value = toUserError(e);
      return testResult.value;
    } finally {
      testing.value = false;
    }
  }

  /** Forgets the last save/test outcome, so a new attempt never shows under an old result (issue 12 point 4). */
  function clearOutcomes(): void {
    saveError.value = null;
    testResult.value = null;
    testError.value = null;
  }

  async function disconnect(): Promise<boolean> {
    const disconnected = await attempt(saveError, async () => {
      await useApi().disconnect();
      settings.value = await useApi().settings();
      return true;
    }, saving);
    return disconnected ?? false;
  }

  return {
    settings: readonly(settings),
    error: readonly(error),
    saving: readonly(saving),
    saveError: readonly(saveError),
    testing: readonly(testing),
    testResult: readonly(testResult),
    testError: readonly(testError),
    loading,
    load,
    save,
    testPbx,
    clearOutcomes,
    disconnect,
  };
});
