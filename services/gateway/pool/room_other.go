//go:build !linux

package pool

import (
	"net"
	"time"
)

// boundUnsent is a no-op where TCP_NOTSENT_LOWAT is not known.
func boundUnsent(net.Conn, int) {}

// boundOrphan is a no-op where TCP_USER_TIMEOUT is not known.
func boundOrphan(net.Conn, time.Duration) {}
