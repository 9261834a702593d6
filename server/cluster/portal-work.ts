import type { Pool } from 'pg';
import { AppError } from '../errors.js';
import type { ErrorCode } from '../../contract/error-codes.js';
import { ERROR_CODES } from '../../contract/error-codes.js';
import type { Logger } from '../log.js';
import { PbxError } from '../pbx/adapter.js';
import type { ClusterNotifier } from '../store/postgres/notify.js';

/**
 * Live work of a portal handed to the instance that owns it (issue 14, design §6). Any instance answers HTTP, but
 * only the owner holds the portal's PBX link (Yeastar allows 8 API tokens per PBX: a non-owner must never log in).
 * A non-owner that receives such work (a click-to-call from Bitrix24, …) writes it as a `portal_work` row
 * (migration 003) and wakes the owner with NOTIFY portal_work; the owner claims it (FOR UPDATE SKIP LOCKED, only
 * while its lease epoch is current), runs the same local handler, and writes the answer; the requester waits for
 * the row's state. No answer before the deadline: the row is withdrawn (never run late: a dial a minute after the
 * click would surprise everyone) and the requester gets PORTAL_OWNER_UNREACHABLE (503).
 * Inputs carry ids and plain parameters, never secrets: the owner reads those from its own store.
 */

export type WorkInput = Record<string, unknown>;
export type WorkHandler = (memberId: string, input: WorkInput) => Promise<unknown>;

export interface PortalWork {
  /**
   * Runs `kind` for the portal: here when this instance owns it (or without a shared database), else on the owner.
   * `input` must be JSON; the owner's answer (JSON) comes back, or its error as an AppError with the same code.
   */
  run(memberId: string, kind: string, input: WorkInput): Promise<unknown>;
  /** What `kind` does on the owner (and locally). */
  handle(kind: string, handler: WorkHandler): void;
  /** Claims whatever is waiting for the portals this instance owns (after it gained a portal; also on a timer). */
  sweep(): Promise<void>;
  stop(): Promise<void>;
}

export interface PortalWorkOptions {
  log: Logger;
  /** The shared database; absent (file store): every piece of work runs here, as with one instance. */
  database?: { pool: Pick<Pool, 'query'>; notifier: ClusterNotifier; instanceId: string };
  owns(memberId: string): boolean;
  /** The lease epoch this instance holds for the portal (undefined: not fenced). */
  epoch(memberId: string): number | undefined;
  /** How long a requester waits for the owner (default 15 s: a lease's takeover bound). */
  timeoutMs?: number;
  /** How often the owner looks for work whose notification it missed (default 2 s). */
  sweepMs?: number;
}

interface WorkRow {
  id: string;
  member_id: string;
  kind: string;
  input: WorkInput;
}

interface StoredError {
  code?: string;
  message?: string;
  status?: number;
}

const isErrorCode = (code: unknown): code is ErrorCode => typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);

/** The owner's error, as the requester throws it (an unknown code becomes a plain 502). */
function errorFromRow(stored: StoredError | null, memberId: string): AppError {
  const code = stored?.code;
  const message = stored?.message ?? `the instance owning portal ${memberId} could not do it`;
  return isErrorCode(code) ? new AppError(code, message, stored?.status ?? 500) : new AppError('INTERNAL', message, 502);
}

/** An error's code (AppError, PbxError) and its message without the code prefix both put in front of it. */
function errorToRow(err: unknown): StoredError {
  const message = (err instanceof Error ? err.message : String(err)).replace(/^[A-Z_]+: /, '');
  if (err instanceof AppError) return { code: err.code, message, status: err.status };
  if (err instanceof PbxError) return { code: err.code, message, status: 502 };
  return { message, status: 500 };
}

const ownerUnreachable = (memberId: string): AppError => new AppError('PORTAL_OWNER_UNREACHABLE',
  `the instance that runs portal ${memberId}'s PBX link did not answer in time; try again in a few seconds`, 503);

