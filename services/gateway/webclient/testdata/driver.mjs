// driver.mjs runs wsheal.js in Node for the shared conformance table
// (services/gateway/gatewaytest/clientcases): one JSON command per stdin
// line, one JSON answer or event per stdout line.
import { createInterface } from "node:readline";
import { WshealClient } from "../wsheal.js";

let client = null;
const subs = new Map();
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const fail = (id, e) => out({ id, error: { code: e?.code ?? "error", message: String(e?.message ?? e) } });

const commands = {
  async dial(c) {
    const opts = { urls: c.urls, discovery: c.discovery, token: c.token, backoff: { baseMs: 20, maxMs: 200 }, dialTimeoutMs: 3000 };
    if (c.token_url) opts.getToken = async () => (await (await fetch(c.token_url)).text()).trim();
    client = new WshealClient(opts);
    client.addEventListener("state", (e) => out({ ev: "state", state: e.detail.state, node: e.detail.node, code: e.detail.code, hinted: e.detail.hinted }));
    client.addEventListener("gap", (e) => out({ ev: "gap", channel: e.detail.channel, new_epoch: e.detail.newEpoch }));
    await client.connect();
  },
  async subscribe(c) {
    const sub = await client.subscribe(c.channel, (data, info) => out({ ev: "msg", channel: info.channel, seq: info.seq, data }));
    subs.set(c.channel, sub);
  },
  async publish(c) {
    return await client.publish(c.channel, c.data);
  },
  async close() {
    client?.close();
  },
};

createInterface({ input: process.stdin }).on("line", async (line) => {
  const c = JSON.parse(line);
  try {
    out({ id: c.id, ok: true, result: (await commands[c.cmd](c)) ?? null });
  } catch (e) {
    fail(c.id, e);
  }
}).on("close", () => {
  client?.close();
  process.exit(0);
});
