/**
 * The S3-compatible object store (AWS S3, MinIO, ...). A PutObject or a completed multipart upload
 * is atomic: readers see the whole object or nothing. Retries are the caller's (see retry.ts), so the
 * SDK's own are off and every attempt is counted.
 */
import { createReadStream } from 'node:fs';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NotFound,
  PutObjectCommand,
  S3ServiceException,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectStore, StoredObject } from './object-store';

export interface S3StoreOptions {
  endpoint?: string;
  bucket: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  /** Objects above this size go up as multipart uploads. */
  multipartThreshold: number;
  requestTimeoutMs: number;
}

export class S3Store implements ObjectStore {
  readonly kind = 's3';
  private readonly client: S3Client;

  constructor(private readonly options: S3StoreOptions) {
    const config: S3ClientConfig = {
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      maxAttempts: 1,
      // Checksums only where required: some S3-compatible servers store aws-chunked framing otherwise.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { requestTimeout: options.requestTimeoutMs, connectionTimeout: 5000 },
    };
    if (options.accessKeyId && options.secretAccessKey) {
      config.credentials = { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey };
    }
    this.client = new S3Client(config);
  }

  get location(): string {
    return `s3://${this.options.bucket}${this.options.endpoint ? ` at ${this.options.endpoint}` : ''}`;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.options.bucket, Key: key, Body: body, ContentType: 'application/vnd.apache.parquet' },
      partSize: Math.max(this.options.multipartThreshold, 5 * 1024 * 1024),
      queueSize: 2,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  /** A multipart upload from the file, a part (of the multipart threshold, at least 5 MiB) at a time. */
  async putFile(key: string, file: string): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.options.bucket, Key: key, Body: createReadStream(file), ContentType: 'application/vnd.apache.parquet' },
      partSize: Math.max(this.options.multipartThreshold, 5 * 1024 * 1024),
      queueSize: 2,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  /** A conditional PutObject (If-None-Match: *): 412 when the key exists. Small objects only (one request). */
  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: body, IfNoneMatch: '*' }));
      return true;
    } catch (error) {
      if (error instanceof S3ServiceException && (error.$metadata.httpStatusCode === 412 || error.name === 'PreconditionFailed'))
        return false;
      throw error;
    }
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Uint8Array> {
    const response = await this.client.send(
      new GetObjectCommand({
        Bucket: this.options.bucket,
        Key: key,
        Range: range ? `bytes=${range.start}-${range.end - 1}` : undefined,
      }),
    );
    if (!response.Body) return new Uint8Array(0);
    return response.Body.transformToByteArray();
  }

  async size(key: string): Promise<number | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (error instanceof NotFound || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) {
        return null;
      }
      throw error;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const found: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) found.push({ key: object.Key!, size: object.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  async delete(key: string): Promise<void> {
    // S3 answers a delete of a missing key with success, too.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
  }

  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }));
  }

  close(): void {
    this.client.destroy();
  }
}
