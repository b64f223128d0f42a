import { redirect } from 'next/navigation';
import { AuthForm } from '../../../components/auth-form';
import { hasOperator } from '../../../lib/operators';
import { currentOperator } from '../../../lib/session';
import { login } from '../../actions/auth';

export const dynamic = 'force-dynamic';

export default async function LoginPage() {
  if (!(await hasOperator())) redirect('/setup');
  if (await currentOperator()) redirect('/');
  return (
    <main className="auth-card">
      <h1>Sign in to Sluice</h1>
      <AuthForm action={login} submitLabel="Sign in" />
    </main>
  );
}
