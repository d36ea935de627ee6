// Package fleetview is the one reading of the gateway fleet that the
// gateway's picker, the healer and the monitor's bootstrap share: the
// registry in events.BucketFleet, decoded and checked, merged with the
// nodes' heartbeats by the readers that follow them, judged by one
// staleness rule.
//
// What it guarantees:
//
//   - Nothing unchecked is believed. A registry entry is decoded with
//     events.DecodeRegistration, must name the node of its own key, and its
//     URLs must pass Registration.CheckURLs against the reader's hosts
//     (Decode); a heartbeat is believed only on its own node's subject and
//     with allowed URLs. An entry that fails removes what the view held of
//     its key: a forged entry does not leave the previous one in use.
//   - One staleness rule (events.StaleAfter): a node is stale once it has
//     missed three heartbeats, each counted as its own interval but at
//     least one second (one second when it did not say). The floor is
//     what makes the one rule right for every reader: the picker compares
//     a registration's time, written on the node's clock, with its own;
//     the healer must not count a node out of the fleet (panic, blast
//     radius) because its process or the node's waited for a CPU; at the
//     default one-second heartbeat it is the three seconds every reader
//     used before.
//   - Older news never overwrites newer: a node's entry only moves
//     forward in time (Node.Heard), and a delete or purge of the registry
//     removes a node only if it was not heard after it. A clean stop
//     (the node deletes its key) therefore removes it, and an old delete
//     marker replayed to a reader that starts does not remove a node heard
//     since.
//   - A View is safe for concurrent use; its registry watch is
//     service.WatchBucket's (current entries, then changes, watched again
//     until its context ends); Synced says when the current entries are in.
//
// What a reader makes of a node (where to send a client, whether a remedy
// may act) is the reader's; this package only says what is known and
// whether it is fresh.
package fleetview
