/**
 * A REST error as Bitrix24 answers it: `{"error": CODE, "error_description": text}` with an HTTP status.
 * Codes and statuses follow https://apidocs.bitrix24.com/_includes/system-errors.html and the method pages.
 */
export class RestError extends Error {
  readonly code: string;
  readonly status: number;
  readonly description: string;
  /** Extra fields some errors carry, e.g. `argument` of ERROR_ARGUMENT. */
  readonly extra: Record<string, string>;
  constructor(code: string, description: string, status = 400, extra: Record<string, string> = {}) {
    super(`${code}: ${description}`);
    this.name = 'RestError';
    this.code = code;
    this.description = description;
    this.status = status;
    this.extra = extra;
  }

  toBody(): Record<string, string> {
    return { error: this.code, error_description: this.description, ...this.extra };
  }
}

/** Method-level failure reported by most telephony/CRM methods as ERROR_CORE (HTTP 400). */
export function coreError(description: string): RestError {
  return new RestError('ERROR_CORE', description, 400);
}

export function argumentError(description: string): RestError {
  return new RestError('ERROR_ARGUMENT', description, 400);
}

export const noAuthFound = (): RestError => new RestError('NO_AUTH_FOUND', 'Wrong authorization data', 401);
export const expiredToken = (): RestError => new RestError('expired_token', 'The access token provided has expired.', 401);
export const wrongAuthType = (): RestError =>
  new RestError('WRONG_AUTH_TYPE', 'Current authorization type is denied for this method', 403);
export const accessDenied = (description = 'Access denied!'): RestError => new RestError('ACCESS_DENIED', description, 403);
export const queryLimitExceeded = (): RestError => new RestError('QUERY_LIMIT_EXCEEDED', 'Too many requests', 503);
export const operationTimeLimit = (): RestError =>
  new RestError('OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit.', 429);
export const methodNotFound = (): RestError => new RestError('ERROR_METHOD_NOT_FOUND', 'Method not found!', 404);
