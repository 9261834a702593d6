import { z } from 'zod';
import { SCENARIO_NAMES, type ScenarioName } from './types.js';

/**
 * Strict shapes of the control API bodies: a misspelled option (`talk_seconds`) is refused with HTTP 400
 * instead of being silently ignored and leaving a test asserting on defaults.
 */

// Caller ids from a trunk can be formatted ("+27 81 353 9441") or words ("anonymous"); only control characters are refused.
const number = z.string().min(1).max(64)
  .refine((v) => ![...v].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127), 'a phone or extension number without control characters');
const seconds = z.number().min(0).max(24 * 3600);

export const scenarioNameSchema = z.enum(SCENARIO_NAMES as [ScenarioName, ...ScenarioName[]]);

export const scenarioOptionsSchema = z.strictObject({
  from: number.optional(),
  to: z.union([number, z.array(number).min(1)]).optional(),
  did: number.optional(),
  trunk: z.string().min(1).max(64).optional(),
  talkSeconds: seconds.optional(),
  ringSeconds: seconds.optional(),
  record: z.boolean().optional(),
  speed: z.number().positive().max(1_000_000).optional(),
  hold: z.boolean().optional(),
  holdAt: z.enum(['ringing', 'on-hold', 'transfer']).optional(),
  answeredBy: number.optional(),
  reason: z.string().min(1).max(128).optional(),
  wait: z.boolean().optional(),
});

export const scenarioRequestSchema = z.strictObject({ name: scenarioNameSchema, opts: scenarioOptionsSchema.optional() });

/** Several calls of one scenario started together (`POST /scenarios`); `wait` has no meaning for a set. */
export const scenariosRequestSchema = z.strictObject({
  name: scenarioNameSchema,
  calls: z.array(scenarioOptionsSchema.omit({ wait: true })).min(1).max(1000),
});

export const burstSchema = scenarioOptionsSchema.extend({
  calls: z.number().int().min(1).max(10_000),
  concurrency: z.number().int().min(1).max(1000).optional(),
  scenario: scenarioNameSchema,
});

export const dialBehaviorSchema = z.strictObject({
  callerAnswers: z.boolean().optional(),
  calleeAnswers: z.boolean().optional(),
  talkSeconds: seconds.optional(),
  ringSeconds: seconds.optional(),
  record: z.boolean().optional(),
  speed: z.number().positive().max(1_000_000).optional(),
  hold: z.boolean().optional(),
});

export const faultSchema = z.strictObject({
  kind: z.enum(['wrong_secret', 'ip_blocked', 'down', 'slow', 'frozen']),
  forMs: z.number().int().min(0).optional(),
  delayMs: z.number().int().min(0).max(120_000).optional(),
});

export const webhookSchema = z.strictObject({
  url: z.url().refine((u) => /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//.test(u), 'webhooks go to loopback only'),
  secret: z.string().min(1),
  events: z.array(z.number().int()).optional(),
  method: z.enum(['POST', 'GET']).optional(),
});

export const extensionSchema = z.strictObject({
  number: z.string().regex(/^\d{1,10}$/, 'extension numbers are digits'),
  name: z.string().min(1).max(128),
  email: z.string().max(256).optional(),
  mobile: z.string().max(64).optional(),
  presence: z.enum(['available', 'away', 'business_trip', 'do_not_disturb', 'lunch', 'off_work']).optional(),
});

export const eventFormatSchema = z.strictObject({ msgAsObjectFor: z.array(z.number().int()) });
