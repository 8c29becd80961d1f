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
 * the local stack). Data keys belong to one workspace: the keyring binds each to the
 * encryption context `{service, workspace}`, so CloudTrail names the workspace of every KMS
 * decrypt and a key policy can scope by it. The workspace and subscription ids are the
 * additional authenticated data of the secret itself, so a sealed secret copied onto another
 * subscription does not open.
 *
 * Sealed form: `v2.<wrapped data key>.<iv>.<ciphertext + tag>` (base64url parts). `v1`, from
 * before data keys were bound to a workspace, is refused: nothing was deployed with it.
 */
export interface Keyring {
  /** A fresh 256-bit data key, bound to `context`, and its wrapped (storable) form. */
  generateDataKey(context: EncryptionContext): Promise<{ plaintext: Buffer; wrapped: string }>;
  /** The data key a wrapped form stands for; only with the context it was bound to. */
  unwrap(wrapped: string, context: EncryptionContext): Promise<Buffer>;
}

/** KMS's encryption context: non-secret pairs a wrapped data key is bound to. */
export type EncryptionContext = Readonly<Record<string, string>>;

export const ENCRYPTION_SERVICE = "customermates-webhooks";

/** The encryption context of a workspace's data keys. */
export const encryptionContext = (workspaceId: string): EncryptionContext => ({
  service: ENCRYPTION_SERVICE,
  workspace: workspaceId,
});

/** What a subscription's secret is sealed for. */
export interface SecretContext {
  workspaceId: string;
  subscriptionId: string;
}

export interface SecretSealer {
  seal(plaintext: string, context: SecretContext): Promise<string>;
}

export interface SecretOpener {
  open(sealed: string, context: SecretContext): Promise<string>;
}

export class SecretError extends Error {}

const VERSION = "v2";
/** AES-GCM's full tag. Node accepts shorter tags unless told the length, and checks only those. */
const TAG_BYTES = 16;
const IV_BYTES = 12;
const KEY_BYTES = 32;

/** How long one data key seals new secrets before the next is generated. */
const DATA_KEY_REUSE_MS = 15 * 60 * 1000;
/** Unwrapped data keys kept in memory (each costs a KMS call to get back). */
const UNWRAPPED_CACHE = 500;
/** Opened secrets kept in memory (each costs an AES-GCM decryption to get back). */
const OPENED_CACHE = 1000;
/** Workspaces whose current data key is kept for sealing (each costs a KMS call to replace). */
const SEALING_KEYS = 500;

/** The additional authenticated data of a secret: its workspace and subscription. */
const aad = (context: SecretContext) =>
  Buffer.from(`${context.workspaceId}/${context.subscriptionId}`);

export class SecretBox implements SecretSealer, SecretOpener {
  readonly #keyring: Keyring;
  readonly #now: () => number;
  /**
   * Per workspace, the data key its new secrets are sealed with while it is in use (a promise:
   * concurrent seals share it).
   */
  readonly #current = new Map<
    string,
    { key: Promise<{ key: KeyObject; wrapped: string }>; until: number }
  >();
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

