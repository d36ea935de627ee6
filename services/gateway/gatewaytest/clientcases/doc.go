// Package clientcases is the shared conformance table of the wsheal
// clients: cases.json lists protocol cases (frames, close codes, reconnect
// hints, resume with epoch and seq, tokens) as steps, and Run plays each
// case against real gateway nodes and an embedded NATS with any client
// behind the Driver interface. pkg/client's tests drive the Go SDK with it
// and the webclient tests drive wsheal.js in Node, so the two clients are
// held to one table and cannot drift.
package clientcases
