import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BitrixClients } from '../bitrix/types.js';
import type { OutboxItem } from '../store/records.js';
import type { Store } from '../store/types.js';
import { planSend, type PlannedCommand } from './plan.js';
import { referencedIds } from './refs.js';
import { judgeCommandError, judgeError, type FailureVerdict } from './retry-policy.js';
import type { Delivery } from './delivery.js';

export interface WorkerDeps {
  store: Store;
  clients: BitrixClients;
  log: Logger;
  delivery: Delivery;
  maxAttempts: number;
  now: () => number;
  backoff: (attempt: number) => number;
  operationLimitBackoff: (attempt: number) => number;
  /** How often a portal waiting for a reinstall is looked at again. */
  reinstallRecheckMs: number;
  countRequest: (portal: string) => void;
  /**
   * True while this instance owns the portal (server/cluster/ownership.ts): asked before anything is sent, at the
   * moment of sending, so an owner that lost its lease (a pause, a network cut) sends nothing more.
   */
  owns: (portal: string) => boolean;
}

type Step = { kind: 'sent' } | { kind: 'idle' } | { kind: 'full' } | { kind: 'wait'; at: number };

/** What one send did to one item. */
type Outcome =
  | { kind: 'done'; item: OutboxItem; result: unknown }
  | { kind: 'failed'; item: OutboxItem; verdict: FailureVerdict }
  | { kind: 'untouched'; item: OutboxItem };

/**
 * Sends of one portal out at once. Each is small (what was enqueued since the last one); the Bitrix24 client merges
 * every send waiting for the portal's next token into one `batch` (bitrix/coalesce.ts), so this bounds memory, not requests.
 */
export const MAX_SENDS_OUT = 32;

/**
 * One worker per portal. Whatever is due goes out at once — a single item with `call`, several in one `batch` — with
 * its groups held: nothing later of those groups is planned until the send is answered and handled, so each group
 * (one call's register → finish → attachRecord) stays in order, while other groups keep going out beside it.
 * Why many sends out: at 2 req/s, a worker that waited for its earlier sends before planning the next one left a new
 * call's register for one or two tokens later (screen pop p95 1.3 s at 10 calls/s, bench/, issue 7). Sent as soon as
 * it is enqueued, it waits in the client for the next token and leaves with everything else pending then (late
 * binding in the client's coalescer), each send with its own batch keys so they can share one request.
 */
export class PortalWorker {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private pausedUntil = 0;
  private rateLimitStreak = 0;
  private idleWaiters: (() => void)[] = [];
  /** Sends out (asked, or answered and being handled), and the groups they hold. */
  private readonly out = new Set<Promise<void>>();
  private readonly heldGroups = new Set<string>();
  private sends = 0;

  constructor(readonly portal: string, private readonly deps: WorkerDeps) {}

