import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type KeyObject,
  randomBytes,
} from "node:crypto";

/**
 * Envelope encryption of signing secrets, so that a table export alone reveals none.
 *
 * Each secret is sealed with AES-256-GCM under a data key; the data key is stored next to it,
 * wrapped by a key-encryption key that never leaves its keyring (KMS on AWS, a key file in
 * the local stack). The workspace and subscription ids are the additional authenticated
 * data, so a sealed secret copied onto another subscription does not open.
 *
 * Sealed form: `v1.<wrapped data key>.<iv>.<ciphertext + tag>` (base64url parts).
 */
export interface Keyring {
  /** A fresh 256-bit data key and its wrapped (storable) form. */
  generateDataKey(): Promise<{ plaintext: Buffer; wrapped: string }>;
  /** The data key a wrapped form stands for. */
  unwrap(wrapped: string): Promise<Buffer>;
}

export interface SecretSealer {
  seal(plaintext: string, context: string): Promise<string>;
}

export interface SecretOpener {
  open(sealed: string, context: string): Promise<string>;
}

export class SecretError extends Error {}

/** How long one data key seals new secrets before the next is generated. */
const DATA_KEY_REUSE_MS = 15 * 60 * 1000;
/** Unwrapped data keys kept in memory (each costs a KMS call to get back). */
const UNWRAPPED_CACHE = 500;
/** Opened secrets kept in memory (each costs an AES-GCM decryption to get back). */
const OPENED_CACHE = 1000;

export class SecretBox implements SecretSealer, SecretOpener {
  readonly #keyring: Keyring;
  readonly #now: () => number;
  /** The data key new secrets are sealed with, while it is in use (a promise: concurrent seals share it). */
  #current: { key: Promise<{ key: KeyObject; wrapped: string }>; until: number } | undefined;
  /**
   * Data keys as KeyObjects: the key bytes live outside the JS heap, and Node 24 prepares a
   * KeyObject for AES-GCM several times faster than a Buffer (see BENCHMARKS.md).
   */
  readonly #unwrapped = new Map<string, Promise<KeyObject>>();
  /** Opened secrets by context and sealed form (only ever filled by a successful open). */
  readonly #opened = new Map<string, string>();

  constructor(keyring: Keyring, now: () => number = Date.now) {
    this.#keyring = keyring;
    this.#now = now;
  }

  async seal(plaintext: string, context: string): Promise<string> {
    const key = await this.#dataKey();
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key.key, iv).setAAD(Buffer.from(context));
    const sealed = Buffer.concat([
      cipher.update(plaintext, "utf8"),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return ["v1", key.wrapped, iv.toString("base64url"), sealed.toString("base64url")].join(".");
  }

  async open(sealed: string, context: string): Promise<string> {
    // A secret opened once stays open while in use: every delivery to a subscription opens
    // the same sealed value, and the data key that opens it is kept in memory anyway.
    const cacheKey = `${context}\n${sealed}`;
    const cached = this.#opened.get(cacheKey);
    if (cached !== undefined) return cached;
    const plaintext = await this.#open(sealed, context);
    if (this.#opened.size >= OPENED_CACHE) {
      const oldest = this.#opened.keys().next().value;
      if (oldest !== undefined) this.#opened.delete(oldest);
    }
    this.#opened.set(cacheKey, plaintext);
    return plaintext;
  }

  async #open(sealed: string, context: string): Promise<string> {
    const [version, wrapped, iv, body] = sealed.split(".");
    if (version !== "v1" || !wrapped || !iv || !body) throw new SecretError("not a sealed secret");
    const key = await this.#unwrap(wrapped);
    const bytes = Buffer.from(body, "base64url");
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"))
        .setAAD(Buffer.from(context))
        .setAuthTag(bytes.subarray(bytes.length - 16));
      return Buffer.concat([
        decipher.update(bytes.subarray(0, bytes.length - 16)),
        decipher.final(),
      ]).toString("utf8");
    } catch (error) {
      throw new SecretError("a sealed secret did not open (wrong key or wrong subscription)", {
        cause: error,
      });
    }
  }

  #dataKey(): Promise<{ key: KeyObject; wrapped: string }> {
    if (!this.#current || this.#current.until <= this.#now()) {
      const key = this.#keyring.generateDataKey().then(({ plaintext, wrapped }) => {
        const generated = { key: toKeyObject(plaintext), wrapped };
        this.#unwrapped.set(wrapped, Promise.resolve(generated.key));
        return generated;
      });
      const current = { key, until: this.#now() + DATA_KEY_REUSE_MS };
      // A failed request (KMS throttled, say) must not be reused.
      key.catch(() => {
        if (this.#current === current) this.#current = undefined;
      });
      this.#current = current;
    }
    return this.#current.key;
  }

  #unwrap(wrapped: string): Promise<KeyObject> {
    let key = this.#unwrapped.get(wrapped);
    if (!key) {
      if (this.#unwrapped.size >= UNWRAPPED_CACHE) {
        const oldest = this.#unwrapped.keys().next().value;
        if (oldest !== undefined) this.#unwrapped.delete(oldest);
      }
      key = this.#keyring.unwrap(wrapped).then(toKeyObject);
      // A failed unwrap (KMS throttled, say) must not stay cached.
      key.catch(() => this.#unwrapped.delete(wrapped));
      this.#unwrapped.set(wrapped, key);
    }
    return key;
  }
}

/**
 * The local stack's keyring: the key-encryption key is 32 random bytes in a file of the data
 * directory (mode 0600), and data keys are wrapped with AES-256-GCM under it.
 */
export class FileKeyring implements Keyring {
  readonly #kek: KeyObject;

  constructor(kek: Buffer) {
    if (kek.length !== 32) throw new SecretError("the secret key file must hold 32 bytes (base64)");
    this.#kek = createSecretKey(kek);
  }

  async generateDataKey() {
    const plaintext = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#kek, iv);
    const wrapped = Buffer.concat([
      iv,
      cipher.update(plaintext),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return { plaintext, wrapped: `file~${wrapped.toString("base64url")}` };
  }

  async unwrap(wrapped: string): Promise<Buffer> {
    if (!wrapped.startsWith("file~")) {
      throw new SecretError(
        "this secret was sealed by another keyring (KMS), not the local key file",
      );
    }
    const bytes = Buffer.from(wrapped.slice(5), "base64url");
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#kek, bytes.subarray(0, 12)).setAuthTag(
        bytes.subarray(bytes.length - 16),
      );
      return Buffer.concat([
        decipher.update(bytes.subarray(12, bytes.length - 16)),
        decipher.final(),
      ]);
    } catch (error) {
      throw new SecretError("a data key did not unwrap: the key file changed since it was sealed", {
        cause: error,
      });
    }
  }
}

/** The key as a KeyObject; the plaintext buffer is wiped. */
function toKeyObject(plaintext: Buffer): KeyObject {
  const key = createSecretKey(plaintext);
  plaintext.fill(0);
  return key;
}

/** Generates a key file's contents: 32 random bytes, base64. */
export const newKeyFileContents = (): string => `${randomBytes(32).toString("base64")}\n`;
