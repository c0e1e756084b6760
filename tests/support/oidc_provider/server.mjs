// A real OpenID Provider (panva/oidc-provider) for the single sign-on tests, configured by a
// JSON file the test writes (argv[2]):
//   {"accounts": {"<login>": {"email", "email_verified"}}}
// and clients registered while it runs (the gateway's redirect URI names a connection id that
// exists only once the provider answered the gateway's discovery): PUT /test/clients with
//   [{"client_id", "client_secret", "redirect_uris", "id_token_overrides"?}].
// It listens on a free loopback port and prints {"issuer": "http://127.0.0.1:<port>"} once
// ready. Sign-in is a small login form (/interaction/<uid>: any configured login, no
// password); consent is granted at once. `id_token_overrides` makes the provider misbehave
// for one client, as a broken or hostile provider would: the ID token it returns is signed
// again with its own key after setting "aud", "nonce", "iss" or shifting "exp"/"iat" by
// "shift_seconds".
import { readFileSync } from 'node:fs';
import http from 'node:http';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const clients = new Map();
const overrides = new Map();

// The provider's storage: a Map per model; clients come from the ones the test registered.
const stores = new Map();
class TestAdapter {
  constructor(model) {
    this.model = model;
    if (!stores.has(model)) stores.set(model, new Map());
    this.store = stores.get(model);
  }

  async upsert(id, payload) { this.store.set(id, payload); }

  async find(id) {
    if (this.model === 'Client') return clients.get(id);
    return this.store.get(id);
  }

  async findByUid(uid) {
    for (const payload of this.store.values()) if (payload.uid === uid) return payload;
    return undefined;
  }

  async findByUserCode() { return undefined; }

  async consume(id) {
    const payload = this.store.get(id);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { this.store.delete(id); }

  async revokeByGrantId(grantId) {
    for (const [id, payload] of this.store) if (payload.grantId === grantId) this.store.delete(id);
  }
}

async function registerClients(req, res) {
  let body = '';
  for await (const chunk of req) body += chunk;
  for (const c of JSON.parse(body)) {
    clients.set(c.client_id, {
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      token_endpoint_auth_method: c.client_secret ? 'client_secret_basic' : 'none',
      response_types: ['code'],
      grant_types: ['authorization_code'],
    });
    if (c.id_token_overrides) overrides.set(c.client_id, c.id_token_overrides);
  }
  res.statusCode = 204;
  res.end();
}

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

let provider;
const server = http.createServer((req, res) => {
  if (req.url === '/test/clients' && req.method === 'PUT') {
    registerClients(req, res);
    return;
  }
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
    return;
  }
  provider.callback()(req, res);
});

server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = new Provider(issuer, {
    adapter: TestAdapter,
    jwks: { keys: [jwk] },
    cookies: { keys: ['oidc-provider test cookie key'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const account = config.accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: account.email, email_verified: account.email_verified, name: id };
        },
      };
    },
  });
  provider.proxy = false;
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/token' || !ctx.body || !ctx.body.id_token) return;
    const change = overrides.get(ctx.oidc?.client?.clientId);
    if (change) ctx.body = { ...ctx.body, id_token: await resign(ctx.body.id_token, change) };
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

async function resign(token, change) {
  const claims = jose.decodeJwt(token);
  for (const name of ['aud', 'nonce', 'iss']) if (name in change) claims[name] = change[name];
  if (change.shift_seconds) {
    claims.exp += change.shift_seconds;
    claims.iat += change.shift_seconds;
  }
  const key = await jose.importJWK(jwk, 'RS256');
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid }).sign(key);
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    grant.addOIDCScope(params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === 'POST') {
    const form = await readForm(req);
    const login = form.get('login') || '';
    if (!config.accounts[login]) {
      res.statusCode = 400;
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><title>Unknown</title><p>No such account.</p>');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html lang="en"><title>Test identity provider</title>
<h1>Test identity provider</h1>
<form method="post" action="/interaction/${escape(uid)}">
<label for="login">Login</label> <input id="login" name="login" autocomplete="username">
<button type="submit">Sign in at the identity provider</button>
</form></html>`);
}
