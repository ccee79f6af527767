import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * A throwaway JWT issuer for one test run, made with node:crypto alone: an RSA key pair whose
 * public half is written as a JSON Web Key Set (what the Temporal server's default token key
 * provider reads, `global.authorization.jwtKeyProvider.keySourceURIs`), and RS256 tokens signed
 * with the private half, which never leaves this process.
 */
export interface JwtIssuer {
  /** The JWKS file holding the public key, under `kid`. */
  jwksFile: string;
  kid: string;
  /** An RS256 JWT with the given claims, `iat` and, unless given, `exp` an hour ahead. */
  token(claims: Record<string, unknown>): string;
}

/** The issuer's key pair, its JWKS (written to `jwksFile` unless null) and a token signer. */
export function makeJwtIssuer(jwksFile: string | null, kid = 'stream-uploader-test'): JwtIssuer {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  if (jwksFile) {
    fs.mkdirSync(path.dirname(jwksFile), { recursive: true });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
    fs.writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  }
  return { jwksFile: jwksFile ?? '', kid, token: (claims) => signRs256(privateKey, kid, claims) };
}

function signRs256(privateKey: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const signed = `${encode({ alg: 'RS256', typ: 'JWT', kid })}.${encode({ iat: now, exp: now + 3600, ...claims })}`;
  // RS256: RSASSA-PKCS1-v1_5 with SHA-256, node's default padding for an RSA key.
  const signature = sign('sha256', Buffer.from(signed), privateKey);
  return `${signed}.${signature.toString('base64url')}`;
}