  async seal(plaintext: string, context: SecretContext): Promise<string> {
    const key = await this.#dataKey(context.workspaceId);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(context));
    const sealed = Buffer.concat([
      cipher.update(plaintext, "utf8"),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return [VERSION, key.wrapped, iv.toString("base64url"), sealed.toString("base64url")].join(".");
  }

  async open(sealed: string, context: SecretContext): Promise<string> {
    // A secret opened once stays open while in use: every delivery to a subscription opens
    // the same sealed value, and the data key that opens it is kept in memory anyway.
    const cacheKey = `${context.workspaceId}/${context.subscriptionId}\n${sealed}`;
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

  async #open(sealed: string, context: SecretContext): Promise<string> {
    const [version, wrapped, iv, body] = sealed.split(".");
    if (version === "v1") {
      throw new SecretError(
        "this secret was sealed before data keys were bound to their workspace; set it again",
      );
    }
    if (version !== VERSION || !wrapped || !iv || !body) {
      throw new SecretError("not a sealed secret");
    }
    const nonce = Buffer.from(iv, "base64url");
    const bytes = Buffer.from(body, "base64url");
    if (nonce.length !== IV_BYTES || bytes.length < TAG_BYTES) {
      throw new SecretError("a sealed secret is cut short (wrong IV or tag length)");
    }
    const key = await this.#unwrap(wrapped, context.workspaceId);
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES })
        .setAAD(aad(context))
        .setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]).toString("utf8");
    } catch (error) {
      throw new SecretError("a sealed secret did not open (wrong key or wrong subscription)", {
        cause: error,
      });
    }
  }

  #dataKey(workspaceId: string): Promise<{ key: KeyObject; wrapped: string }> {
    let current = this.#current.get(workspaceId);
    if (!current || current.until <= this.#now()) {
      const key = this.#keyring
        .generateDataKey(encryptionContext(workspaceId))
        .then(({ plaintext, wrapped }) => {
          const generated = { key: toKeyObject(plaintext), wrapped };
          this.#unwrapped.set(`${workspaceId}\n${wrapped}`, Promise.resolve(generated.key));
          return generated;
        });
      const fresh = { key, until: this.#now() + DATA_KEY_REUSE_MS };
      // A failed request (KMS throttled, say) must not be reused.
      key.catch(() => {
        if (this.#current.get(workspaceId) === fresh) this.#current.delete(workspaceId);
      });
      this.#current.delete(workspaceId);
      if (this.#current.size >= SEALING_KEYS) {
        const oldest = this.#current.keys().next().value;
        if (oldest !== undefined) this.#current.delete(oldest);
      }
      this.#current.set(workspaceId, fresh);
      current = fresh;
    }
    return current.key;
  }

  /** Cached per workspace and wrapped form: a data key opens only its own workspace's secrets. */
  #unwrap(wrapped: string, workspaceId: string): Promise<KeyObject> {
    const cacheKey = `${workspaceId}\n${wrapped}`;
    let key = this.#unwrapped.get(cacheKey);
    if (!key) {
      if (this.#unwrapped.size >= UNWRAPPED_CACHE) {
        const oldest = this.#unwrapped.keys().next().value;
        if (oldest !== undefined) this.#unwrapped.delete(oldest);
      }
      key = this.#keyring.unwrap(wrapped, encryptionContext(workspaceId)).then(toKeyObject);
      // A failed unwrap (KMS throttled, say) must not stay cached.
      key.catch(() => this.#unwrapped.delete(cacheKey));
      this.#unwrapped.set(cacheKey, key);
    }
    return key;
  }
}

/**
 * The local stack's keyring: the key-encryption key is 32 random bytes in a file of the data
 * directory (mode 0600), and data keys are wrapped with AES-256-GCM under it, with the
 * encryption context as additional authenticated data: bound to their workspace as KMS binds
 * them, so the local stack runs the same code path.
 */
export class FileKeyring implements Keyring {
  readonly #kek: KeyObject;

  constructor(kek: Buffer) {
    if (kek.length !== KEY_BYTES) {
      throw new SecretError("the secret key file must hold 32 bytes (base64)");
    }
    this.#kek = createSecretKey(kek);
  }

  async generateDataKey(context: EncryptionContext) {
    const plaintext = randomBytes(KEY_BYTES);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#kek, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(contextBytes(context));
    const wrapped = Buffer.concat([
      iv,
      cipher.update(plaintext),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return { plaintext, wrapped: `file~${wrapped.toString("base64url")}` };
  }

  async unwrap(wrapped: string, context: EncryptionContext): Promise<Buffer> {
    if (!wrapped.startsWith("file~")) {
      throw new SecretError(
        "this secret was sealed by another keyring (KMS), not the local key file",
      );
    }
    const bytes = Buffer.from(wrapped.slice(5), "base64url");
    if (bytes.length !== IV_BYTES + KEY_BYTES + TAG_BYTES) {
      throw new SecretError("a wrapped data key has the wrong length");
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#kek, bytes.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      })
        .setAAD(contextBytes(context))
        .setAuthTag(bytes.subarray(IV_BYTES + KEY_BYTES));
      return Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES, IV_BYTES + KEY_BYTES)),
        decipher.final(),
      ]);
    } catch (error) {
      throw new SecretError(
        "a data key did not unwrap: the key file changed since it was sealed, or the key belongs to another workspace",
        { cause: error },
      );
    }
  }
}

/** An encryption context as bytes, independent of the order its pairs were written in. */
const contextBytes = (context: EncryptionContext): Buffer =>
  Buffer.from(JSON.stringify(Object.entries(context).sort(([a], [b]) => (a < b ? -1 : 1))));

/** The key as a KeyObject; the plaintext buffer is wiped. */
function toKeyObject(plaintext: Buffer): KeyObject {
  const key = createSecretKey(plaintext);
  plaintext.fill(0);
  return key;
}

/** Generates a key file's contents: 32 random bytes, base64. */
export const newKeyFileContents = (): string => `${randomBytes(32).toString("base64")}\n`;
