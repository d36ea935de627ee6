// Package natsflag is the operator's NATS connection of the wsheal
// commands (`wsheal` and `wsheal-tools`): the nats CLI's flags and
// environment variables, and its contexts.
//
// Guarantees: a flag wins over its environment variable, which wins over
// the selected nats CLI context, which wins over nats://127.0.0.1:4222;
// credentials, passwords and keys are read from where they are named,
// never printed; a failed connection says which URL it tried and how to
// point the command elsewhere.
package natsflag
