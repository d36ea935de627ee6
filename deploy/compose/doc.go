// Package compose holds the end-to-end tests of the docker compose
// deployment: they build the images, bring the stack up, inject faults and
// check that it heals.
package compose
