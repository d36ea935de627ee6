//go:build !linux

package pool

import "net"

// boundUnsent is a no-op where TCP_NOTSENT_LOWAT is not known.
func boundUnsent(net.Conn, int) {}
