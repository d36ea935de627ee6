// Package compose holds the tests of the docker compose deployment in
// this directory (docker-compose.yml, nats/*.conf, the images built by
// compose.mk).
//
//   - TestNATSPermissions*: a real nats-server loaded with nats/auth.conf;
//     every user connects and the allowed and denied publishes,
//     subscriptions, requests and JetStream operations are checked.
//   - TestStolenGatewayCredential*, TestForgedSwitchesAndForeignReplies:
//     the attacks of issue 14 made with a gateway's credential (stream
//     updates, new streams with forging transforms, other nodes' keys,
//     healer switches) and the app user's (other users' replies), each
//     refused by the server.
//   - TestServicesRunWithComposePermissions: the real services as
//     processes with the compose users, NATS_ENSURE=check after `wsheal
//     setup-streams`: they work (a killed gateway becomes an incident)
//     without one permission violation, and ignore a registration forged
//     with a gateway credential.
//   - TestComposeFile, TestComposeTLSOverride: the compose files as the
//     installed compose tool renders them (no engine needed).
//   - TestComposeE2E: with a Docker engine, builds the images, brings the
//     stack up under its own project name, runs WebSocket clients, kills
//     a gateway container, pauses another, stops a NATS node, and checks
//     that it heals: clients rehomed with nothing lost, containers
//     restarted by the healer, incidents resolved with reviews. Without
//     an engine it skips, saying so.
//
// The commands setup (secrets and certificates) and probe (container
// healthchecks) live in the subdirectories of the same names.
package compose
