import { redirect } from 'next/navigation';
import { AuthForm } from '../../../components/auth-form';
import { env } from '../../../env';
import { hasOperator } from '../../../lib/operators';
import { setup } from '../../actions/auth';

export const dynamic = 'force-dynamic';

export default async function SetupPage() {
  if (await hasOperator()) redirect('/login');
  return (
    <main className="auth-card">
      <h1>Welcome to Sluice</h1>
      <p className="muted">Create the first operator account. You will use it to sign in to this console.</p>
      <AuthForm action={setup} submitLabel="Create account" confirm setupToken={Boolean(env().SLUICE_SETUP_TOKEN)} />
    </main>
  );
}
