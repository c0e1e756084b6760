// A product backend in Node.js that trusts nothing but the gateway's X-Identity-Assertion.
// Stock libraries only: `jose` verifies the ES256 JWT with the gateway's live JWKS.
//
//   node server.mjs PORT JWKS_URL ISSUER AUDIENCE
//
// Every path answers 200 {ok, claims, token} for a valid assertion, else 401 {ok:false, error}.
// GET /__thumbprints lists each published kid next to jose's RFC 7638 thumbprint of that key.
import http from 'node:http';
import { calculateJwkThumbprint, createRemoteJWKSet, jwtVerify } from 'jose';

const [port, jwksUrl, issuer, audience] = process.argv.slice(2);
const jwks = createRemoteJWKSet(new URL(jwksUrl)); // cached; refetched on an unknown kid
const seen = new Map(); // jti -> exp: an assertion is good for one request only

class Refused extends Error {
  constructor(code) {
    super(code);
    this.code = code;
  }
}

async function verify(req) {
  const token = req.headers['x-identity-assertion'];
  if (!token) throw new Refused('ERR_MISSING_ASSERTION');
  const { payload } = await jwtVerify(token, jwks, {
    algorithms: ['ES256'], // never "none", never HS256 keyed with the public key
    issuer,
    audience,
    clockTolerance: 5,
    maxTokenAge: 60,
    requiredClaims: ['sub', 'iat', 'exp', 'jti', 'htm', 'htp'],
  });
  const path = new URL(req.url, 'http://backend').pathname;
  if (payload.htm !== req.method || payload.htp !== path) throw new Refused('ERR_OTHER_REQUEST');
  const now = Date.now() / 1000;
  for (const [jti, exp] of seen) if (exp + 5 < now) seen.delete(jti);
  if (seen.has(payload.jti)) throw new Refused('ERR_REPLAYED');
  seen.set(payload.jti, payload.exp);
  return { payload, token };
}

function send(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

http
  .createServer(async (req, res) => {
    try {
      if (req.url === '/__thumbprints') {
        const set = await (await fetch(jwksUrl)).json();
        const rows = await Promise.all(
          set.keys.map(async (jwk) => ({ kid: jwk.kid, thumbprint: await calculateJwkThumbprint(jwk) })),
        );
        return send(res, 200, rows);
      }
      const { payload, token } = await verify(req);
      send(res, 200, { ok: true, claims: payload, token });
    } catch (error) {
      send(res, 401, { ok: false, error: error.code || error.name });
    }
  })
  .listen(Number(port), '127.0.0.1', () => console.log(`node verifier on ${port}`));
