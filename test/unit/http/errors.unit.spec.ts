import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { mapError } from '../../../server/http/middleware/errors.js';
import { AppError, forbidden } from '../../../server/errors.js';
import { BitrixError } from '../../../server/bitrix/types.js';

describe('one error → HTTP mapping', () => {
  it('keeps an AppError status and code', () => {
    expect(mapError(forbidden('no'), 'r1')).toEqual({ status: 403, body: { error: 'FORBIDDEN', message: 'FORBIDDEN: no' } });
    expect(mapError(new AppError('CONFLICT', 'y', 418), 'r1').status).toBe(418);
  });

  it('answers a zod failure with 400 naming the field', () => {
    const err = z.object({ name: z.string() }).safeParse({}).error;
    const mapped = mapError(err, 'r1');
    expect(mapped.status).toBe(400);
    expect(mapped.body.message).toContain('name');
  });

  it('maps Bitrix24 errors: reinstall 409, retryable 503, others 502', () => {
    expect(mapError(new BitrixError('PORTAL_NEEDS_REINSTALL', 'x', 401, false), 'r').status).toBe(409);
    expect(mapError(new BitrixError('QUERY_LIMIT_EXCEEDED', 'x', 503, true), 'r')).toMatchObject({ status: 503, body: { error: 'BITRIX_QUERY_LIMIT_EXCEEDED' } });
    expect(mapError(new BitrixError('ERROR_CORE', 'x', 400, false), 'r').status).toBe(502);
  });

  it('maps body-parser errors by their status and hides unknown errors behind the request id', () => {
    expect(mapError(Object.assign(new Error('too big'), { status: 413, type: 'entity.too.large' }), 'r').status).toBe(413);
    const unknown = mapError(new Error('secret detail'), 'req-42');
    expect(unknown).toEqual({ status: 500, body: { error: 'INTERNAL', message: 'internal error (request id req-42)' } });
  });
});
