/**
 * tabby-ui's HTTP side: the page's static files, the read-only JSON API and the SSE stream
 * (routes in view.ts). node:http, or node:https with a certificate; with a token every /api
 * request must carry it (`Authorization: Bearer TOKEN`, or `?access_token=TOKEN` for the
 * EventSource, which cannot set headers).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { parseManifest } from '@tabby/api';
import { AgentClient, type PreviewResponse, type RoutesResponse, type TopologyClient } from '@tabby/proto';
import { CLIENT_CHANNEL_OPTIONS, callUnary, channelCredentials, isGrpcError, type ClientTlsFiles, type Logger } from '@tabby/runtime';
import { errorLine, type UiModel } from './model.js';
import type { ApiError, BackendState, ViewEvent } from './view.js';
import { nodeView, previewView, routesView } from './views.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** A preview manifest larger than this is refused (413). */
const MAX_BODY_BYTES = 1024 * 1024;
const KEEPALIVE_MS = 15_000;

export interface UiServerOptions {
  readonly model: UiModel;
  readonly topology: TopologyClient;
  /** How to dial a node's agent (the store's TLS files, as tabbyctl dials agents). */
  readonly agentTls: ClientTlsFiles;
  readonly webDir: string;
  /** Bearer token every /api request must present; none when undefined. */
  readonly token?: string;
  /** PEM certificate and key: HTTPS; with a client CA, browsers must show a certificate it signed. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa?: Buffer };
  readonly logger: Logger;
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, code: number, reason: string, message: string, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  const body: ApiError = { error: { code, reason, message } };
  sendJson(res, code, body);
}

/** Constant-time comparison of the token presented with ours (hashes first, so lengths leak nothing). */
function tokenMatches(presented: string, token: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'RequestEntityTooLarge', `the manifest is larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The HTTP server; `listen` resolves with the port bound. */
export class UiServer {
  private readonly server: Server;
  private readonly streams = new Set<ServerResponse>();
  private readonly unsubscribe: (() => void)[] = [];
  private webRoot: string | undefined;

  constructor(private readonly opts: UiServerOptions) {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => {
        if (err instanceof HttpError) return sendError(res, err.code, err.reason, err.message);
        opts.logger.error({ err, url: req.url }, 'request failed');
        if (!res.headersSent) sendError(res, 500, 'InternalError', errorLine(err));
        else res.end();
      });
    };
    const t = opts.tls;
    this.server = t
      ? createHttpsServer({ cert: t.cert, key: t.key, ...(t.clientCa ? { ca: t.clientCa, requestCert: true, rejectUnauthorized: true } : {}) }, handler)
      : createHttpServer(handler);
    this.unsubscribe.push(opts.model.onView((e) => this.broadcast('view', e)));
    this.unsubscribe.push(opts.model.onBackends((b) => this.broadcast('backends', b)));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  async close(): Promise<void> {
    for (const u of this.unsubscribe) u();
    for (const s of this.streams) s.end();
    this.streams.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private broadcast(event: 'view' | 'backends', data: ViewEvent | readonly BackendState[]): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const s of this.streams) s.write(frame);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://tabby-ui');
    const p = url.pathname;
    res.setHeader('x-content-type-options', 'nosniff');
    if (p === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('ok\n');
      return;
    }
    if (p.startsWith('/api/')) {
      if (this.opts.token !== undefined) {
        const header = req.headers.authorization ?? '';
        const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
        const presented = m?.[1] ?? url.searchParams.get('access_token') ?? '';
        if (presented === '' || !tokenMatches(presented, this.opts.token)) {
          return sendError(res, 401, 'Unauthorized', presented === '' ? 'this tabby-ui needs a token: Authorization: Bearer TOKEN' : 'wrong token', {
            'www-authenticate': 'Bearer realm="tabby-ui"',
          });
        }
      }
      return this.api(req, res, p);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'MethodNotAllowed', `${req.method ?? ''} ${p}: the page is read-only`, { allow: 'GET, HEAD' });
    return this.file(req, res, p);
  }

  private async api(req: IncomingMessage, res: ServerResponse, p: string): Promise<void> {
    const model = this.opts.model;
    if (p === '/api/v1/preview') {
      if (req.method !== 'POST') return sendError(res, 405, 'MethodNotAllowed', 'POST the manifest to /api/v1/preview', { allow: 'POST' });
      return this.preview(req, res);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'MethodNotAllowed', `${req.method ?? ''} ${p}: the API is read-only`, { allow: 'GET, HEAD' });
    if (p === '/api/v1/cluster') return sendJson(res, 200, model.cluster());
    if (p === '/api/v1/ipam') return sendJson(res, 200, model.ipam());
    if (p === '/api/v1/events') return this.events(req, res);
    const m = /^\/api\/v1\/nodes\/([^/]+)(\/routes)?$/.exec(p);
    if (m) {
      let name: string;
      try {
        name = decodeURIComponent(m[1]);
      } catch {
        return sendError(res, 400, 'BadRequest', `bad node name in ${p}`);
      }
      if (!model.knowsNode(name)) return sendError(res, 404, 'NotFound', `no node ${name}: tabbyctl get nodes lists the nodes`);
      if (!m[2]) return sendJson(res, 200, nodeView(name, model.status(name), new Date()));
      return this.routes(res, name);
    }
    return sendError(res, 404, 'NotFound', `no such API route ${p}; the routes are /api/v1/cluster, /api/v1/nodes/NAME, /api/v1/nodes/NAME/routes, /api/v1/ipam, /api/v1/events and POST /api/v1/preview`);
  }

  /** The node's Loc-RIB from its agent, found at the address its NodeStatus gives (as `tabbyctl node routes`). */
  private async routes(res: ServerResponse, name: string): Promise<void> {
    const address = this.opts.model.status(name)?.status?.agent?.address ?? '';
    if (address === '') return sendError(res, 503, 'Unavailable', `no agent address for node ${name}: is its agent running? (tabby-agent --node ${name} reports it when it starts)`);
    const client = new AgentClient(address, channelCredentials(this.opts.agentTls), { ...CLIENT_CHANNEL_OPTIONS });
    let rib: RoutesResponse;
    try {
      rib = await callUnary(client.routes.bind(client), { family: '', prefix: '' }, { timeoutMs: 5_000 });
    } catch (err) {
      return sendError(res, 502, 'Unavailable', `cannot reach the Tabby agent of ${name} at ${address}: ${errorLine(err)}`);
    } finally {
      client.close();
    }
    if (rib.node !== name) return sendError(res, 502, 'Unavailable', `the agent at ${address} runs node ${rib.node}, not ${name}`);
    sendJson(res, 200, routesView(name, rib));
  }

  private async preview(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req);
    const parsed = parseManifest(text, { source: 'manifest' });
    if (parsed.errors.length > 0) return sendError(res, 400, 'BadRequest', parsed.errors.map((e) => e.message).join('\n'));
    if (parsed.resources.length === 0) return sendError(res, 400, 'BadRequest', 'the manifest holds no resources');
    const topology = this.opts.topology;
    let out: PreviewResponse;
    try {
      out = await callUnary(topology.preview.bind(topology), { apply: parsed.resources.map((r) => r.resource), delete: [] }, { timeoutMs: 10_000 });
    } catch (err) {
      if (isGrpcError(err) && err.code === status.INVALID_ARGUMENT) return sendError(res, 400, 'BadRequest', err.details);
      this.opts.model.setBackend('topology', false, errorLine(err));
      return sendError(res, 503, 'Unavailable', `cannot preview: tabby-topology is unreachable: ${errorLine(err)}`);
    }
    sendJson(res, 200, previewView(out));
  }

  private events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // The state to start from: the page can fetch what it needs after this.
    res.write(`retry: 2000\n\nevent: backends\ndata: ${JSON.stringify(this.opts.model.backends())}\n\n`);
    this.streams.add(res);
    const keepalive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
    const done = (): void => {
      clearInterval(keepalive);
      this.streams.delete(res);
    };
    req.on('close', done);
    res.on('error', done);
  }

  /** A file of the page; `/` is index.html. Paths outside the web directory are not found. */
  private async file(req: IncomingMessage, res: ServerResponse, p: string): Promise<void> {
    this.webRoot ??= await realpath(this.opts.webDir);
    const root = this.webRoot;
    let rel: string;
    try {
      rel = decodeURIComponent(p);
    } catch {
      return sendError(res, 400, 'BadRequest', 'bad path');
    }
    if (rel.includes('\0')) return sendError(res, 400, 'BadRequest', 'bad path');
    if (rel === '/' || rel === '') rel = '/index.html';
    const wanted = path.resolve(root, `.${path.posix.normalize(rel)}`);
    let real: string;
    try {
      real = await realpath(wanted);
      if (real !== root && !real.startsWith(root + path.sep)) throw new Error('outside');
      if (!(await stat(real)).isFile()) throw new Error('not a file');
    } catch {
      return sendError(res, 404, 'NotFound', `no file ${p}`);
    }
    const body = await readFile(real);
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
