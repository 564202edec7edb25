// Connector secrets at rest (credentials, webhook secrets): AES-256-GCM with a random 96-bit nonce per value and the
// value's owner (connector id + purpose) as additional authenticated data, so a sealed value copied onto another
// connector or purpose does not open. Format: `v1.<nonce>.<tag>.<ciphertext>` (base64url). The key comes from
// configuration (CONNECTOR_SECRET_KEY, 32 bytes as base64 or hex); the embedded default generates one under .data/.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const VERSION = "v1";

export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("CONNECTOR_SECRET_KEY must be 32 bytes (base64 or hex)");
    this.key = key;
  }

  /** Parses a configured key: 64 hex characters or base64 of 32 bytes. */
  static fromConfig(value: string): SecretBox {
    const key = /^[0-9a-f]{64}$/i.test(value) ? Buffer.from(value, "hex") : Buffer.from(value, "base64");
    return new SecretBox(key);
  }

  /** The embedded default's key: read from `path`, or generated there (mode 0600) on first start. */
  static fromFile(path: string): SecretBox {
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, randomBytes(32).toString("base64") + "\n", { mode: 0o600, flag: "wx" });
    }
    return SecretBox.fromConfig(readFileSync(path, "utf8").trim());
  }

  static random(): SecretBox {
    return new SecretBox(randomBytes(32));
  }

  seal(plain: string, owner: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce);
    cipher.setAAD(Buffer.from(owner));
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return [VERSION, nonce.toString("base64url"), cipher.getAuthTag().toString("base64url"), body.toString("base64url")].join(".");
  }

  /** Throws if the value was tampered with, belongs to another owner, or was sealed with another key. */
  open(sealed: string, owner: string): string {
    const [version, nonce, tag, body] = sealed.split(".");
    if (version !== VERSION || !nonce || !tag || body === undefined) throw new Error("not a sealed secret");
    const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(nonce, "base64url"));
    decipher.setAAD(Buffer.from(owner));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString("utf8");
  }
}
