// Package suite is `wsheal bench --suite` (and `make bench`): each figure
// measured for the wsheal gateway and its references in the same run,
// alternating, over several rounds, reported as medians and ratios in
// Markdown and JSON. The references are a minimal raw gws server, NATS's
// own WebSocket listener, Centrifugo (centrifugo.go) and the fan-out floor
// (floor.go: pre-encoded frames, one write per connection per burst). Servers and clients run as
// separate processes (`wsheal-tools suite-server`, `wsheal-tools
// suite-worker`): the servers so that their RSS can be read, the clients
// because one process may hold at most 20,000 files.
package suite
