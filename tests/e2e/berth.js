// Starts a real Berth (the binary cargo built) with access control, and speaks the registry
// API to fill it: blobs through POST + PUT uploads, manifests through PUT.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Test users: an admin, a user of team/*, and one who may pull only tools/cli. */
export const USERS = {
  root: 'root-pw',
  alice: 'alice-pw',
  bob: 'bob-pw',
};

// bcrypt (cost 4) of the passwords above, made with `htpasswd -nbB -C 4 USER PASSWORD`.
const HTPASSWD = [
  'root:$2y$04$aAImXje3kqzErE/pEp.2MOTVyW9Bej8WkuNG3gCKPcKRN9R6zNwh6',
  'alice:$2y$04$1I.V5n2IwaialmDHOgwyweOk0MlvjPJbiJt0MxRSK8Pts0PPkH636',
  'bob:$2y$04$3lhhhnAQqu0UaKqIlxK7AOdFEr1C3mZrjJn6Cp/XWD43FAGM96Qvm',
].join('\n');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The berth binary: $BERTH_BIN, else target/debug/berth. */
export function berthBinary() {
  const bin = process.env.BERTH_BIN || path.join(ROOT, 'target', 'debug', 'berth');
  if (!fs.existsSync(bin)) {
    throw new Error(`no berth binary at ${bin}: build it with \`cargo build -p berth\` (scripts/e2e.sh does)`);
  }
  return bin;
}

/** A running server: `base` URL, `stop()`, `log()` (its output so far). */
export async function startBerth() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-e2e-'));
  const port = await freePort();
  const htpasswd = path.join(dir, 'htpasswd');
  fs.writeFileSync(htpasswd, `${HTPASSWD}\n`);
  const config = path.join(dir, 'berth.toml');
  fs.writeFileSync(config, `# e2e: users from htpasswd, root is the admin
[gc]
interval = "0s"

[auth]
htpasswd = ${JSON.stringify(htpasswd)}

[auth.policy]
admins = { users = ["root"] }

[[auth.policy.rules]]
repositories = "demo/*"
users = ["alice"]
actions = ["pull", "push", "delete"]

[[auth.policy.rules]]
repositories = "tools/cli"
users = ["bob"]
actions = ["pull"]
`);
  const logFile = path.join(dir, 'berth.log');
  const out = fs.openSync(logFile, 'a');
  const child = spawn(berthBinary(), ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(dir, 'data'), '--config', config], {
    stdio: ['ignore', out, out],
    env: { ...process.env, BERTH_LOG: process.env.BERTH_LOG || 'info' },
  });
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const base = `http://127.0.0.1:${port}`;
  const log = () => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const deadline = Date.now() + 30000;
  for (;;) {
    if (exited) throw new Error(`berth exited at start (${JSON.stringify(exited)}):\n${log()}`);
    try {
      const response = await fetch(`${base}/livez`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`berth did not answer /livez within 30 s:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    dir,
    log,
    async stop() {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      await gone;
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

export function sha256(bytes) {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function bytesOf(value) {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value);
  return Buffer.from(JSON.stringify(value));
}

export function descriptor(mediaType, bytes, extra = {}) {
  return { mediaType, digest: sha256(bytes), size: bytes.length, ...extra };
}

/** Registry API client with Basic credentials. */
export class Registry {
  constructor(base, user, password) {
    this.base = base;
    this.auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }

  async request(method, url, { body, headers = {} } = {}) {
    const response = await fetch(new URL(url, this.base), {
      method,
      body,
      headers: { Authorization: this.auth, ...headers },
      redirect: 'manual',
    });
    return response;
  }

  async json(url) {
    const response = await this.request('GET', url, { headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
    return response.json();
  }

  /** Uploads a blob: POST to open an upload, PUT its bytes with the digest. */
  async pushBlob(repo, bytes) {
    const digest = sha256(bytes);
    const start = await this.request('POST', `/v2/${repo}/blobs/uploads/`);
    if (start.status !== 202) throw new Error(`POST upload to ${repo}: ${start.status} ${await start.text()}`);
    const location = new URL(start.headers.get('Location'), this.base);
    location.searchParams.set('digest', digest);
    const put = await this.request('PUT', location.href, {
      body: bytes,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) },
    });
    if (put.status !== 201) throw new Error(`PUT blob ${digest} to ${repo}: ${put.status} ${await put.text()}`);
    return descriptor('application/octet-stream', bytes);
  }

  /** PUTs a manifest under `reference` (a tag, or its digest); returns its descriptor. */
  async pushManifest(repo, reference, manifest, extra = {}) {
    const bytes = bytesOf(manifest);
    const mediaType = manifest.mediaType || OCI_MANIFEST;
    const ref = reference || sha256(bytes);
    const response = await this.request('PUT', `/v2/${repo}/manifests/${ref}`, {
      body: bytes,
      headers: { 'Content-Type': mediaType },
    });
    if (response.status !== 201) throw new Error(`PUT manifest ${repo}:${ref}: ${response.status} ${await response.text()}`);
    return descriptor(mediaType, bytes, extra);
  }
}
