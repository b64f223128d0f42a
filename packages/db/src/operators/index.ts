// Operator accounts of the console: the first account, sign-in throttling and sessions.
export { createFirstOperator } from './first-operator';
export {
  clearLoginFailures,
  DEFAULT_LOGIN_THROTTLE,
  loginRetryAfter,
  recordLoginFailure,
  type LoginThrottleOptions,
} from './login-throttle';
export { createSession, endOtherSessions, findActiveSession, listSessions, purgeExpiredSessions, type ActiveSession } from './sessions';
