/**
 * The live page over plain HTTP: its static files (and uPlot, served from node_modules as
 * published), `info.json`, the token gate for pages, and strict security headers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { checkPage, LIVE_PROTOCOL, PAGE_REALM, type GateConfig, type RejectReason } from './gate.js';

export type Assets = Map<string, { body: Buffer; type: string }>;

const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

// 'self' matches same-host ws: under CSP3. No inline script or style anywhere on the page.
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** The static folder sits beside this file in the source tree; from dist/ it is the shipped copy. */
function staticDir(): string {
  const here = new URL('./static/', import.meta.url);
  if (existsSync(fileURLToPath(new URL('index.html', here)))) return fileURLToPath(here);
  return fileURLToPath(new URL('../../../shared/live/static/', import.meta.url));
}

export function loadAssets(): Assets {
  const dir = staticDir();
  const assets: Assets = new Map();
  for (const [path, { file, type }] of Object.entries(STATIC_FILES)) assets.set(path, { body: readFileSync(dir + file), type });
  // uPlot is served from node_modules as published: no copy to keep in sync, no build step.
  const require = createRequire(import.meta.url);
  assets.set('/uplot.js', { body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')), type: 'text/javascript; charset=utf-8' });
  assets.set('/uplot.css', { body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')), type: 'text/css; charset=utf-8' });
  return assets;
}

/** Answers one page request; `onRejected` counts a request the token gate refused. */
export function servePage(
  req: IncomingMessage,
  res: ServerResponse,
  assets: Assets,
  gateConfig: GateConfig,
  tokenRequired: boolean,
  onRejected: (reason: RejectReason) => void,
): void {
  const headers = { ...SECURITY_HEADERS };
  const page = checkPage(req, gateConfig);
  if (!page.ok) {
    if (page.reason === 'host') {
      res.writeHead(403, { ...headers, 'Content-Type': 'text/plain' }).end('host not allowed\n');
      return;
    }
    onRejected(page.reason);
    res
      .writeHead(401, { ...headers, 'Content-Type': 'text/plain', 'WWW-Authenticate': `Basic realm="${PAGE_REALM}", charset="UTF-8"` })
      .end('the live page needs the token (as the password)\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end();
    return;
  }
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (path === '/info.json') {
    // Tells the page whether to ask for a token; says nothing else about the server.
    const body = JSON.stringify({ tokenRequired: tokenRequired, protocol: LIVE_PROTOCOL });
    res.writeHead(200, { ...headers, 'Content-Type': 'application/json' }).end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === '/favicon.ico') {
    res.writeHead(204, headers).end();
    return;
  }
  const asset = assets.get(path);
  if (!asset) {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n');
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Type': asset.type, 'Content-Length': asset.body.length });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
