/**
 * The operator's journey through the console, in order: first-run setup and login, a stream inferred from
 * a sample file, a key used by a producer, a drag-and-drop upload with a rejected row, the written file's
 * preview, live metrics, and revoking the key. A screenshot of every page is kept in test-results/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';

const ingestUrl = process.env.E2E_INGEST_URL!;
const shots = path.join(import.meta.dirname, 'test-results', 'screenshots');
const email = 'operator@example.com';
const password = 'correct horse battery';
const streamName = `orders_${Date.now().toString(36)}`;
let apiKey = '';

async function shot(page: Page, name: string) {
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

function produce(key: string, body: string) {
  return fetch(`${ingestUrl}/v1/streams/${streamName}/rows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
    body,
  });
}

test.describe.configure({ mode: 'serial' });

test('first run: set up the operator account, sign out and sign in', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/setup$/);
  await expect(page.getByRole('heading', { name: 'Welcome to Sluice' })).toBeVisible();
  await shot(page, '01-setup');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Confirm password').fill(password);
  // npm start asks for a one-time setup token on first run; the runner passes the one it started with.
  if (process.env.E2E_SETUP_TOKEN) await page.getByLabel('Setup token').fill(process.env.E2E_SETUP_TOKEN);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { name: 'Streams' })).toBeVisible();
  await expect(page.getByText('No streams yet')).toBeVisible();
  await shot(page, '02-streams-empty');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('wrong password!');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('Email or password is incorrect.')).toBeVisible();
  await shot(page, '03-login-error');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Streams' })).toBeVisible();
});

async function signIn(page: Page) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Streams' })).toBeVisible();
}

test('create a stream by inferring its columns from a sample file', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: 'New stream' }).click();
  await page.locator('input[type=file]').setInputFiles({
    name: 'orders.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from(
      'order_id,customer,amount,paid,placed_at\n1,Ann,12.5,true,2024-05-01T10:00:00Z\n2,Bob,7,false,2024-05-01T11:30:00Z\n',
    ),
  });
  await expect(page.getByText(/Inferred 5 columns from 2 sample rows/)).toBeVisible();
  await expect(page.getByLabel('Column 3 type')).toHaveValue('float64');
  await expect(page.getByLabel('Column 4 type')).toHaveValue('boolean');
  await expect(page.getByLabel('Column 5 type')).toHaveValue('timestamp');
  await page.getByLabel('Name', { exact: true }).fill(streamName);
  // Partitioned by the orders' own time: the timestamp column is offered once inferred.
  await page.getByLabel('Partition rows by').selectOption('placed_at');
  await page.getByLabel('Partition size').selectOption('day');
  await shot(page, '04-new-stream-inferred');
  await page.getByRole('button', { name: 'Create stream' }).click();
  await expect(page.getByRole('heading', { name: streamName })).toBeVisible();
  await expect(page.getByText('by placed_at, a day each')).toBeVisible();
  await expect(page.getByLabel('curl example')).toContainText(`/v1/streams/${streamName}/rows`);
  // How to send Arrow: over HTTP and Flight with pyarrow, and from Node.
  await expect(page.getByLabel('pyarrow, Arrow IPC over HTTP')).toContainText('application/vnd.apache.arrow.stream');
  await expect(page.getByLabel('pyarrow, Arrow Flight')).toContainText(`FlightDescriptor.for_path("${streamName}")`);
  await expect(page.getByLabel('pyarrow, Arrow Flight')).toContainText(/grpc:\/\/[\w.]+:8815/);
  await expect(page.getByLabel('Node, apache-arrow over HTTP')).toContainText("tableToIPC(table, 'stream')");
  await shot(page, '05-stream');
});

test('create a key, and a producer uses it', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: 'API keys' }).click();
  await page.getByLabel('Key name').fill('e2e producer');
  await page.getByLabel('Chosen streams').check();
  await page.getByLabel(streamName).check();
  await page.getByRole('button', { name: 'Create key' }).click();
  apiKey = (await page.getByTestId('new-key').textContent()) ?? '';
  expect(apiKey).toMatch(/^slk_/);
  await shot(page, '06-key-created');
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.getByRole('cell', { name: `${apiKey.slice(0, 8)}…` })).toBeVisible();
  await expect(page.getByText(apiKey)).toHaveCount(0);

  const response = await produce(apiKey, 'order_id,customer,amount,paid,placed_at\n100,Cy,3.25,yes,2024-05-02T09:00:00Z\n');
  expect(response.status).toBe(200);
  expect((await response.json()).rowsAccepted).toBe(1);
});

test('drag and drop a CSV: progress reaches 100 %, the result shows the rejected row, the file previews', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: streamName }).click();
  const lines = ['order_id,customer,amount,paid,placed_at'];
  // ~18 MB: past the 10 MB that Next would buffer (and cut) if anything in front of the route cloned bodies.
  for (let i = 0; i < 300_000; i++) lines.push(`${1000 + i},customer ${i},${(i % 97) + 0.5},${i % 2 === 0},2024-05-03T00:00:00Z`);
  lines.splice(3, 0, 'oops,not a row,x,y,z');
  const csv = `${lines.join('\n')}\n`;

  // Watch the progress bar from the page itself, so a quick upload's 100 % is not missed.
  await page.evaluate(() => {
    (window as unknown as { maxProgress: number }).maxProgress = 0;
    new MutationObserver(() => {
      const bar = document.querySelector('[role=progressbar]');
      const value = Number(bar?.getAttribute('aria-valuenow') ?? 0);
      const w = window as unknown as { maxProgress: number };
      w.maxProgress = Math.max(w.maxProgress, value);
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  const drop = await page.evaluateHandle((text) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([text], 'orders-may.csv', { type: 'text/csv' }));
    return transfer;
  }, csv);
  await page.getByTestId('upload-dropzone').dispatchEvent('drop', { dataTransfer: drop });
  const result = page.getByTestId('upload-result');
  await expect(result).toBeVisible({ timeout: 60_000 });
  await expect(result).toContainText('300,000 rows stored');
  await expect(result).toContainText('1 rejected');
  await expect(result.getByRole('row', { name: /^4 order_id/ })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { maxProgress: number }).maxProgress)).toBe(100);
  await shot(page, '07-upload-result');

  await result.getByRole('link').first().click();
  await expect(page.getByRole('heading', { name: 'Schema' })).toBeVisible();
  const rows = page.getByTestId('preview-rows');
  await expect(rows.getByRole('row')).toHaveCount(101);
  await expect(rows).toContainText('customer 0');
  await expect(page.getByText('TIMESTAMP(MICROS,UTC)')).toBeVisible();
  await shot(page, '08-file-preview');
});

test('the stream page shows its Delta table: its version, its files, and queries to read it', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: streamName }).click();
  await page.waitForURL(`**/streams/${streamName}`);
  const table = page.getByRole('region', { name: 'Delta table' });
  // The log is written moments after the files are committed.
  await expect(async () => {
    await page.reload();
    await expect(table).toContainText(/Version \d+/, { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await expect(table).toContainText(/[\d,]+ file\(s\), [\d.,]+ \w+ on average/);
  await expect(table.getByRole('figure', { name: 'Delta queries' })).toContainText(`deltaLakeLocal('<lake>/${streamName}')`);
  await expect(table).toContainText('No compaction yet');

  // Two more small files, then the stream compacted on demand once the log has them.
  for (const id of [9001, 9002]) {
    const response = await produce(apiKey, `order_id,customer,amount,paid,placed_at\n${id},Dee,1.5,true,2024-05-03T10:00:00Z\n`);
    expect(response.status).toBe(200);
  }
  await expect(async () => {
    const response = await fetch(`${ingestUrl}/v1/admin/streams/${streamName}/compact`, {
      method: 'POST',
      headers: { authorization: `Bearer ${process.env.E2E_ADMIN_TOKEN}` },
    });
    expect(((await response.json()) as { filesIn: number }).filesIn).toBeGreaterThan(1);
  }).toPass({ timeout: 30_000 });
  await page.reload();
  await expect(table).toContainText(/Last compaction .+: \d+ files of dt=\d{4}-\d{2}-\d{2} into one/);
  await shot(page, '08b-delta-table');
});

test('the stream page shows the rejected rows in its quarantine: filtered by code, downloaded as CSV', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: streamName }).click();
  await page.waitForURL(`**/streams/${streamName}`);
  const quarantine = page.getByRole('region', { name: 'Quarantine' });
  // The upload's rejected row is written to the quarantine within a second of its answer.
  await expect(async () => {
    await page.reload();
    await expect(quarantine).toContainText(/[1-9][\d,]* rejected row\(s\) stored/, { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  const rejected = quarantine.getByRole('row', { name: /oops,not a row,x,y,z/ });
  await expect(rejected).toContainText('row.invalid_value');
  await expect(rejected).toContainText('order_id');

  await quarantine.getByLabel('Code').fill('row.field_count');
  await quarantine.getByRole('button', { name: 'Filter' }).click();
  await expect(quarantine).toContainText('No rejected rows match the filter');
  await quarantine.getByLabel('Code').fill('row.invalid_value');
  await quarantine.getByRole('button', { name: 'Filter' }).click();
  await expect(quarantine.getByRole('row', { name: /oops,not a row,x,y,z/ })).toBeVisible();
  await shot(page, '08c-quarantine');

  const [download] = await Promise.all([page.waitForEvent('download'), quarantine.getByRole('link', { name: 'Download CSV' }).click()]);
  expect(download.suggestedFilename()).toBe(`${streamName}-quarantine.csv`);
  const text = fs.readFileSync(await download.path(), 'utf8');
  expect(text.split('\n')[0]).toBe('rejectedAt,requestId,keyId,line,column,code,message,raw');
  expect(text).toContain('"oops,not a row,x,y,z"');
});

test('cancel stops an upload; Retry upload sends it again with its key and every row is stored exactly once', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: streamName }).click();
  const storedRows = async () => {
    const files = (await (
      await fetch(`${ingestUrl}/v1/streams/${streamName}/files?limit=500`, {
        headers: { authorization: `Bearer ${process.env.E2E_ADMIN_TOKEN}` },
      })
    ).json()) as { files: { rows: number }[] };
    return files.files.reduce((total, f) => total + f.rows, 0);
  };
  const before = await storedRows();
  const rows = 1_500_000;
  // A ~60 MB file made in the page, so the upload is still going when Cancel is pressed.
  const drop = await page.evaluateHandle((count) => {
    const parts = ['order_id,customer,amount,paid,placed_at\n'];
    for (let i = 0; i < count; i += 10_000) {
      let block = '';
      for (let j = i; j < Math.min(count, i + 10_000); j++) block += `${5_000_000 + j},cancelled,1.5,true,2024-05-05T00:00:00Z\n`;
      parts.push(block);
    }
    const transfer = new DataTransfer();
    transfer.items.add(new File(parts, 'big.csv', { type: 'text/csv' }));
    return transfer;
  }, rows);
  await page.getByTestId('upload-dropzone').dispatchEvent('drop', { dataTransfer: drop });
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByText('Upload cancelled.')).toBeVisible();
  await shot(page, '12-upload-cancelled');
  await new Promise((resolve) => setTimeout(resolve, 2500));
  expect(await storedRows()).toBeLessThan(before + rows);

  // The same file, the same key: what the cancelled attempt stored is not stored again.
  await page.getByRole('button', { name: 'Retry upload' }).click();
  const result = page.getByTestId('upload-result');
  await expect(result).toContainText('1,500,000 rows stored', { timeout: 120_000 });
  expect(await storedRows()).toBe(before + rows);
  await shot(page, '13-upload-retried');
});

test('the metrics page shows rows per second while a producer sends', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: 'Metrics' }).click();
  let sending = true;
  const producer = (async () => {
    let id = 50_000;
    while (sending) {
      const body = `order_id,customer,amount,paid,placed_at\n${Array.from({ length: 500 }, () => `${id++},m,1,true,2024-05-04T00:00:00Z`).join('\n')}\n`;
      await produce(apiKey, body);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  try {
    await expect(async () => {
      const value = Number((await page.getByTestId('rows-per-second').textContent()) ?? 0);
      expect(value).toBeGreaterThan(0);
    }).toPass({ timeout: 30_000 });
    await shot(page, '09-metrics');
  } finally {
    sending = false;
    await producer;
  }
});

test('revoke the key: the producer gets 401', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: 'API keys' }).click();
  await page.getByRole('button', { name: 'Revoke' }).first().click();
  await shot(page, '10-revoke-confirm');
  await page.getByRole('button', { name: /Yes, revoke/ }).click();
  await expect(page.getByText('revoked', { exact: true })).toBeVisible();
  await shot(page, '11-key-revoked');
  await expect(async () => {
    const response = await produce(apiKey, 'order_id\n1\n');
    expect(response.status).toBe(401);
  }).toPass({ timeout: 6_000 });
});
