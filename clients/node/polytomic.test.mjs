// The published `polytomic` npm SDK against a live `keycard serve`, with only its base URL changed.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { PolytomicClient, PolytomicError } from "polytomic";

const ADMIN_PASSWORD = "node-suite-admin-1";
let server;
let base;
let directory;

async function native(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString("base64")}`,
      "content-type": "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json();
}

before(async () => {
  directory = mkdtempSync(join(tmpdir(), "keycard-node-"));
  const binary = process.env.KEYCARD_BIN ?? new URL("../../target/debug/keycard", import.meta.url).pathname;
  server = spawn(binary, ["serve", "--listen", "127.0.0.1:0", "--database", `sqlite://${join(directory, "keycard.db")}`], {
    env: { ...process.env, KEYCARD_ADMIN_PASSWORD: ADMIN_PASSWORD, KEYCARD_LOG: "warn" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  base = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: server.stderr });
    lines.on("line", (line) => {
      if (line.startsWith("keycard: listening on ")) resolve(line.slice("keycard: listening on ".length).trim());
    });
    server.on("exit", (code) => reject(new Error(`keycard exited with ${code} before listening`)));
  });
});

after(() => {
  server?.kill("SIGTERM");
  rmSync(directory, { recursive: true, force: true });
});

async function adminClient() {
  const me = await native("GET", "/v1/me");
  const key = await native("POST", `/v1/accounts/${me.account.id}/keys`, { name: "node" });
  return new PolytomicClient({ environment: base, token: key.data.secret, version: "2025-09-18" });
}

test("roles and policies round trip; system roles are refused", async () => {
  const client = await adminClient();
  const role = (await client.permissions.roles.create({ name: "Data Engineer" })).data;
  assert.equal(role.system, false);
  const names = (await client.permissions.roles.list()).data.map((r) => r.name);
  assert.ok(names.includes("Admin") && names.includes("Member") && names.includes("Data Engineer"));
  assert.equal((await client.permissions.roles.update(role.id, { name: "Data Engineers" })).data.name, "Data Engineers");

  const policy = (
    await client.permissions.policies.create({ name: "Writers", policy_actions: [{ action: "sync_to", role_ids: [role.id] }] })
  ).data;
  const actions = Object.fromEntries(policy.policy_actions.map((a) => [a.action, a.role_ids]));
  assert.deepEqual(actions.sync_to, [role.id]);
  assert.deepEqual(actions.read, []);
  await client.permissions.policies.update(policy.id, { name: "Writers", policy_actions: [{ action: "read", role_ids: [role.id] }] });
  assert.deepEqual(
    (await client.permissions.policies.get(policy.id)).data.policy_actions.find((a) => a.action === "read").role_ids,
    [role.id],
  );
  await client.permissions.policies.remove(policy.id);
  await client.permissions.roles.remove(role.id);
  await assert.rejects(client.permissions.roles.get(role.id), (err) => err instanceof PolytomicError && err.statusCode === 404);

  const admin = (await client.permissions.roles.list()).data.find((r) => r.name === "Admin");
  assert.equal(admin.system, true);
  await assert.rejects(client.permissions.roles.update(admin.id, { name: "Boss" }), (err) => err.statusCode === 403);
  await assert.rejects(client.permissions.roles.remove(admin.id), (err) => err.statusCode === 403);
});

test("two organizations are isolated; users carry role_ids", async () => {
  const client = await adminClient();
  const acme = (await client.organization.create({ name: "acme-node" })).data;
  const boss = (await client.users.create(acme.id, { email: "boss@acme.test", role: "admin" })).data;
  const key = (await client.users.createApiKey(acme.id, boss.id)).data.value;
  const acmeClient = new PolytomicClient({ environment: base, token: key, version: "2025-09-18" });
  const secret = (await acmeClient.permissions.roles.create({ name: "Acme only" })).data;
  assert.equal(secret.organization_id, acme.id);
  const visible = (await client.permissions.roles.list()).data.map((r) => r.name);
  assert.ok(!visible.includes("Acme only"));
  await assert.rejects(client.permissions.roles.get(secret.id), (err) => err.statusCode === 404);

  const analyst = (await acmeClient.users.create(acme.id, { email: "analyst@acme.test", role_ids: [secret.id] })).data;
  assert.deepEqual(analyst.role_ids, [secret.id]);
  const users = (await acmeClient.users.list(acme.id)).data.map((u) => u.email);
  assert.deepEqual(users.sort(), ["analyst@acme.test", "boss@acme.test"]);
  const me = (await acmeClient.identity.get()).data;
  assert.equal(me.organization_name, "acme-node");
});

test("events are listed after changes", async () => {
  const client = await adminClient();
  const start = new Date(Date.now() - 1000).toISOString();
  const role = (await client.permissions.roles.create({ name: "Evented" })).data;
  await client.permissions.roles.remove(role.id);
  const events = (await client.events.list({ starting_after: start, limit: 100 })).data;
  const mine = events.filter((e) => e.event?.entity_id === role.id).map((e) => e.type);
  assert.deepEqual(mine, ["role.created", "role.deleted"]);
  assert.ok((await client.events.getTypes()).data.includes("user.created"));
});
