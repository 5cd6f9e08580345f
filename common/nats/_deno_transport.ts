/**
 * A nats.js transport over Deno's own sockets (`Deno.connect`,
 * `Deno.startTls`, `Deno.connectTls`) instead of the Node compat `net`/`tls`
 * sockets of `@nats-io/transport-node`: fewer layers per write and read
 * (no stream machinery, no per-write callback), and frames written back to
 * back are sent in one write. {@linkcode connectDeno} connects with it.
 *
 * TLS: the server's certificate is checked against `tls.ca` (PEM text) or
 * the system roots, for the server's name. A client certificate
 * (`tls.cert` + `tls.key`) needs the TLS handshake first (`handshakeFirst`):
 * Deno cannot present one when upgrading a connection after the server's
 * INFO; {@linkcode canUseDenoTransport} says when the options need the Node
 * transport instead. Host names are resolved by `Deno.connect` (one address
 * per server), not expanded by nats.js into a shuffled list of addresses.
 *
 * @module
 */

import {
  checkOptions,
  type ConnectionOptions,
  type Deferred,
  deferred,
  errors,
  extractProtocolMessage,
  INFO,
  type NatsConnection,
  NatsConnectionImpl,
  type Server,
  type ServerInfo,
  setTransportFactory,
  type Transport,
} from "@nats-io/nats-core/internal";

/** Bytes of each read buffer; reads fill it front to back, never reusing bytes handed out. */
const READ_CHUNK = 256 * 1024;
/** Below this much room left in the read buffer, the next read gets a fresh one. */
const READ_MIN = 16 * 1024;
/** Bytes of each of the two write buffers to begin with; they grow to the largest burst. */
const WRITE_CHUNK = 64 * 1024;

/** Whether {@linkcode DenoTransport} can make connections with these options (see the module documentation). */
export function canUseDenoTransport(options: ConnectionOptions): boolean {
  const tls = options.tls;
  if (!tls || tls.handshakeFirst === true) return true;
  return tls.cert === undefined && tls.key === undefined &&
    tls.certFile === undefined && tls.keyFile === undefined;
}

/**
 * Connects with nats.js over {@linkcode DenoTransport} (`options` as for
 * transport-node's `connect`). The transport is nats.js's process-wide
 * setting: later reconnects of every connection use the transport of the
 * last connect.
 *
 * @throws {RangeError} when {@linkcode canUseDenoTransport} says no.
 */
export function connectDeno(
  options: ConnectionOptions,
): Promise<NatsConnection> {
  if (!canUseDenoTransport(options)) {
    throw new RangeError(
      "Invalid TLS options for the Deno transport: a client certificate needs handshakeFirst",
    );
  }
  setTransportFactory({ factory: () => new DenoTransport() });
  return NatsConnectionImpl.connect(options);
}

/** One connection to one server, as nats.js's protocol drives it; see the module documentation. */
export class DenoTransport implements Transport {
  /** Client language, in the CONNECT. */
  readonly lang = "nats.js";
  /** Client version, in the CONNECT. */
  readonly version = "3.4.0-deno";
  /** Why the connection ended, when it failed. */
  closeError?: Error;
  #conn: Deno.TcpConn | Deno.TlsConn | undefined;
  #options: ConnectionOptions = {};
  #encrypted = false;
  #done = false;
  #closed: Deferred<void | Error> = deferred();
  /** Read ahead of the INFO line: handed to the parser first. */
  #early: Uint8Array | undefined;
  #readBuffer = new Uint8Array(READ_CHUNK);
  #readAt = 0;
  /** Bytes waiting for the write in progress (copied in: callers may reuse their frames). */
  #pending = new Uint8Array(WRITE_CHUNK);
  #pendingBytes = 0;
  /** The buffer being written, reused for the next pending bytes. */
  #spare = new Uint8Array(WRITE_CHUNK);
  #writing: Promise<void> | undefined;

  /** Closed for good. */
  get isClosed(): boolean {
    return this.#done;
  }