  get busy(): boolean {
    return this.running !== undefined || this.out.size > 0;
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.clearTimer();
    this.running = this.loop()
      .catch((err: unknown) => {
        // A store write failing (disk full) lands here; the items stay pending and are tried again later.
        this.deps.log.error({ portal: this.portal, err }, 'outbox worker step failed; retrying later');
        this.schedule(this.deps.now() + this.deps.backoff(1));
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Looks again now, forgetting a pause (after a reinstall). */
  resume(): void {
    this.pausedUntil = 0;
    this.wake();
  }

  /**
   * Resolves once nothing is pending and no send is out. A send's items are stored as done before their handlers
   * run, so an empty pending list alone is not idle: a caller (shutdown, a test) would read state the handlers have
   * not written yet, and a stopped worker could leave a send to finish under the next one.
   */
  whenIdle(): Promise<void> {
    if (!this.running && this.out.size === 0 && this.deps.store.outbox.pending(this.portal).length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.running;
    while (this.out.size > 0) await Promise.allSettled([...this.out]);
  }

  private async loop(): Promise<void> {
    for (;;) {
      this.again = false;
      if (this.stopped) return;
      // Another instance sends this portal's items; the ownership wakes the worker when this one takes it over.
      if (!this.deps.owns(this.portal)) return;
      const portal = this.deps.store.portals.get(this.portal);
      if (portal?.needsReinstall) {
        // Items stay pending; sending would only fail again until an admin reinstalls (resume() or the recheck).
        this.schedule(this.deps.now() + this.deps.reinstallRecheckMs);
        return;
      }
      const now = this.deps.now();
      if (now < this.pausedUntil) {
        this.schedule(this.pausedUntil);
        return;
      }
      const step = await this.step(now);
      if (step.kind === 'idle') {
        this.notifyIdle();
        return;
      }
      // A send's end wakes the worker again.
      if (step.kind === 'full') return;
      if (step.kind === 'wait') {
        this.schedule(step.at);
        return;
      }
    }
  }

  private async step(now: number): Promise<Step> {
    if (this.out.size >= MAX_SENDS_OUT) return { kind: 'full' };
    const { outbox } = this.deps.store;
    // Only what is stored: an item sent before its own write is durable could be sent twice after a crash.
    const pending = outbox.sendable(this.portal, this.heldGroups);
    if (pending.length === 0) return { kind: 'idle' };
    // Each send its own key prefix: the Bitrix24 client merges sends waiting for the same token only when no key clashes.
    this.sends += 1;
    const plan = planSend(pending, now, (id) => outbox.get(id), `s${this.sends % 1000}c`);
    if (plan.park.length > 0) {
      await this.park(plan.park.map(({ item, reason }) => ({ item, error: reason })));
      return { kind: 'sent' };
    }
    if (plan.commands.length === 0) {
      // Nothing due now; a send still out wakes the worker when it ends, the timer covers the rest.
      return { kind: 'wait', at: plan.wakeAt ?? now + this.deps.reinstallRecheckMs };
    }
    this.sendOut(plan.commands);
    return { kind: 'sent' };
  }

  /** Sends `commands` without waiting for the answer; their groups are held until it is handled. */
  private sendOut(commands: PlannedCommand[]): void {
    for (const c of commands) this.heldGroups.add(c.item.group);
    const send: Promise<void> = (async () => {
      const outcomes = commands.length === 1 ? await this.sendOne(commands[0]) : await this.sendBatch(commands);
      await this.apply(outcomes);
    })()
      .catch((err: unknown) => {
        // A store write failing (disk full): the items stay pending and are tried again later.
        this.deps.log.error({ portal: this.portal, err }, 'outbox send failed; retrying later');
        this.schedule(this.deps.now() + this.deps.backoff(1));
      })
      .finally(() => {
        for (const c of commands) this.heldGroups.delete(c.item.group);
        this.out.delete(send);
        // Wakes the loop: it plans what the send held back, or reports idle once nothing is left.
        this.wake();
      });
    this.out.add(send);
  }

  private async sendOne(command: PlannedCommand | undefined): Promise<Outcome[]> {
    if (!command) return [];
    if (!this.deps.owns(this.portal)) return [{ kind: 'untouched', item: command.item }];
    const client = this.deps.clients.forPortal(this.portal);
    this.deps.countRequest(this.portal);
    try {
      const result = await client.call(command.item.method, command.params);
      return [{ kind: 'done', item: command.item, result }];
    } catch (err) {
      return [{ kind: 'failed', item: command.item, verdict: judgeError(err) }];
    }
  }

  private async sendBatch(commands: PlannedCommand[]): Promise<Outcome[]> {
    if (!this.deps.owns(this.portal)) return commands.map((c): Outcome => ({ kind: 'untouched', item: c.item }));
    const client = this.deps.clients.forPortal(this.portal);
    this.deps.countRequest(this.portal);
    let answer;
    try {
      // halt=false: one group's bad command must not stop the others (batch.md).
      answer = await client.batch(commands.map((c) => ({ key: c.key, method: c.item.method, params: c.params })), false);
    } catch (err) {
      const verdict = judgeError(err);
      return commands.map((c) => ({ kind: 'failed', item: c.item, verdict }));
    }
    const failedKeys = new Set<string>();
    return commands.map((c): Outcome => {
      if (c.key in answer.results) return { kind: 'done', item: c.item, result: answer.results[c.key] };
      const error = answer.errors[c.key];
      if (!error) {
        // Neither a result nor an error for this command: spend an attempt, so an odd answer cannot make the worker spin.
        return { kind: 'failed', item: c.item, verdict: judgeCommandError('ERROR_UNEXPECTED_ANSWER', 'the batch answer has no result for this command') };
      }
      failedKeys.add(c.key);
      // It ran with an empty `$result[...]` because the command it needs failed: not its own fault, no attempt spent.
      if (c.dependsOnKeys.some((k) => failedKeys.has(k))) return { kind: 'untouched', item: c.item };
      return { kind: 'failed', item: c.item, verdict: judgeCommandError(error.error, error.description) };
    });
  }

  /**
   * Persists what the answer said (as soon as it arrives: a crash after this never resends a done item), then tells
   * the handlers. A crash between the request and this write resends the item once after a restart; that is safe
   * for the methods sent here that are idempotent (register with the same EXTERNAL_CALL_ID returns the same
   * CALL_ID), and the reason every producer gives its items a key.
   */
  private async apply(outcomes: Outcome[]): Promise<void> {
    const now = this.deps.now();
    const updates: OutboxItem[] = [];
    const parked: { item: OutboxItem; error: string }[] = [];
    const done: OutboxItem[] = [];
    let rateLimited = false;
    let reinstall = false;
    for (const outcome of outcomes) {
      if (outcome.kind === 'untouched') continue;
      const item = outcome.item;
      if (outcome.kind === 'done') {
        const next: OutboxItem = {
          ...item, params: withoutBulk(item.params), status: 'done', result: outcome.result, doneAt: now, attempts: item.attempts + 1,
          lastError: undefined, delivered: !item.onDone,
        };
        updates.push(next);
        done.push(next);
        continue;
      }
      const { verdict } = outcome;
      if (verdict.needsReinstall || this.deps.store.portals.get(this.portal)?.needsReinstall) {
        reinstall = true;
        continue;
      }
      if (verdict.rateLimited) {
        rateLimited = true;
        continue;
      }
      const attempts = item.attempts + 1;
      if (!verdict.retryable || attempts >= this.deps.maxAttempts) {
        const error = verdict.retryable ? `${verdict.message} (gave up after ${attempts} attempts)` : verdict.message;
        parked.push({ item: { ...item, attempts }, error });
        continue;
      }
      const delay = verdict.operationLimit ? this.deps.operationLimitBackoff(attempts) : this.deps.backoff(attempts);
      updates.push({ ...item, attempts, lastError: verdict.message, nextAttemptAt: now + delay });
      this.deps.log.warn({ portal: this.portal, itemId: item.id, method: item.method, attempts, code: verdict.code, retryInMs: delay },
        'Bitrix24 write failed; retrying later');
    }
    if (reinstall) {
      // Normally the client has flagged the portal and the loop stops on it; the pause covers a client that did not.
      this.pausedUntil = now + this.deps.reinstallRecheckMs;
      this.deps.log.warn({ portal: this.portal }, 'Bitrix24 refused the app tokens; writes wait for a reinstall');
    } else if (rateLimited) {
      // QUERY_LIMIT_EXCEEDED is the portal's bucket overflowing (limits.md §2.1): pause the whole portal, spend no attempt.
      this.rateLimitStreak += 1;
      this.pausedUntil = now + this.deps.backoff(this.rateLimitStreak);
      this.deps.log.warn({ portal: this.portal, pauseMs: this.pausedUntil - now }, 'Bitrix24 rate limit reached; pausing the outbox');
    } else if (done.length > 0) {
      this.rateLimitStreak = 0;
    }
    if (updates.length > 0) await this.storeAnswers(updates);
    if (parked.length > 0) await this.park(parked);
    await deliverByGroup(done, (item) => this.deps.delivery.deliverDone(item));
  }

  /**
   * Stores what Bitrix24 answered, trying again (at most every 2 s) while the store refuses (the database unreachable,
   * the disk full) rather than leaving the items pending: the write was made in Bitrix24, and a pending item would be
   * sent again at once — the fault test saw one call registered 38 times while an owner's database link was cut. The
   * items' groups stay held meanwhile. A stopped worker or one whose portal went to another instance gives up: the items
   * stay pending for the next owner, which sends each once more (every item carries its key).
   */
  private async storeAnswers(updates: OutboxItem[]): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.deps.store.outbox.updateMany(updates);
        return;
      } catch (err) {
        if (this.stopped || !this.deps.owns(this.portal)) throw err;
        const waitMs = Math.min(this.deps.backoff(attempt), 2_000);
        this.deps.log.error({ portal: this.portal, err, items: updates.length, retryInMs: waitMs }, 'Bitrix24 answered but the answer could not be stored; storing it again later, not resending');
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  /** Parks items and, transitively, every pending item that needs one of their results. */
  private async park(first: { item: OutboxItem; error: string }[]): Promise<void> {
    const { outbox } = this.deps.store;
    const parked = new Map<string, { item: OutboxItem; error: string }>();
    for (const p of first) parked.set(p.item.id, p);
    let frontier = [...parked.values()];
    while (frontier.length > 0) {
      const next: { item: OutboxItem; error: string }[] = [];
      for (const candidate of outbox.pending(this.portal)) {
        if (parked.has(candidate.id)) continue;
        const cause = referencedIds(candidate.params).map((id) => parked.get(id)).find((p) => p !== undefined);
        if (!cause) continue;
        const entry = {
          item: candidate,
          error: `DEPENDENCY_FAILED: needs the result of outbox item ${cause.item.id} (${cause.item.method}), which failed: ${cause.error}`,
        };
        parked.set(candidate.id, entry);
        next.push(entry);
      }
      frontier = next;
    }
    const now = this.deps.now();
    const failed = [...parked.values()].map(({ item, error }): OutboxItem => ({
      ...item, status: 'failed', lastError: error, nextAttemptAt: now, delivered: !item.onFailed,
    }));
    await outbox.updateMany(failed);
    for (const item of failed) {
      this.deps.log.error({ portal: this.portal, itemId: item.id, method: item.method, group: item.group, error: item.lastError },
        'Bitrix24 write parked as failed');
      await this.deps.delivery.deliverFailed(item);
    }
  }

  private schedule(at: number): void {
    if (this.stopped) return;
    this.clearTimer();
    const delay = Math.max(0, at - this.deps.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, delay);
    this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Tells the idle waiters, if the portal is idle now: no send out and nothing pending. Judged here, not from the
   * step's earlier look: a send can end between that look and this call (the step is awaited) and leave an item
   * pending for a retry — telling then let a stopped worker leave that item to the next one (outbox-order property).
   */
  private notifyIdle(): void {
    if (this.out.size > 0 || this.deps.store.outbox.pending(this.portal).length > 0) return;
    const waiters = this.idleWaiters.splice(0);
    for (const resolve of waiters) resolve();
  }
}

/**
 * Hands done items to their handlers: in order within a group (one call's register before its finish), groups side by
 * side. One after another, a batch of 25 calls' results cost 25 handler runs each waiting for its own store write,
 * and the worker's next send missed the portal's next token (bench/, issue 7); side by side the writes share a commit.
 */
export async function deliverByGroup(items: OutboxItem[], deliver: (item: OutboxItem) => Promise<void>): Promise<void> {
  const groups = new Map<string, OutboxItem[]>();
  for (const item of items) groups.set(item.group, [...(groups.get(item.group) ?? []), item]);
  const results = await Promise.allSettled([...groups.values()].map(async (group) => {
    for (const item of group) await deliver(item);
  }));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Strings longer than this in a done item's params (a recording's FILE_CONTENT) are not kept once sent. */
export const BULK_CHARS = 4096;

/**
 * A done item's params without their bulk: the store keeps done items for a while (and in memory), and nothing reads
 * a done item's params again — references read its result. Keeping the base64 recordings of finished calls grew the
 * server by about 0.2 MB per answered call (bench/, 200 tenants: 280 MB of heap after 1,200 calls).
 */
export function withoutBulk(params: Record<string, unknown>): Record<string, unknown> {
  const strip = (value: unknown): unknown => {
    if (typeof value === 'string') return value.length > BULK_CHARS ? `[${value.length} characters sent]` : value;
    if (Array.isArray(value)) return value.map(strip);
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strip(v)]));
    }
    return value;
  };
  return strip(params) as Record<string, unknown>;
}

export const idleTimeout = (portal: string, ms: number): AppError =>
  new AppError('OUTBOX_NOT_IDLE', `the outbox of portal ${portal} still had pending items after ${ms} ms`, 503, { portal });
