package events_test

import (
	"testing"

	"github.com/wsheal/wsheal/pkg/events"
)

func FuzzDecodeHealerRecord(f *testing.F) {
	f.Add([]byte(`{"kind":"node_down"}`))
	f.Add([]byte(`{"kind":"no such kind"}`))
	f.Add([]byte(`{"records":[{"kind":"node_down","remedy":"restart","class":"node","attempts":1}]}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = events.DecodeCommand(b, &events.HealerRecordRequest{})
		_ = events.DecodeReply(b, &events.HealerRecord{})
	})
}