  /** Dials `server`, reads its INFO and upgrades to TLS when asked or required. */
  async connect(server: Server, options: ConnectionOptions): Promise<void> {
    this.#options = options;
    const tls = options.tls;
    const name = server.tlsName || server.hostname;
    try {
      if (tls?.handshakeFirst === true) {
        this.#conn = await this.#connectTlsFirst(server, name);
      } else {
        this.#conn = await this.#dial(server);
      }
      if (this.#done) throw new Error("closed while connecting");
      const info = await this.#readInfo();
      checkOptions(info, options);
      const wanted = info.tls_available === true && tls !== null;
      if (tls?.handshakeFirst !== true && (info.tls_required || wanted)) {
        this.#conn = await Deno.startTls(this.#conn as Deno.TcpConn, {
          hostname: name,
          caCerts: tls?.ca ? [tls.ca] : undefined,
        });
        // the handshake runs (and a bad certificate fails) on first use
        await this.#conn.write(new Uint8Array(0));
        this.#encrypted = true;
      }
      if (this.#done) throw new Error("closed while connecting");
    } catch (error) {
      this.#closeConn();
      if (error instanceof errors.ConnectionError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new errors.ConnectionError(
        error instanceof Deno.errors.ConnectionRefused
          ? "connection refused"
          : message,
        { cause: error },
      );
    }
  }

  /**
   * TLS from the first byte: over a `Deno.connect` socket (no delay, the
   * certificate checked for `name`), or with a client certificate over
   * `Deno.connectTls` (checked for the dialled host name).
   */
  async #connectTlsFirst(server: Server, name: string): Promise<Deno.TlsConn> {
    const tls = this.#options.tls!;
    const caCerts = tls.ca ? [tls.ca] : undefined;
    const cert = tls.cert ??
      (tls.certFile ? await Deno.readTextFile(tls.certFile) : undefined);
    const key = tls.key ??
      (tls.keyFile ? await Deno.readTextFile(tls.keyFile) : undefined);
    this.#encrypted = true;
    if (cert !== undefined && key !== undefined) {
      // connectTls checks the name it dials: for a server nats.js learned by
      // address with the name to check beside it (tlsName), it dials that
      // name, so the certificate is checked for the right one.
      const hostname = name;
      return await Deno.connectTls({
        hostname,
        port: server.port,
        caCerts,
        cert,
        key,
      });
    }
    return await Deno.startTls(await this.#dial(server), {
      hostname: name,
      caCerts,
    });
  }

  async #dial(server: Server): Promise<Deno.TcpConn> {
    const tcp = await Deno.connect({
      hostname: server.hostname,
      port: server.port,
    });
    tcp.setNoDelay(true);
    return tcp;
  }

  /** Reads until the server's INFO line is complete; keeps what was read for the parser. */
  async #readInfo(): Promise<ServerInfo> {
    let read = new Uint8Array(0);
    while (true) {
      const buffer = new Uint8Array(4096);
      const n = await this.#conn!.read(buffer);
      if (n === null) {
        throw new Error("connection closed before the server's INFO");
      }
      const joined = new Uint8Array(read.length + n);
      joined.set(read);
      joined.set(buffer.subarray(0, n), read.length);
      read = joined;
      const line = extractProtocolMessage(read);
      if (line === "") continue;
      this.#early = read;
      const match = INFO.exec(line);
      if (!match) throw new Error("unexpected response from server");
      return JSON.parse(match[1]) as ServerInfo;
    }
  }

  /** The bytes from the server, as they arrive, until the connection ends. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this.#iterate();
  }

  async *#iterate(): AsyncIterableIterator<Uint8Array> {
    if (this.#early !== undefined) {
      const early = this.#early;
      this.#early = undefined;
      yield early;
    }
    let reason: Error | undefined;
    while (!this.#done) {
      if (this.#readBuffer.length - this.#readAt < READ_MIN) {
        this.#readBuffer = new Uint8Array(READ_CHUNK);
        this.#readAt = 0;
      }
      const from = this.#readAt;
      let n: number | null;
      try {
        n = await this.#conn!.read(this.#readBuffer.subarray(from));
      } catch (error) {
        reason = error instanceof Error ? error : new Error(String(error));
        break;
      }
      if (n === null) break;
      this.#readAt = from + n;
      yield this.#readBuffer.subarray(from, from + n);
    }
    this.#end(reason, true);
  }

  /** Whether the connection is TLS. */
  isEncrypted(): boolean {
    return this.#encrypted;
  }

  /**
   * Copies `frame` to the bytes to write, and starts writing when no write
   * is in progress: frames sent during a write go out together in the next.
   * The caller may reuse `frame` as soon as this returns; the promise
   * settles once it reached the socket (or the connection is gone). The two write
   * buffers are reused (fresh buffers of a burst's size cost far more than
   * the copy: zeroed memory, page faults, GC).
   */
  send(frame: Uint8Array): Promise<void> | undefined {
    if (this.#done || frame.length === 0) return undefined;
    const at = this.#pendingBytes;
    if (at + frame.length > this.#pending.length) {
      const bigger = new Uint8Array(
        Math.max(this.#pending.length * 2, at + frame.length),
      );
      bigger.set(this.#pending.subarray(0, at));
      this.#pending = bigger;
    }
    this.#pending.set(frame, at);
    this.#pendingBytes = at + frame.length;
    return this.#writing ??= this.#write();
  }

  async #write(): Promise<void> {
    try {
      while (this.#pendingBytes > 0 && this.#conn !== undefined) {
        const bytes = this.#pending;
        const length = this.#pendingBytes;
        this.#pending = this.#spare;
        this.#pendingBytes = 0;
        for (let at = 0; at < length;) {
          at += await this.#conn.write(bytes.subarray(at, length));
        }
        this.#spare = bytes;
      }
    } catch (error) {
      // as the reads: the connection is gone (the read loop ends it)
      this.#pendingBytes = 0;
      this.closeError ??= error instanceof Error ? error : undefined;
      this.#closeConn();
    } finally {
      this.#writing = undefined;
    }
  }

  /** Closes the connection (nats.js closes it for good or gave up on a dial); does not report a disconnect. */
  close(error?: Error): Promise<void> {
    this.#end(error, false);
    return Promise.resolve();
  }

  /** Writes what is queued, closes, and reports the disconnect (nats.js reconnects). */
  disconnect(): void {
    if (this.#done) return;
    const writing = this.#writing ?? Promise.resolve();
    writing.finally(() => this.#end(undefined, true));
  }

  /** Resolves when the connection ended on its own or by {@linkcode disconnect}, with the error if any. */
  closed(): Promise<void | Error> {
    return this.#closed;
  }

  /** Drops the connection without a word (nats.js replaced this transport). */
  discard(): void {
    this.#done = true;
    this.#closeConn();
  }

  #end(error: Error | undefined, report: boolean): void {
    if (this.#done) {
      this.#closeConn();
      return;
    }
    this.#done = true;
    this.closeError ??= error;
    this.#closeConn();
    if (report) this.#closed.resolve(this.closeError);
  }

  #closeConn(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    try {
      conn?.close();
    } catch {
      // closed already
    }
  }
}
