// Package gateway is a wsheal gateway node: the WebSocket edge that holds
// client connections (package pool), speaks the client protocol (package
// session) over channels carried by NATS and JetStream (package channel),
// reports its health to NATS every second, and obeys control commands
// (status, reconnect, resize, drain, undrain) under
// events.GatewayControlGroup(node).
//
// # The edge
//
// A node faces the internet and assumes its peers may be hostile. What it
// guarantees, and the WSHEAL_GATEWAY_* settings that tune it:
//
//   - Every accepted socket counts, not only WebSockets (package edge's
//     Listener): past MAX_SOCKETS (default: the connection cap in force,
//     which resize may change, + 1024) or
//     SOCKETS_PER_IP from one address (default MAX_CONNS_PER_IP + 64;
//     trusted proxies excepted) a new socket is closed at once, so a
//     socket flood neither exhausts file descriptors nor hangs /healthz.
//   - Every HTTP socket is bounded in time: headers within
//     HANDSHAKE_TIMEOUT (5 s), the request within HTTP_READ_TIMEOUT (10 s),
//     the answer within HTTP_WRITE_TIMEOUT (10 s), an idle keep-alive
//     closed after HTTP_IDLE_TIMEOUT (60 s). An upgraded WebSocket is free
//     of these and bounded instead by pings, the pong deadline, the idle
//     timeout and WRITE_TIMEOUT.
//   - An upgrade passes, in order: the browser origin (ALLOWED_ORIGINS;
//     403), the failed-authentication limit of the client address
//     (AUTH_FAILURES_PER_IP per minute, default 10; 429), the token (AUTH,
//     JWT_SECRET, JWT_AUDIENCE, JWT_ISSUER, JWT_ALLOW_NO_EXP; close 4101 or
//     4102), the address's connection cap and accept rate
//     (MAX_CONNS_PER_IP 256, ACCEPT_RATE_PER_IP 20/s, ACCEPT_BURST_PER_IP
//     40; 429), then the node's admission (MAX_CONNS, ACCEPT_RATE, memory
//     budget, draining; 503). A bad token therefore spends no accept-rate
//     bucket. The client address is the socket's, or behind
//     TRUSTED_PROXIES (CIDRs) the one X-Forwarded-For / X-Real-IP names.
//   - Memory per connection is bounded whatever the peer does (package
//     pool): one pending pong, pongs accepted only for the outstanding
//     ping, control frames under INBOUND_RATE (close 4005), a send queue
//     bounded by SEND_QUEUE frames and SEND_QUEUE_BYTES bytes (4 MiB) with
//     WRITE_TIMEOUT (10 s) on every write (close 4002). MEMORY_LIMIT (off
//     by default) sets the runtime's soft memory limit and sheds: upgrades
//     refused past 80% of it, the largest send queues closed past 90%.
//   - A panic while handling a connection closes that connection with
//     1011 and a panic in an HTTP handler answers 500; both are logged
//     with their stack and counted (wsheal_gateway_handler_panics_total,
//     wsheal_gateway_edge_refused_total{reason="panic"}); the node keeps
//     serving.
//   - /metrics requires METRICS_TOKEN when it is set (Bearer, or the Basic
//     auth password); /healthz, /readyz and /v1/connect stay open, and so
//     do /v1/wsheal.js and /v1/wsheal.d.ts, the browser client (package
//     webclient), with CORS as /v1/connect.
//
// Refusals are counted in wsheal_gateway_edge_refused_total by reason,
// sockets in wsheal_gateway_sockets and wsheal_gateway_sockets_refused_total.
package gateway
