// Package system holds cross-service tests: the Go SDK (pkg/client)
// against real gateways (services/gateway) on an embedded NATS server with
// JetStream (pkg/natskit/natstest). It has tests only and is a module of
// its own so that the SDK's module requires no service: pkg/client's own
// tests use an in-process fake gateway.
//
// Here: the shared client conformance table
// (services/gateway/gatewaytest/clientcases) played by the Go client,
// failover when a node is killed, moves on drain hints, JWT tokens,
// discovery, resumes across a recreated channel stream and across a
// byte-limited stream turned over by other channels, and the SDK's
// example run end to end.
package system
