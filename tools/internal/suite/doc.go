// Package suite is `wsheal bench --suite` (and `make bench`): each figure
// measured for the wsheal gateway and two references in the same run,
// alternating, over several rounds, reported as medians and ratios in
// Markdown and JSON. The references are a minimal raw gws server (the
// floor) and NATS's own WebSocket listener. Servers and clients run as
// separate processes (`wsheal-tools suite-server`, `wsheal-tools
// suite-worker`): the servers so that their RSS can be read, the clients
// because one process may hold at most 20,000 files.
package suite
