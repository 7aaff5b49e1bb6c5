// A fake of the part of the Google Cloud Storage JSON API that deploy/lock-gcs.sh uses, on loopback:
//   GET  /storage/v1/b/BUCKET/o/OBJECT[?alt=json|media][&ifGenerationMatch=G]   metadata or content
//   POST /upload/storage/v1/b/BUCKET/o?uploadType=media&name=OBJECT[&ifGenerationMatch=G]
// with the real API's preconditions (query `ifGenerationMatch`, or the `x-goog-if-generation-match`
// header; 0 = only if absent) answered by 412, a bearer token check (401), and fault injection.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeGcsOptions {
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
}

interface StoredObject {
  readonly content: Buffer;
  readonly generation: bigint;
  readonly contentType: string;
  readonly updated: Date;
}

export interface GcsRequestLog {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

export class FakeGcs {
  readonly requests: GcsRequestLog[] = [];
  private readonly objects = new Map<string, StoredObject>();
  private readonly server: Server;
  private readonly token: string | undefined;
  private nextGeneration = BigInt(Date.now()) * 1000n;
  private faults: number[] = [];
  private beforeUpload: (() => void)[] = [];
  private delayMs = 0;

  private constructor(options: FakeGcsOptions) {
    this.token = options.token;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.send(req, res, 500, { error: { code: 500, message: String(err) } });
      });
    });
  }

  static async start(options: FakeGcsOptions = {}): Promise<FakeGcs> {
    const fake = new FakeGcs(options);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  get endpoint(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** The next requests are answered with these statuses instead of being served. */
  failNext(...statuses: number[]): void {
    this.faults.push(...statuses);
  }

  /**
   * Runs `action` when the next upload arrives, before its precondition is checked: another writer
   * slipping in between a client's read and its write.
   */
  beforeNextUpload(action: () => void): void {
    this.beforeUpload.push(action);
  }

  /** Every request waits this long before it is answered. */
  setDelay(ms: number): void {
    this.delayMs = ms;
  }

  object(bucket: string, name: string): { content: string; generation: string } | undefined {
    const stored = this.objects.get(`${bucket}/${name}`);
    return stored && { content: stored.content.toString('utf8'), generation: stored.generation.toString() };
  }

  putObject(bucket: string, name: string, content: string): void {
    this.store(bucket, name, Buffer.from(content), 'text/plain');
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private store(bucket: string, name: string, content: Buffer, contentType: string): StoredObject {
    this.nextGeneration += 1n;
    const stored = { content, generation: this.nextGeneration, contentType, updated: new Date() };
    this.objects.set(`${bucket}/${name}`, stored);
    return stored;
  }

  private metadata(bucket: string, name: string, o: StoredObject): object {
    return {
      kind: 'storage#object',
      id: `${bucket}/${name}/${o.generation}`,
      name,
      bucket,
      generation: o.generation.toString(),
      metageneration: '1',
      contentType: o.contentType,
      size: String(o.content.length),
      updated: o.updated.toISOString(),
    };
  }

  private send(req: IncomingMessage, res: ServerResponse, status: number, body: object | Buffer): void {
    this.requests.push({ method: req.method ?? '', path: req.url ?? '', status });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const payload = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    res.writeHead(status, {
      'content-type': Buffer.isBuffer(body) ? 'application/octet-stream' : 'application/json; charset=UTF-8',
      'content-length': payload.length,
    });
    res.end(payload);
  }

  private error(req: IncomingMessage, res: ServerResponse, status: number, message: string): void {
    this.send(req, res, status, { error: { code: status, message, errors: [{ message, reason: message }] } });
  }

  /** The generation the request demands (query parameter first, as the JSON API documents). */
  private precondition(req: IncomingMessage, url: URL): bigint | undefined | 'bad' {
    const raw = url.searchParams.get('ifGenerationMatch') ?? req.headers['x-goog-if-generation-match'];
    if (raw === undefined || raw === null) return undefined;
    const text = Array.isArray(raw) ? raw[0] : raw;
    return text !== undefined && /^\d+$/.test(text) ? BigInt(text) : 'bad';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const fault = this.faults.shift();
    if (fault !== undefined) return this.error(req, res, fault, 'injected fault');
    if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`) {
      return this.error(req, res, 401, 'Invalid Credentials');
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const wanted = this.precondition(req, url);
    if (wanted === 'bad') return this.error(req, res, 400, 'Invalid argument ifGenerationMatch');

    const get = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && get) {
      const bucket = decodeURIComponent(get[1] ?? '');
      const name = decodeURIComponent(get[2] ?? '');
      const stored = this.objects.get(`${bucket}/${name}`);
      if (!stored) return this.error(req, res, 404, `No such object: ${bucket}/${name}`);
      if (wanted !== undefined && wanted !== stored.generation) {
        return this.error(req, res, 412, 'Precondition Failed');
      }
      const alt = url.searchParams.get('alt') ?? 'json';
      if (alt === 'media') return this.send(req, res, 200, stored.content);
      if (alt === 'json') return this.send(req, res, 200, this.metadata(bucket, name, stored));
      return this.error(req, res, 400, `Invalid alt ${alt}`);
    }

    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (req.method === 'POST' && upload) {
      const bucket = decodeURIComponent(upload[1] ?? '');
      const name = url.searchParams.get('name');
      if (url.searchParams.get('uploadType') !== 'media' || !name) {
        return this.error(req, res, 400, 'only uploadType=media with a name is faked');
      }
      this.beforeUpload.shift()?.();
      const current = this.objects.get(`${bucket}/${name}`);
      if (wanted !== undefined && wanted !== (current?.generation ?? 0n)) {
        return this.error(req, res, 412, 'Precondition Failed');
      }
      const stored = this.store(
        bucket,
        name,
        body,
        req.headers['content-type'] ?? 'application/octet-stream',
      );
      return this.send(req, res, 200, this.metadata(bucket, name, stored));
    }
    return this.error(req, res, 404, `not faked: ${req.method} ${url.pathname}`);
  }
}
