package pool

import "testing"

func TestByteSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4194304", 4 << 20, true}, {"4MiB", 4 << 20, true}, {"512 KiB", 512 << 10, true},
		{"1GiB", 1 << 30, true}, {"2MB", 2 << 20, true}, {"0", 0, true},
		{"-1", 0, false}, {"lots", 0, false}, {"1.5GiB", 0, false},
	}
	for _, tc := range cases {
		var b ByteSize
		err := b.Decode(tc.in)
		if (err == nil) != tc.ok || (tc.ok && int64(b) != tc.want) {
			t.Errorf("%q: %d, %v", tc.in, b, err)
		}
	}
}
