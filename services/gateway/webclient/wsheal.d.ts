// Types of wsheal.js, the browser client of wsheal gateways (protocol v1).

/** The protocol version this client speaks (the `v` query parameter). */
export declare const PROTOCOL_VERSION: 1;

/** Whether a close code means "reconnect" (40xx, 1001, 1011, ...) rather than "stop" (41xx, 1000, 1003, 1007, 1009). */
export declare function shouldReconnect(code: number): boolean;

/** Full-jitter backoff: the delay before attempt n is uniform in [0, backoffCap(b, n)). */
export interface Backoff {
  /** First cap (ms). Default 200. */
  baseMs: number;
  /** Largest cap (ms). Default 20000. */
  maxMs: number;
  /** A connection up this long resets the attempt count (ms). Default 30000. */
  stableMs: number;
}

/** min(maxMs, baseMs * 2^(attempt-1)). */
export declare function backoffCap(b: Backoff, attempt: number): number;

/** Options of a WshealClient. `urls` and/or `discovery` are required. */
export interface ClientOptions {
  /** Gateway WebSocket endpoints (ws(s)://host/ws), shuffled, failed over in turn. */
  urls?: string[];
  /** A gateway's discovery endpoint (http(s)://host/v1/connect), asked before every connect. */
  discovery?: string;
  /** A JWT sent as the token query parameter (and as a bearer token to discovery). */
  token?: string;
  /** Called before every connect for a fresh token; with it, 4102 token_expired reconnects, and the client moves to a fresh token refreshBeforeMs before the token's exp. */
  getToken?: () => string | Promise<string>;
  /** How long before a token's exp the client reconnects with a fresh one (ms). Default 30000. */
  refreshBeforeMs?: number;
  backoff?: Partial<Backoff>;
  /** Bound of a connect until the hello frame (ms). Default 10000. */
  dialTimeoutMs?: number;
  /** Added to the hello's ping interval: no frame for that long and the connection is dead (ms). Default 5000. */
  staleGraceMs?: number;
  /** Listen to the browser's online/offline and visibilitychange events. Default true. */
  signals?: boolean;
  /** A WebSocket constructor (default: globalThis.WebSocket). */
  WebSocket?: new (url: string) => WebSocket;
  /** A fetch function for discovery (default: globalThis.fetch). */
  fetch?: typeof fetch;
}

/** Where a channel stands: the epoch and seq of the last message delivered. */
export interface Position {
  seq: number;
  epoch: string;
}

/** Metadata of a delivered message. */
export interface MessageInfo extends Position {
  channel: string;
}

/** A resume the gateway could not replay in full (recovered:false): refetch the state by other means. */
export interface Gap {
  channel: string;
  /** The position resumed from. */
  after: number;
  /** The live flow follows from this seq, in this epoch. */
  seq: number;
  epoch: string;
  /** The stream was recreated: the old position means nothing. */
  newEpoch: boolean;
}

export interface SubscribeOptions {
  /** Resume from this position (a seq delivered earlier, e.g. kept in storage). */
  since?: number;
  /** The epoch `since` belongs to. */
  epoch?: string;
  onGap?: (gap: Gap) => void;
}

export interface PublishOptions {
  /** Idempotency key (default: random); a retry with it is stored once. */
  idem?: string;
  signal?: AbortSignal;
}

export interface Ack {
  seq: number;
  duplicate: boolean;
}

export type ConnectionState = "idle" | "connecting" | "connected" | "disconnected" | "reconnecting" | "closed";

export interface StateDetail {
  state: ConnectionState;
  url?: string;
  node?: string;
  session?: string;
  /** The close code that ended the connection (0: none, the socket was lost). */
  code?: number;
  reason?: string;
  attempt?: number;
  delayMs?: number;
  /** The server asked for this reconnect (a reconnect hint). */
  hinted?: boolean;
  error?: string;
}

export interface ErrorDetail {
  /** A server error code (forbidden, unavailable, ...), a close name (unauthorized, ...) or a client code. */
  code: string;
  message: string;
  channel?: string;
  closeCode?: number;
}

/** An error with a code (see ErrorDetail.code). */
export declare class WshealError extends Error {
  constructor(code: string, message: string, closeCode?: number);
  readonly code: string;
  readonly closeCode?: number;
}

export declare class Subscription {
  readonly channel: string;
  readonly position: Position;
  /** recovered:false answers seen. */
  readonly gaps: number;
  /** Messages dropped as duplicates. */
  readonly duplicates: number;
  unsubscribe(): Promise<void>;
}

export interface WshealEventMap {
  state: CustomEvent<StateDetail>;
  gap: CustomEvent<Gap>;
  error: CustomEvent<ErrorDetail>;
}

export declare class WshealClient extends EventTarget {
  constructor(options: ClientOptions);
  readonly state: ConnectionState;
  /** The node of the current (or last) connection. */
  readonly node: string;
  /** Connects; resolves on the first hello, rejects if the client stops first. */
  connect(): Promise<void>;
  /** Messages reach onMessage once each, in order, across reconnects. */
  subscribe(channel: string, onMessage: (data: unknown, info: MessageInfo) => void, options?: SubscribeOptions): Promise<Subscription>;
  unsubscribe(channel: string): Promise<void>;
  publish(channel: string, data: unknown, options?: PublishOptions): Promise<Ack>;
  position(channel: string): Position | null;
  close(): void;
  addEventListener<K extends keyof WshealEventMap>(type: K, listener: (ev: WshealEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof WshealEventMap>(type: K, listener: (ev: WshealEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}
