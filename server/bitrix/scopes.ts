/**
 * The permissions the app asks for in its Bitrix24 registration, said the same way on the landing page, at start and
 * in the logs. `task` is for missed-call tasks (off by default; without it their writes are parked on the Activity page).
 */
export const APP_SCOPES = ['crm', 'telephony', 'user_basic', 'placement', 'im', 'task'] as const;
