// Package bench is the engine of `wsheal bench`: it opens many
// pkg/client clients spread over channels, drives publishers at a fixed
// rate, and checks every delivery for loss, duplication and order while
// measuring publish-to-deliver latency and reconnects.
package bench
