/**
 * The console's defences, tried as an attacker would: RSC payloads replayed without a valid session, a
 * cross-origin upload, guessing passwords, and cookies over HTTPS. Each test signs in with an operator
 * of its own (written into the database, as the first one must already exist: console.spec.ts does the
 * first-run setup, and this file sets it up itself when run alone) and its own client address
 * (X-Forwarded-For, believed because the runner starts the console with SLUICE_TRUST_PROXY), so that
 * throttling here never reaches another test.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Browser, expect, type Page, request as playwrightRequest, test } from '@playwright/test';
import { hashPassword } from '../packages/db/src/password';

const baseUrl = process.env.E2E_BASE_URL!;
const ingestUrl = process.env.E2E_INGEST_URL!;
const adminToken = process.env.E2E_ADMIN_TOKEN!;
const suffix = randomBytes(4).toString('hex');
const password = 'a long test password';

function sql(statement: string): string {
  return execFileSync('psql', [process.env.E2E_DATABASE_URL!, '-v', 'ON_ERROR_STOP=1', '-qAtc', statement]).toString().trim();
}

let addressCounter = 10;
function newAddress(): string {
  return `203.0.113.${addressCounter++}`;
}

async function createOperator(name: string): Promise<string> {
  const email = `${name}-${suffix}@example.com`;
  const hash = await hashPassword(password);
  sql(`INSERT INTO "Operator" (id, email, "passwordHash") VALUES ('op_${name}_${suffix}', '${email}', '${hash}')`);
  return email;
}

async function pageFrom(browser: Browser, headers: Record<string, string> = {}): Promise<Page> {
  const context = await browser.newContext({ baseURL: baseUrl, extraHTTPHeaders: { 'x-forwarded-for': newAddress(), ...headers } });
  return context.newPage();
}

/** Submits the sign-in form and waits for the action's answer (the error text may be the same as before). */
async function submitLogin(page: Page, email: string, secret: string) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(secret);
  const answered = page.waitForResponse(
    (response) => response.request().method() === 'POST' && new URL(response.url()).pathname === '/login',
  );
  await page.getByRole('button', { name: 'Sign in' }).click();
  return answered;
}

function formError(page: Page) {
  return page.locator('form [role=alert]');
}

async function signIn(page: Page, email: string) {
  await page.goto('/login');
  await submitLogin(page, email, password);
  await expect(page.getByRole('heading', { name: 'Streams' })).toBeVisible();
}

