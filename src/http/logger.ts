/** JSON logs (pino) carrying the request id from AsyncLocalStorage. Log ids, never names, birth dates or tokens. */
import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger } from 'pino';

export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'vaxhub' },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const ctx = requestContext.getStore();
      return ctx ? { requestId: ctx.requestId } : {};
    },
    redact: ['req.headers.authorization', 'token', 'password', 'code_verifier'],
  });
}
