/**
 * One portal's Bitrix24 requests, coalesced: at most one HTTP request of the portal is in flight (or waiting for a
 * token of the SDK's leaky bucket); whatever the parts ask meanwhile — single calls and batches alike — goes out
 * together as ONE `batch` (≤ 50 commands, halt=0) when it is its turn, and every caller gets its own answer back.
 *
 * Why: Bitrix24 allows a portal 2 requests per second (burst 50, https://apidocs.bitrix24.com/limits.html), but a
 * batch of 50 commands costs one request. Under load the CRM lookups, the outbox's call log and the recordings asked
 * separately, each taking a token: at 10 calls per second the portal's bucket ran dry and screen pops waited
 * seconds behind the queue (bench/, issue 7). Coalesced, each token carries everything pending, so the requests per
 * second stay at what the bucket allows while the commands per second grow up to 50 times that.
 * When nothing else is pending a call goes out alone, as itself: no added wait, no batch wrapping.
 * Two requests of a portal may be out at once while its bucket has tokens, so one slow request (a batch carrying
 * recordings) does not hold a screen pop; once the bucket is empty, one waits for the next token and takes everything.
 * This bucket is the portal's only limiter: `list` pages take their token here too (admit), and the SDK's own bucket
 * is opened (client.ts, `unmetered`) — two buckets drifted apart and the SDK held what this one let out.
 * Merged requests may run in any order relative to each other: a caller that needs order waits for its answer first
 * (the outbox holds a call's later writes until the earlier send is answered).
 */
import type { BatchCommand, BatchResult } from './types.js';
import { answerError } from './errors.js';

export const MAX_COMMANDS = 50;
/** Merging stops once the params of a group reach this size (recordings travel as FILE_CONTENT). */
export const MAX_MERGED_PARAMS_CHARS = 8 * 1024 * 1024;
export const MAX_IN_FLIGHT = 2;

/** The portal's uncoalesced transport. */
export interface DirectSender {
  call(method: string, params: Record<string, unknown>): Promise<unknown>;
  batch(commands: BatchCommand[], halt: boolean): Promise<BatchResult>;
}

/**
 * The portal's leaky bucket as the coalescer sees it (the same figures the SDK enforces, rate-plan.ts): the group is
 * formed only once a token is there, so a request that has to wait for its token still leaves with everything that
 * arrived during the wait (forming it first and waiting after left later arrivals for the next token).
 */
/** What the coalescer needs of a portal's bucket: this process's own (TokenBucket) or the cluster's (shared-bucket.ts). */
export interface RateBucket {
  /** Milliseconds until a token is there (0: now, and take() may be called in the same tick). */
  waitMs(): number;
  take(): void;
  giveBack(): void;
  acquire(): Promise<void>;
}

export class TokenBucket implements RateBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly burst: number, private readonly perSecond: number, private readonly now: () => number = Date.now) {
    this.tokens = burst;
    this.last = now();
  }

  /** Milliseconds until a token is there (0: now). */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
  }

  take(): void {
    this.refill();
    this.tokens -= 1;
  }

  /** Returns a token taken for a request that did not go out. */
  giveBack(): void {
    this.refill();
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  /**
   * Waits until a token is there and takes it. The look and the take happen in one synchronous step, so two waiters
   * woken by the same refill never both take the last token.
   */
  async acquire(): Promise<void> {
    for (let wait = this.waitMs(); wait > 0; wait = this.waitMs()) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    this.take();
  }

  private refill(): void {
    const at = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((at - this.last) * this.perSecond) / 1000);
    this.last = at;
  }
}

type Job =
  | { kind: 'call'; method: string; params: Record<string, unknown>; size: number; resolve: (r: unknown) => void; reject: (e: unknown) => void }
  | { kind: 'batch'; commands: BatchCommand[]; halt: boolean; size: number; resolve: (r: BatchResult) => void; reject: (e: unknown) => void };

const commandsOf = (job: Job): number => (job.kind === 'call' ? 1 : job.commands.length);

/**
 * About the JSON length of the params, without building the JSON: a recording inline is up to 4 MB of base64, and
 * stringifying it only to measure it made one more copy of it per send (issue 14, memory under load). Escapes are
 * not counted (a merge limit, not a wire size); a cycle or absurd depth counts as too large, as JSON.stringify's throw did.
 */
export function paramsSize(value: unknown, ancestors: Set<object> = new Set()): number {
  if (typeof value === 'string') return value.length + 2;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value).length;
  if (typeof value !== 'object' || value === null) return 4;
  if (ancestors.has(value) || ancestors.size > 64) return Number.POSITIVE_INFINITY;
  ancestors.add(value);
  let size = 2;
  if (Array.isArray(value)) {
    for (const v of value) size += paramsSize(v, ancestors) + 1;
  } else {
    for (const [k, v] of Object.entries(value)) size += k.length + 4 + paramsSize(v, ancestors);
  }
  ancestors.delete(value);
  return size;
}

export class PortalCoalescer implements DirectSender {
  private readonly queue: Job[] = [];
  private inFlight = 0;
  private waitingForToken = false;
  private seq = 0;