async function admin(path: string, body: unknown) {
  const response = await fetch(`${ingestUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status, `${path}: ${await response.clone().text()}`).toBeLessThan(300);
  return response.json();
}

test.beforeAll(async ({ browser }) => {
  if (Number(sql('SELECT count(*) FROM "Operator"')) > 0) return;
  // Run alone: do the first-run setup with an account of this file's own.
  const page = await pageFrom(browser);
  await page.goto('/setup');
  await page.getByLabel('Email').fill(`first-${suffix}@example.com`);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Confirm password').fill(password);
  if (process.env.E2E_SETUP_TOKEN) await page.getByLabel('Setup token').fill(process.env.E2E_SETUP_TOKEN);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { name: 'Streams' })).toBeVisible();
  await page.context().close();
});

test('RSC payloads recorded from a signed-in browser give no data when replayed without a valid session', async ({ browser }) => {
  const stream = `leak_${suffix}`;
  const column = `secret_column_${suffix}`;
  const marker = `secret-value-${suffix}`;
  const keyName = `leak key ${suffix}`;
  await admin('/v1/admin/streams', { name: stream, schema: { columns: [{ name: column, type: 'string' }] } });
  const key = (await admin('/v1/admin/keys', { name: keyName, streams: [stream] })) as { key: string; start: string };
  const produced = await fetch(`${ingestUrl}/v1/streams/${stream}/rows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}`, 'content-type': 'text/csv' },
    body: `${column}\n${marker}\n`,
  });
  expect(produced.status).toBe(200);
  const fileKey = ((await produced.json()) as { files: string[] }).files[0]!;

  const page = await pageFrom(browser);
  await signIn(page, await createOperator('rsc'));
  const recorded: { url: string; headers: Record<string, string> }[] = [];
  page.on('request', (request) => {
    const headers = request.headers();
    if (headers.rsc === '1') recorded.push({ url: request.url(), headers });
  });
  await page.getByRole('link', { name: 'API keys' }).click();
  await expect(page.getByRole('cell', { name: keyName })).toBeVisible();
  await page.getByRole('link', { name: 'Streams' }).click();
  await page.getByRole('link', { name: stream, exact: true }).click();
  await expect(page.getByRole('heading', { name: stream })).toBeVisible();
  await page.getByRole('link', { name: fileKey }).click();
  await expect(page.getByTestId('preview-rows')).toContainText(marker);
  const secrets = [keyName, key.start, column, marker, fileKey];
  const navigations = recorded.filter((r) =>
    /\/(keys|streams\/[^/?]+(\/preview)?)(\?|$)/.test(new URL(r.url).pathname + new URL(r.url).search),
  );
  expect(navigations.length).toBeGreaterThanOrEqual(3);

  const replay = async (cookie: string | undefined) => {
    const context = await playwrightRequest.newContext();
    const bodies: string[] = [];
    for (const { url, headers } of navigations) {
      const { cookie: _dropped, ...rest } = headers;
      const response = await context.get(url, { headers: cookie ? { ...rest, cookie } : rest });
      bodies.push(await response.text());
    }
    await context.dispose();
    return bodies.join('\n');
  };
  // With the session the replay carries the data (so the recording is of the right requests) ...
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name.endsWith('sluice_session'))!;
  const withSession = await replay(`${session.name}=${session.value}`);
  for (const secret of secrets) expect(withSession).toContain(secret);
  // ... without a cookie, with a forged one, and with the cookie of a session that has been signed out, none.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  for (const cookie of [undefined, `${session.name}=forged.c2lnbmF0dXJl`, `${session.name}=${session.value}`]) {
    const body = await replay(cookie);
    for (const secret of secrets) expect(body, `replayed with ${cookie ?? 'no cookie'}`).not.toContain(secret);
  }
});

test('the quarantine download gives rejected rows to a signed-in operator only: not without a cookie, with a forged one, or after sign-out', async ({
  browser,
}) => {
  const stream = `quarantine_${suffix}`;
  const marker = `rejected-secret-${suffix}`;
  await admin('/v1/admin/streams', { name: stream, schema: { columns: [{ name: 'id', type: 'int64' }] } });
  const key = (await admin('/v1/admin/keys', { name: `quarantine key ${suffix}`, streams: [stream] })) as { key: string };
  const produced = await fetch(`${ingestUrl}/v1/streams/${stream}/rows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}`, 'content-type': 'text/csv' },
    body: `id\n${marker}\n`,
  });
  expect(((await produced.json()) as { rowsRejected: number }).rowsRejected).toBe(1);

  const page = await pageFrom(browser);
  await signIn(page, await createOperator('quarantine'));
  const url = `${baseUrl}/streams/${stream}/quarantine/download?format=csv`;
  // The rejected row reaches the quarantine within a second of its answer.
  await expect(async () => {
    expect(await (await page.request.get(url)).text()).toContain(marker);
  }).toPass({ timeout: 30_000 });
  const session = (await page.context().cookies()).find((c) => c.name.endsWith('sluice_session'))!;
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);

  const context = await playwrightRequest.newContext();
  // No cookie: the proxy sends the request to the login page before the route runs.
  const bare = await context.get(url, { maxRedirects: 0 });
  expect(bare.status()).toBe(307);
  expect(bare.headers().location).toMatch(/\/login/);
  // A cookie the proxy lets through, but no session behind it: the route itself answers 401.
  for (const cookie of [`${session.name}=forged.c2lnbmF0dXJl`, `${session.name}=${session.value}`]) {
    const response = await context.get(url, { headers: { cookie }, maxRedirects: 0 });
    expect(response.status(), cookie).toBe(401);
    const body = await response.text();
    expect(body).toContain('auth.session_required');
    expect(body).not.toContain(marker);
  }
  await context.dispose();
});

test('the upload route refuses a cross-origin POST with a valid session, and a body that is not CSV or NDJSON', async ({ browser }) => {
  const stream = `upload_${suffix}`;
  await admin('/v1/admin/streams', { name: stream, schema: { columns: [{ name: 'id', type: 'int64' }] } });
  const page = await pageFrom(browser);
  await signIn(page, await createOperator('upload'));
  const post = (headers: Record<string, string>) => page.request.post(`/api/upload/${stream}`, { headers, data: 'id\n1\n2\n' });

  const crossOrigin = await post({ origin: 'http://evil.example', 'content-type': 'text/csv' });
  expect(crossOrigin.status()).toBe(403);
  const refused = (await crossOrigin.json()) as { error: { code: string; message: string; requestId: string } };
  expect(refused.error.code).toBe('auth.cross_origin');
  expect(refused.error.message).toBeTruthy();
  expect(refused.error.requestId).toMatch(/^req_/);
  // A cross-site page whose browser leaves Origin out still names itself in Referer.
  expect((await post({ referer: 'http://evil.example/form.html', 'content-type': 'text/csv' })).status()).toBe(403);

  const plain = await post({ origin: baseUrl, 'content-type': 'text/plain' });
  expect(plain.status()).toBe(415);
  expect(((await plain.json()) as { error: { code: string } }).error.code).toBe('ingest.unsupported_media_type');

  const sameOrigin = await post({ origin: baseUrl, 'content-type': 'text/csv', 'idempotency-key': `upload-${suffix}` });
  expect(sameOrigin.status()).toBe(200);
  expect(((await sameOrigin.json()) as { rowsAccepted: number }).rowsAccepted).toBe(2);
});

test('sign-in is throttled after 10 failures per account and per address, even with the right password', async ({ browser }) => {
  const email = await createOperator('throttled');
  const other = await createOperator('bystander');
  const page = await pageFrom(browser);
  await page.goto('/login');
  for (let attempt = 1; attempt <= 10; attempt++) {
    await submitLogin(page, email, `wrong password ${attempt}`);
    await expect(formError(page)).toHaveText('Email or password is incorrect.');
  }
  await submitLogin(page, email, 'wrong password 11');
  await expect(formError(page)).toHaveText(/^Too many attempts, try again in 15 minutes\.$/);
  await submitLogin(page, email, password);
  const alert = formError(page);
  await expect(alert).toHaveText(/^Too many attempts, try again in \d+ minutes?\.$/);
  const retryAfter = Number(await alert.getAttribute('data-retry-after'));
  expect(retryAfter).toBeGreaterThan(14 * 60);
  expect(retryAfter).toBeLessThanOrEqual(15 * 60);

  // The same account from another address: throttled by the account.
  const elsewhere = await pageFrom(browser);
  await elsewhere.goto('/login');
  await submitLogin(elsewhere, email, password);
  await expect(formError(elsewhere)).toHaveText(/^Too many attempts/);
  // Another account from the throttled address: throttled by the address.
  await submitLogin(page, other, password);
  await expect(formError(page)).toHaveText(/^Too many attempts/);
  // Another account from another address: unaffected.
  await signIn(elsewhere, other);
});

test('over HTTPS the session cookie is Secure and __Host- named; an operator can end their other sessions', async ({ browser }) => {
  const email = await createOperator('cookies');
  const page = await pageFrom(browser, { 'x-forwarded-proto': 'https' });
  await page.goto('/login');
  const answer = await submitLogin(page, email, password);
  const setCookie = (await answer.headerValue('set-cookie')) ?? '';
  expect(setCookie).toMatch(/^__Host-sluice_session=[^;]+;/);
  expect(setCookie).toMatch(/; Secure/i);
  expect(setCookie).toMatch(/; HttpOnly/i);
  expect(setCookie).toMatch(/; Path=\//);
  expect(setCookie).not.toMatch(/; Domain=/i);
  // Chromium keeps Secure cookies from http://127.0.0.1 (a loopback origin counts as secure), so the
  // session works here; signing out must clear it with a Secure Set-Cookie too, or the browser ignores it.
  await expect(page.getByRole('heading', { name: 'Streams' })).toBeVisible();
  const signedOut = page.waitForResponse((response) => response.request().method() === 'POST');
  await page.getByRole('button', { name: 'Sign out' }).click();
  expect((await (await signedOut).headerValue('set-cookie')) ?? '').toMatch(/^__Host-sluice_session=;.*Secure/i);
  await expect(page).toHaveURL(/\/login$/);
  expect((await page.context().cookies()).map((c) => c.name)).not.toContain('__Host-sluice_session');

  // Over plain http the name has no prefix (browsers drop __Host- cookies that are not Secure).
  const first = await pageFrom(browser);
  const second = await pageFrom(browser);
  await signIn(first, email);
  await signIn(second, email);
  expect((await first.context().cookies()).map((c) => c.name)).toContain('sluice_session');
  await first.getByRole('link', { name: 'Sessions' }).click();
  await expect(first.getByText('this session', { exact: true })).toBeVisible();
  await first.getByRole('button', { name: 'Sign out all other sessions' }).click();
  await expect(first.getByRole('button', { name: 'Sign out all other sessions' })).toBeDisabled();
  await second.reload();
  await expect(second).toHaveURL(/\/login$/);
  await first.reload();
  await expect(first.getByRole('heading', { name: 'Sessions' })).toBeVisible();
});
