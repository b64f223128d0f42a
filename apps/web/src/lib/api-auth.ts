/** Route handlers answer 401 in the shared error shape rather than redirecting. */
import { currentOperator, type CurrentOperator } from './session';

export async function operatorOr401(): Promise<CurrentOperator | Response> {
  const operator = await currentOperator();
  if (operator) return operator;
  return Response.json({ error: { code: 'auth.session_required', message: 'Please sign in.', requestId: '' } }, { status: 401 });
}
