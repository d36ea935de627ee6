// Package embedded starts an in-process nats-server with JetStream: the
// NATS of `wsheal dev` and, through natstest, of the tests.
//
// Guarantees: Start returns a server that accepts client connections (or an
// error, with nothing left running); JetStream is on, stored under the
// StoreDir it is given; a server started with NoSigs never handles the
// process's signals, so the caller's main keeps them. The package lives in
// its own module (pkg/natskit) so that the contract module, pkg/events,
// does not require nats-server.
package embedded
