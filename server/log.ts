import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Redaction is the one choke point that keeps secrets out of the logs: any field with one of these names,
 * at any of these depths, is replaced before the line is written. Code must still never log a secret on
 * purpose; this catches the accidents (an error carrying a request config, a spread object).
 */
const SECRET_KEYS = [
  'access_token', 'refresh_token', 'accessToken', 'refreshToken', 'AUTH_ID', 'REFRESH_ID', 'auth_id',
  'application_token', 'applicationToken', 'APPLICATION_TOKEN', 'clientSecret', 'client_secret', 'password',
  'secret', 'webhookSecret', 'authorization', 'Authorization', 'token', 'auth', 'FILE_CONTENT',
];
const paths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths, censor: '[redacted]' },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}

/**
 * The log of one call: `portal` and `pbxCallId` bound once where the call's input enters (a PBX event, an outbox
 * answer, a timer, a recording job), so every line about the call carries both, exactly once, and no line types them.
 */
export function callLog(log: Logger, call: { portal: string; pbxCallId: string }): Logger {
  return log.child({ portal: call.portal, pbxCallId: call.pbxCallId });
}
