package frame

// WebSocket close codes. 4000-4099 mean "reconnect" (after the backoff, or
// the delay of a reconnect frame); 4100-4199 mean "stop": reconnecting
// with the same credentials would fail again.
const (
	// CloseNormal: the client or server ended the session on purpose.
	CloseNormal = 1000
	// CloseGoingAway: the server is shutting down; reconnect.
	CloseGoingAway = 1001
	// CloseUnsupportedData: a binary frame; protocol v1 speaks JSON text
	// frames only (RFC 6455 code 1003); stop.
	CloseUnsupportedData = 1003
	// CloseInvalidData: a text frame was not valid UTF-8 (RFC 6455); stop.
	CloseInvalidData = 1007
	// CloseMessageTooBig: a frame over the gateway's size limit (RFC 6455,
	// sent by the WebSocket library before the frame is read); stop.
	CloseMessageTooBig = 1009

	CloseStale       = 4000 // missed the pong deadline
	CloseIdle        = 4001 // idle eviction
	CloseSlow        = 4002 // slow consumer: send queue full; resume loses nothing
	CloseDrain       = 4003 // node draining or rebalancing: reconnect elsewhere
	CloseReconnect   = 4004 // an operator or the healer asked
	CloseRateLimited = 4005 // inbound rate exceeded; reconnect after backoff
	CloseShutdown    = 4006 // node stopping
	CloseUnavailable = 4007 // the node lost NATS, or the channel stream was recreated; reconnect and resume

	CloseBadRequest   = 4100 // protocol violation
	CloseUnauthorized = 4101 // missing or invalid token
	CloseTokenExpired = 4102 // token expired: get a new one first
	CloseForbidden    = 4103 // token valid, permission denied
	CloseTooLarge     = 4104 // reserved: oversize frames get 1009 today
)

// CloseInfo describes a close code.
type CloseInfo struct {
	Code      int
	Name      string
	Reconnect bool
	Meaning   string
}

// CloseCodes is the documented table of close codes.
var CloseCodes = []CloseInfo{
	{CloseNormal, "normal", false, "session ended on purpose"},
	{CloseGoingAway, "going_away", true, "server going away"},
	{CloseUnsupportedData, "unsupported_data", false, "binary frame: the protocol is JSON text frames"},
	{CloseInvalidData, "invalid_data", false, "text frame not valid UTF-8"},
	{CloseMessageTooBig, "message_too_big", false, "frame larger than the gateway's limit"},
	{CloseStale, "stale", true, "no pong within the deadline"},
	{CloseIdle, "idle", true, "idle: no subscription and no traffic (reconnect when needed)"},
	{CloseSlow, "slow_consumer", true, "send queue full; resume from the last sequence"},
	{CloseDrain, "drain", true, "node draining; reconnect to another node"},
	{CloseReconnect, "reconnect", true, "reconnect requested by an operator or the healer"},
	{CloseRateLimited, "rate_limited", true, "inbound rate exceeded; back off"},
	{CloseShutdown, "shutdown", true, "node stopping"},
	{CloseUnavailable, "unavailable", true, "node lost its broker or the channel stream was recreated; reconnect and resume"},
	{CloseBadRequest, "bad_request", false, "protocol violation"},
	{CloseUnauthorized, "unauthorized", false, "missing or invalid token"},
	{CloseTokenExpired, "token_expired", false, "token expired"},
	{CloseForbidden, "forbidden", false, "permission denied"},
	{CloseTooLarge, "too_large", false, "frame larger than the limit"},
}

// ShouldReconnect reports whether a client should reconnect after the
// close code. Unknown codes reconnect (with backoff), except 4100-4199
// and the RFC 6455 codes that say the client sent something wrong.
func ShouldReconnect(code int) bool {
	switch {
	case code == CloseNormal, code == CloseUnsupportedData, code == CloseInvalidData, code == CloseMessageTooBig:
		return false
	case code >= 4100 && code < 4200:
		return false
	}
	return true
}
