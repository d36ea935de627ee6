package suite

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// ErrNoCPU: /proc/<pid>/stat is not as expected.
var ErrNoCPU = errors.New("suite: no CPU time")

// clockTick is the unit of /proc/<pid>/stat's times (USER_HZ, 100 on
// every Linux the kernel ABI knows).
const clockTick = 10 * time.Millisecond

// CPUTime is the CPU time process pid has used so far (user plus system,
// from /proc/<pid>/stat).
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("suite: cpu of %d: %w", pid, err)
	}
	return parseCPUTime(b)
}

// parseCPUTime reads utime and stime (fields 14 and 15) of a stat line;
// the command name (field 2) may hold spaces and parentheses, so fields
// are counted after its last ')'.
func parseCPUTime(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: no command name", ErrNoCPU)
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: %d fields", ErrNoCPU, len(f)+2)
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrNoCPU, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * clockTick, nil
}

// cpuMeter follows a server's CPU time over a measurement.
type cpuMeter struct {
	pid   int
	start time.Duration
	err   error
}

func startCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid}
	m.start, m.err = CPUTime(pid)
	return m
}

// perSecond is n per CPU-second used since the start (NaN if unknown or
// no CPU time was used).
func (m *cpuMeter) perSecond(n uint64) (float64, error) {
	if m.err != nil {
		return math.NaN(), m.err
	}
	end, err := CPUTime(m.pid)
	if err != nil {
		return math.NaN(), err
	}
	return Ratio(float64(n), (end - m.start).Seconds()), nil
}

// Row of the fan-out per CPU-second figures: the fan-out row's name with
// this in place of "fan-out".
const rowFanCPU = "fan-out per server CPU-second"

// goalFanCPU is the goal at 1,000 and 10,000 subscribers on one channel.
var goalFanCPU = []Goal{{Ref: ProtoFloor, Min: 0.8}, {Ref: ProtoCentrifugo, Min: 5}}
