import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * This process's name among the instances sharing one database (the cluster contract: INSTANCE_ID, else
 * host:pid:4 hex). It shows in logs, /metrics, lease rows and, as the PostgreSQL application_name, in the
 * store_changed notifications of its writes.
 */
export function defaultInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
}
