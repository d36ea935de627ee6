package healer

import (
	"cmp"
	"context"
	"encoding/json"
	"strings"

	"github.com/wsheal/wsheal/pkg/events/service"

	"github.com/wsheal/wsheal/services/healer/state"
)

// requestInfoHeader is the header nats-server adds to a request that
// crosses an account's service import: the requester's authenticated
// client info (server.ClientInfoHdr).
const requestInfoHeader = "Nats-Request-Info"

// requestInfo is the part of the server's ClientInfo the healer records.
type requestInfo struct {
	Account string `json:"acc"`
	User    string `json:"user"`
	Name    string `json:"name"`
}

// requester is the NATS identity a switch is recorded as coming from,
// never the request's self-asserted by:
//
//   - with TrustRequestInfo, the user (and account) of the Nats-Request-Info
//     header, which nats-server writes over any client-sent value when a
//     request crosses a service import between accounts (the user is
//     included when the import says share: true);
//   - otherwise SwitchIdentity: in a single-account deployment (compose)
//     the server adds no such header and a client could forge one, so the
//     identity is the one the NATS permissions admit on the switch subjects
//     (only the operator user may publish wsheal.ctl.healer.pause and the
//     like in deploy/compose/nats/auth.conf).
func (s *Service) requester(ctx context.Context) string {
	return identity(service.RequestOf(ctx).Headers.Get(requestInfoHeader), s.cfg.TrustRequestInfo, s.cfg.SwitchIdentity)
}

// identity is requester's decision, from the header's value (possibly
// empty or malformed), whether to trust it, and the fallback identity.
func identity(header string, trust bool, fallback string) string {
	if trust && header != "" && len(header) <= 4096 {
		var ci requestInfo
		if err := json.Unmarshal([]byte(header), &ci); err == nil && (ci.User != "" || ci.Account != "") {
			id := "nats:" + truncate(ci.User, 128)
			if ci.Account != "" {
				id += "@" + truncate(ci.Account, 128)
			}
			return id
		}
	}
	return "nats:" + cmp.Or(fallback, "operator")
}

// record sets who changed the switches and with which request id.
func record(sw *state.Switches, by, claimed, id string) {
	sw.By, sw.Claimed, sw.RequestID = by, truncate(claimed, 128), id
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
