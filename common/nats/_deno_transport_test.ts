// The Deno-socket transport against real servers: plain TCP with a
// reconnect after a restart, TLS upgraded after the server's INFO (with the
// CA, and refused with another CA), and TLS from the first byte with a
// client certificate the server verifies. Certificates come from openssl.

import assert from "node:assert/strict";
import { join } from "node:path";
import { errors, type NatsConnection } from "@nats-io/nats-core";
import {
  gatedTest,
  HARNESS_PERMISSIONS,
  OWN_SERVER_REASON,
} from "../../tests/_permissions.ts";
import { startNatsServer } from "../../tests/nats_server.ts";
import {
  canUseDenoTransport,
  connectDeno,
  DenoTransport,
} from "./_deno_transport.ts";

const PERMISSIONS = [...HARNESS_PERMISSIONS, { name: "run" as const }];

/** Publishes on a fresh subject and waits for it on the same connection. */
async function roundTrip(nc: NatsConnection): Promise<void> {
  const subject = `rt.${crypto.randomUUID()}`;
  const sub = nc.subscribe(subject, { max: 1 });
  nc.publish(subject, "ping");
  for await (const msg of sub) assert.equal(msg.string(), "ping");
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`. */
async function makeCertificates(dir: string): Promise<void> {
  const subject = (cn: string) => ["-subj", `/CN=${cn}`];
  const newKey = ["-newkey", "rsa:2048", "-nodes"];
  for (const ca of ["ca", "other-ca"]) {
    await openssl(
      dir,
      "req",
      "-x509",
      ...newKey,
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.pem`,
      "-days",
      "1",
      ...subject(ca),
    );
  }
  await Deno.writeTextFile(
    join(dir, "server.ext"),
    "subjectAltName=IP:127.0.0.1\n",
  );
  await Deno.writeTextFile(
    join(dir, "client.ext"),
    "extendedKeyUsage=clientAuth\n",
  );
  for (const name of ["server", "client"]) {
    await openssl(
      dir,
      "req",
      ...newKey,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      ...subject(name),
    );
    await openssl(
      dir,
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    );
  }
}

gatedTest({
  name:
    "DenoTransport: plain TCP: messages go both ways; the connection comes back after the server restarts",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await startNatsServer({ jetstream: false });
    const nc = await connectDeno({
      servers: server.url,
      reconnectTimeWait: 50,
      maxReconnectAttempts: -1,
    });
    try {
      assert.equal(nc.isClosed(), false);
      await roundTrip(nc);
      const statuses = nc.status();
      await server.restart();
      for await (const status of statuses) {
        if (status.type === "reconnect") break;
      }
      await roundTrip(nc);
    } finally {
      await nc.close();
    }
  },
});

gatedTest({
  name:
    "DenoTransport: TLS after INFO: checked against the CA, encrypted; a server the CA did not sign is refused",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "marketbus-tls-" });
    try {
      await makeCertificates(dir);
      await using server = await startNatsServer({
        jetstream: false,
        config: {
          tls: {
            cert_file: join(dir, "server.pem"),
            key_file: join(dir, "server.key"),
          },
        },
      });
      const ca = await Deno.readTextFile(join(dir, "ca.pem"));
      const nc = await connectDeno({ servers: server.url, tls: { ca } });
      try {
        await roundTrip(nc);
        assert.equal(nc.info?.tls_required, true);
      } finally {
        await nc.close();
      }
      const other = await Deno.readTextFile(join(dir, "other-ca.pem"));
      await assert.rejects(
        connectDeno({
          servers: server.url,
          tls: { ca: other },
          reconnect: false,
        }),
        errors.ConnectionError,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

gatedTest({
  name:
    "DenoTransport: TLS handshake first with a client certificate the server verifies",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "marketbus-tls-" });
    try {
      await makeCertificates(dir);
      await using server = await startNatsServer({
        jetstream: false,
        config: {
          tls: {
            cert_file: join(dir, "server.pem"),
            key_file: join(dir, "server.key"),
            ca_file: join(dir, "ca.pem"),
            verify: true,
            handshake_first: true,
          },
        },
      });
      const read = (name: string) => Deno.readTextFile(join(dir, name));
      const nc = await connectDeno({
        servers: server.url,
        tls: {
          ca: await read("ca.pem"),
          cert: await read("client.pem"),
          key: await read("client.key"),
          handshakeFirst: true,
        },
      });
      try {
        await roundTrip(nc);
      } finally {
        await nc.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("canUseDenoTransport: a client certificate needs the handshake first", () => {
  assert.equal(canUseDenoTransport({}), true);
  assert.equal(canUseDenoTransport({ tls: { ca: "x" } }), true);
  assert.equal(canUseDenoTransport({ tls: { cert: "c", key: "k" } }), false);
  assert.equal(
    canUseDenoTransport({
      tls: { certFile: "c", keyFile: "k", handshakeFirst: true },
    }),
    true,
  );
  assert.throws(
    () => connectDeno({ tls: { cert: "c", key: "k" } }),
    RangeError,
  );
  assert.equal(new DenoTransport().isClosed, false);
});