export function createPortalWork(opts: PortalWorkOptions): PortalWork {
  const log = opts.log.child({ part: 'portal-work' });
  const handlers = new Map<string, WorkHandler>();
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const running = new Set<Promise<unknown>>();
  let stopped = false;

  const local = async (memberId: string, kind: string, input: WorkInput): Promise<unknown> => {
    const handler = handlers.get(kind);
    if (!handler) throw new AppError('INTERNAL', `no handler for portal work "${kind}"`, 500);
    return handler(memberId, input);
  };

  const database = opts.database;
  if (!database) {
    return { run: local, handle: (kind, handler) => void handlers.set(kind, handler), sweep: () => Promise.resolve(), stop: () => Promise.resolve() };
  }
  const { pool, notifier, instanceId } = database;

  /** Claims and runs the portal's waiting work, if this instance owns it now. */
  const claim = async (memberId: string): Promise<void> => {
    if (stopped || !opts.owns(memberId)) return;
    const epoch = opts.epoch(memberId) ?? null;
    const { rows } = await pool.query<WorkRow>(
      `UPDATE portal_work SET state = 'running', claimed_by = $2, epoch = $3
       WHERE id IN (SELECT id FROM portal_work WHERE member_id = $1 AND state = 'pending' AND deadline_at > now()
                    ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 20)
         AND portal_epoch_ok($1, $3)
       RETURNING id::text, member_id, kind, input`, [memberId, instanceId, epoch]);
    for (const row of rows) {
      const work = (async () => {
        let result: unknown;
        let error: StoredError | undefined;
        try {
          result = await local(row.member_id, row.kind, row.input);
        } catch (err) {
          error = errorToRow(err);
          log.warn({ portal: row.member_id, kind: row.kind, code: error.code }, 'portal work handed over by another instance failed here');
        }
        await pool.query(
          `UPDATE portal_work SET state = $2, result = $3, error = $4, finished_at = now() WHERE id = $1 AND claimed_by = $5`,
          [row.id, error ? 'failed' : 'done', JSON.stringify(result ?? null), error ? JSON.stringify(error) : null, instanceId]);
        log.info({ portal: row.member_id, kind: row.kind, work: row.id }, 'ran portal work handed over by another instance');
      })().catch((err: unknown) => log.error({ err, portal: row.member_id }, 'could not record the answer of portal work'));
      running.add(work);
      void work.finally(() => running.delete(work));
    }
  };

  const claimQuietly = (memberId: string): void => {
    claim(memberId).catch((err: unknown) => log.warn({ portal: memberId, err: err instanceof Error ? err.message : String(err) }, 'could not claim portal work'));
  };

  notifier.onPortalWork((signal) => claimQuietly(signal.memberId));

  let swept = 0;
  const sweep = async (): Promise<void> => {
    const { rows } = await pool.query<{ member_id: string }>(
      `SELECT DISTINCT member_id FROM portal_work WHERE state = 'pending' AND deadline_at > now()`);
    for (const { member_id: memberId } of rows) await claim(memberId);
    // Answered rows are kept a while for the operator (who asked, who ran it, how it ended), then deleted.
    swept += 1;
    if (swept % 30 === 0) await pool.query(`DELETE FROM portal_work WHERE deadline_at < now() - interval '1 hour'`);
  };
  const sweeper = setInterval(() => {
    sweep().catch(() => undefined);
  }, opts.sweepMs ?? 2_000);
  sweeper.unref?.();

  /** Waits for the row to finish; withdraws it at the deadline if nobody claimed it. */
  const awaitAnswer = async (id: string, memberId: string): Promise<unknown> => {
    const until = Date.now() + timeoutMs;
    let step = 20;
    for (;;) {
      const { rows } = await pool.query<{ state: string; result: unknown; error: StoredError | null }>(
        'SELECT state, result, error FROM portal_work WHERE id = $1', [id]);
      const row = rows[0];
      if (row?.state === 'done') return row.result;
      if (row?.state === 'failed') throw errorFromRow(row.error, memberId);
      if (Date.now() > until) {
        const withdrawn = await pool.query(`UPDATE portal_work SET state = 'expired', finished_at = now() WHERE id = $1 AND state = 'pending'`, [id]);
        // Claimed but not finished: the owner is running it; its answer is given a last deadline's worth of time.
        if ((withdrawn.rowCount ?? 0) > 0 || Date.now() > until + timeoutMs) throw ownerUnreachable(memberId);
      }
      await new Promise((resolve) => setTimeout(resolve, step));
      step = Math.min(200, step * 2);
    }
  };

  return {
    async run(memberId, kind, input) {
      if (opts.owns(memberId)) return local(memberId, kind, input);
      const { rows } = await pool.query<{ id: string }>(
        `INSERT INTO portal_work (member_id, kind, input, requested_by, deadline_at)
         VALUES ($1, $2, $3, $4, now() + $5 * interval '1 millisecond') RETURNING id::text`,
        [memberId, kind, JSON.stringify(input), instanceId, timeoutMs]);
      const id = rows[0]?.id;
      if (id === undefined) throw ownerUnreachable(memberId);
      log.info({ portal: memberId, kind, work: id }, 'not this portal\'s owner: handed the work to the owner');
      await notifier.wakeOwner(pool, memberId, id);
      return awaitAnswer(id, memberId);
    },
    handle: (kind, handler) => void handlers.set(kind, handler),
    sweep,
    async stop() {
      stopped = true;
      clearInterval(sweeper);
      await Promise.allSettled([...running]);
    },
  };
}
