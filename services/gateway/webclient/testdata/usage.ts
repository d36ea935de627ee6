// usage.ts is type-checked against wsheal.d.ts (never run): the
// declarations must describe how a page uses the client.
import { WshealClient, WshealError, shouldReconnect, backoffCap, PROTOCOL_VERSION, type Ack, type Gap, type Position, type StateDetail } from "../wsheal.js";

const client = new WshealClient({
  discovery: "https://example.com/v1/connect",
  urls: ["wss://example.com/gw-1/ws"],
  getToken: async () => "token",
  backoff: { baseMs: 100 },
});
client.addEventListener("state", (e) => {
  const d: StateDetail = e.detail;
  const s: string = d.state;
  void s;
});
client.addEventListener("gap", (e) => {
  const g: Gap = e.detail;
  const n: number = g.after + g.seq;
  void n;
});
client.addEventListener("error", (e) => console.log(e.detail.code, e.detail.closeCode));

async function main(): Promise<void> {
  await client.connect();
  const sub = await client.subscribe("chat:1", (data: unknown, info) => console.log(info.channel, info.seq, info.epoch, data), {
    since: 41,
    epoch: "abc",
    onGap: (g) => console.log(g.newEpoch),
  });
  const p: Position = sub.position;
  const ack: Ack = await client.publish("chat:1", { text: "hi" }, { idem: "k-1", signal: new AbortController().signal });
  const again: boolean = ack.duplicate;
  const pos: Position | null = client.position("chat:1");
  await sub.unsubscribe();
  client.close();
  void p, again, pos;
  const v: 1 = PROTOCOL_VERSION;
  const r: boolean = shouldReconnect(4003);
  const cap: number = backoffCap({ baseMs: 200, maxMs: 20000, stableMs: 30000 }, 3);
  const err = new WshealError("forbidden", "no");
  void v, r, cap, err.code;
}
void main();
