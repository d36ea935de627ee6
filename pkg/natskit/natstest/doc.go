// Package natstest starts a real, embedded nats-server with JetStream for
// tests: storage in t.TempDir(), a random loopback port, every stream and
// bucket of the contract ensured (one replica), shut down by t.Cleanup.
//
// Guarantees: Start returns only once the server accepts connections and
// the contract is in place, or fails the test; Restart brings the server
// back on the same port with the same storage, as clients see a NATS
// restart; Conn's connections reconnect forever and close at cleanup.
// Eventually is the one way tests wait for a condition: it polls until a
// deadline and fails with a message, never asserting after a bare sleep.
package natstest
