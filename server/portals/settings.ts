/**
 * Portal settings as the API sees them: validation of an update, merging it into what is stored (secrets are
 * write-only: omitted means "keep"), and the view the API answers with (secrets reduced to `…Set` flags).
 */
import { z } from 'zod';
import { badRequest } from '../errors.js';
import type { SettingsResponse } from '../../contract/api-shapes.js';
import { isKnownCountry } from '../phone.js';
import type { PortalSettings } from '../store/records.js';

const entityKinds = ['CONTACT', 'LEAD', 'COMPANY'] as const;

export const settingsUpdateSchema = z.strictObject({
  enabled: z.boolean().optional(),
  pbx: z.strictObject({
    baseUrl: z.string().trim().min(1).max(2048),
    clientId: z.string().trim().min(1).max(256),
    clientSecret: z.string().max(512).optional(),
    events: z.enum(['websocket', 'webhook']),
    webhookSecret: z.string().max(512).optional(),
  }).nullable().optional(),
  contactSync: z.strictObject({
    enabled: z.boolean().optional(),
    entityType: z.enum(entityKinds).optional(),
    phonebookId: z.string().trim().min(1).max(64).nullable().optional(),
  }).optional(),
  autoCreate: z.strictObject({
    enabled: z.boolean().optional(),
    inbound: z.boolean().optional(),
    outbound: z.boolean().optional(),
    entityType: z.enum(['CONTACT', 'LEAD']).optional(),
    namePrefix: z.string().max(100).optional(),
  }).optional(),
  defaultCountry: z.string().trim().length(2).transform((c) => c.toUpperCase())
    .refine(isKnownCountry, 'not a country code libphonenumber knows (ISO 3166 alpha-2, e.g. DE)').optional(),
  unboundCallsUserId: z.number().int().positive().nullable().optional(),
  missedCallTasks: z.strictObject({
    enabled: z.boolean().optional(),
    defaultUserId: z.number().int().positive().nullable().optional(),
    // Up to 30 days: a longer deadline is no follow-up.
    deadlineHours: z.number().positive().max(720).optional(),
  }).optional(),
  routing: z.strictObject({ enabled: z.boolean().optional() }).optional(),
});

export type SettingsUpdateInput = z.infer<typeof settingsUpdateSchema>;

/** The saved secret is only kept for the saved PBX address: a stored secret never goes to a new host. */
function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** The settings after an update; throws a 400 AppError with an actionable message when the result is unusable. */
export function mergeSettings(current: PortalSettings, update: SettingsUpdateInput): PortalSettings {
  const next: PortalSettings = structuredClone(current);
  if (update.enabled !== undefined) next.enabled = update.enabled;
  if (update.pbx === null) next.pbx = null;
  else if (update.pbx) {
    const saved = current.pbx && sameOrigin(current.pbx.baseUrl, update.pbx.baseUrl) ? current.pbx : null;
    const clientSecret = update.pbx.clientSecret || saved?.clientSecret || '';
    if (!clientSecret) throw badRequest('enter the PBX Client Secret (none is saved for this PBX address)', { field: 'pbx.clientSecret' });
    const webhookSecret = update.pbx.webhookSecret || saved?.webhookSecret || '';
    if (update.pbx.events === 'webhook' && !webhookSecret) {
      throw badRequest('webhook events need the secret set in the PBX webhook settings', { field: 'pbx.webhookSecret' });
    }
    next.pbx = { baseUrl: update.pbx.baseUrl.replace(/\/+$/, ''), clientId: update.pbx.clientId, clientSecret, events: update.pbx.events, webhookSecret };
  }
  if (update.contactSync) {
    const { enabled, entityType, phonebookId } = update.contactSync;
    if (enabled !== undefined) next.contactSync.enabled = enabled;
    if (entityType !== undefined) next.contactSync.entityType = entityType;
    if (phonebookId !== undefined) next.contactSync.phonebookId = phonebookId;
  }
  if (update.autoCreate) {
    const a = update.autoCreate;
    next.autoCreate = {
      enabled: a.enabled ?? next.autoCreate.enabled,
      inbound: a.inbound ?? next.autoCreate.inbound,
      outbound: a.outbound ?? next.autoCreate.outbound,
      entityType: a.entityType ?? next.autoCreate.entityType,
      namePrefix: a.namePrefix ?? next.autoCreate.namePrefix,
    };
  }
  if (update.defaultCountry !== undefined) next.defaultCountry = update.defaultCountry;
  if (update.unboundCallsUserId !== undefined) next.unboundCallsUserId = update.unboundCallsUserId;
  if (update.missedCallTasks) next.missedCallTasks = { ...next.missedCallTasks, ...definedOnly(update.missedCallTasks) };
  if (update.routing?.enabled !== undefined) next.routing = { enabled: update.routing.enabled };

  if (next.contactSync.enabled && !next.contactSync.phonebookId) {
    throw badRequest('choose (or create) an empty PBX phonebook before turning contact sync on', { field: 'contactSync.phonebookId' });
  }
  if (next.contactSync.enabled && !next.pbx) throw badRequest('connect the PBX before turning contact sync on', { field: 'contactSync.enabled' });
  return next;
}

/** What GET/PUT /api/settings answer: no secret, only whether one is set, plus the webhook URL for the PBX. */
export function settingsView(settings: PortalSettings, webhookUrl: string): SettingsResponse {
  return {
    enabled: settings.enabled,
    pbx: settings.pbx
      ? {
        baseUrl: settings.pbx.baseUrl,
        clientId: settings.pbx.clientId,
        clientSecretSet: settings.pbx.clientSecret !== '',
        events: settings.pbx.events,
        webhookSecretSet: settings.pbx.webhookSecret !== '',
        webhookUrl,
      }
      : null,
    contactSync: { ...settings.contactSync },
    autoCreate: { ...settings.autoCreate },
    defaultCountry: settings.defaultCountry,
    unboundCallsUserId: settings.unboundCallsUserId,
    missedCallTasks: { ...settings.missedCallTasks },
    routing: { ...settings.routing },
  };
}

/** exactOptionalPropertyTypes: an omitted field keeps the stored value. */
function definedOnly<T extends Record<string, unknown>>(value: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}
