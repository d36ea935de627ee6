// Package devtest runs a real `wsheal dev` stack for tests: the wsheal
// command and wsheal-tools (the demo clients' `wsheal bench`) built once
// per test binary, started as a child process on free loopback ports,
// stopped with SIGINT by t.Cleanup (killed if it has not exited 15 s
// later).
//
// Guarantees: Start returns once the stack printed its NATS URL, or fails
// the test with everything the stack printed; the stack's output is kept
// whole (Stack.Out) for the test's messages. The command's own tests and
// those of wsheal-tools (bench and chaos against a live stack) share it.
package devtest
