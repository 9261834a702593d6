import express, { type Request, type Response } from 'express';
import type { MissedCallTasks } from '../../calls/missed-call-tasks.js';
import { frameUser } from '../context.js';
import type { MissedCallTaskRow } from '../../../contract/api-shapes.js';

/**
 * The Activity page's open missed-call tasks: GET /api/missed-call-tasks. They name callers' numbers and who must
 * call them back, so only an admin gets them; anyone else gets an empty list (as /api/outbox/failed does).
 */
export function missedCallTasksRouter(deps: { tasks: MissedCallTasks | undefined }): express.Router {
  const router = express.Router();
  router.get('/missed-call-tasks', (_req: Request, res: Response) => {
    const { portal: { memberId: portal }, isAdmin } = frameUser(res);
    const rows: MissedCallTaskRow[] = !isAdmin || !deps.tasks ? [] : deps.tasks.list(portal).map((entry) => ({
      phone: entry.phone,
      taskId: entry.taskId ?? null,
      responsibleId: entry.responsibleId,
      responsibleFrom: entry.responsibleFrom,
      title: entry.title,
      missedCalls: entry.calls.length,
      createdAt: entry.createdAt,
      deadline: entry.deadline,
    }));
    res.json(rows);
  });
  return router;
}