  constructor(
    private readonly direct: DirectSender,
    private readonly maxCommands = MAX_COMMANDS,
    /** A merged command failed (the direct sender counts its own errors; these it never saw as errors). */
    private readonly onCommandError: (method: string) => void = () => undefined,
    private readonly maxInFlight = MAX_IN_FLIGHT,
    private readonly bucket?: RateBucket,
  ) {}

  call(method: string, params: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'call', method, params, size: paramsSize(params), resolve, reject });
      this.kick();
    });
  }

  batch(commands: BatchCommand[], halt: boolean): Promise<BatchResult> {
    return new Promise((resolve, reject) => {
      const size = commands.reduce((n, c) => n + paramsSize(c.params), 0);
      this.queue.push({ kind: 'batch', commands, halt, size, resolve, reject });
      this.kick();
    });
  }

  /** Jobs waiting for their turn (metrics, tests). */
  get waiting(): number {
    return this.queue.length;
  }

  private kick(): void {
    if (this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.inFlight += 1;
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // No await when a token is there: a lone call leaves in the same tick it was asked in. Without one, a single
        // pump waits for it and then carries everything pending; a second waiting pump would split that load over
        // two tokens (the outbox's batch on one, the lookups on the next: a screen pop a whole token later).
        if (this.bucket && this.bucket.waitMs() > 0) {
          if (this.waitingForToken) break;
          this.waitingForToken = true;
          try {
            await this.bucket.acquire();
          } finally {
            this.waitingForToken = false;
          }
        } else {
          this.bucket?.take();
        }
        const group = this.takeGroup();
        if (group.length === 0) {
          this.bucket?.giveBack();
          break;
        }
        await this.send(group);
      }
    } finally {
      this.inFlight -= 1;
    }
  }

  /**
   * Takes a token of the portal's bucket for a request that goes out on its own (a `list` page): every request of
   * the portal is counted by this one bucket, so the group formed at a token never finds the portal's budget spent.
   */
  async admit(): Promise<void> {
    await this.bucket?.acquire();
  }

  /** The first waiting job, then every later one that fits beside it (command count, keys, halt, size). */
  private takeGroup(): Job[] {
    const first = this.queue.shift();
    if (!first) return [];
    const group: Job[] = [first];
    if (!this.mergeable(first)) return group;
    let commands = commandsOf(first);
    let size = first.size;
    const keys = new Set(first.kind === 'batch' ? first.commands.map((c) => c.key) : []);
    for (let i = 0; i < this.queue.length;) {
      const job = this.queue[i];
      if (!job) break;
      const fits = this.mergeable(job) && commands + commandsOf(job) <= this.maxCommands && size + job.size <= MAX_MERGED_PARAMS_CHARS
        && (job.kind === 'call' || job.commands.every((c) => !keys.has(c.key)));
      if (!fits) {
        i += 1;
        continue;
      }
      this.queue.splice(i, 1);
      group.push(job);
      commands += commandsOf(job);
      size += job.size;
      if (job.kind === 'batch') for (const c of job.commands) keys.add(c.key);
    }
    return group;
  }

  private mergeable(job: Job): boolean {
    // A batch that must halt on the first error keeps that meaning only on its own.
    return job.kind === 'call' ? job.method !== 'batch' : !job.halt;
  }

  private async send(group: Job[]): Promise<void> {
    const [only] = group;
    if (!only) return;
    if (group.length === 1) {
      try {
        if (only.kind === 'call') only.resolve(await this.direct.call(only.method, only.params));
        else only.resolve(await this.direct.batch(only.commands, only.halt));
      } catch (err) {
        only.reject(err);
      }
      return;
    }
    const taken = new Set(group.flatMap((j) => (j.kind === 'batch' ? j.commands.map((c) => c.key) : [])));
    const callKeys = new Map<Job, string>();
    const commands: BatchCommand[] = [];
    for (const job of group) {
      if (job.kind === 'batch') {
        commands.push(...job.commands);
        continue;
      }
      let key: string;
      do key = `mx${(this.seq += 1)}`; while (taken.has(key));
      taken.add(key);
      callKeys.set(job, key);
      commands.push({ key, method: job.method, params: job.params });
    }
    let answer: BatchResult;
    try {
      answer = await this.direct.batch(commands, false);
    } catch (err) {
      for (const job of group) job.reject(err);
      return;
    }
    for (const job of group) {
      if (job.kind === 'batch') {
        const results: BatchResult['results'] = {};
        const errors: BatchResult['errors'] = {};
        for (const c of job.commands) {
          if (c.key in answer.results) results[c.key] = answer.results[c.key];
          const e = answer.errors[c.key];
          if (e) errors[c.key] = e;
        }
        job.resolve({ results, errors });
        continue;
      }
      const key = callKeys.get(job) ?? '';
      const e = answer.errors[key];
      if (e) {
        this.onCommandError(job.method);
        job.reject(answerError(e.error, e.description));
      }
      else if (key in answer.results) job.resolve(answer.results[key]);
      else job.reject(answerError('ERROR_UNEXPECTED_ANSWER', 'the batch answer has no result for this command', 0));
    }
  }
}
