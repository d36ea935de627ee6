// Package edge is what a gateway node does about a peer before it becomes
// a connection: who the peer is, whether its browser origin is allowed,
// and how much of the node one address may take.
//
// Guarantees:
//   - A peer is its IP address: the socket's, or, when the socket comes
//     from a trusted proxy (Peers, CIDRs of WSHEAL_GATEWAY_TRUSTED_PROXIES),
//     the right-most address of X-Forwarded-For that is not itself a
//     trusted proxy, else X-Real-IP. Headers from any other socket are
//     ignored: a client cannot choose its own address.
//   - Limits per peer (Limits): open connections, new connections per
//     second (token bucket) and failed authentications per minute (token
//     bucket; once spent the peer is refused before its token is even
//     read, until the bucket refills). Failed authentications never spend
//     the accept-rate bucket of the peer or of the node, so bad tokens
//     cannot crowd out valid clients. The table of peers is bounded:
//     entries with nothing open and full buckets are swept every
//     SweepEvery; past MaxPeers new peers are refused.
//   - Origins: a browser's Origin header must be in the allowed list, be
//     the gateway's own origin, or the list is "*"; a request without
//     Origin is not a browser's and is allowed.
//   - Listener counts every accepted socket, not only WebSocket
//     connections: past its total cap or its cap per socket address a new
//     socket is closed at once, so a socket flood cannot exhaust the
//     process's file descriptors and others (health probes) keep being
//     served. Sockets from trusted proxies have no cap per address.
package edge
