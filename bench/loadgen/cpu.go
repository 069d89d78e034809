package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ, 100 on Linux unless
// -clk says otherwise; `getconf CLK_TCK` prints it).
var clockTick = 10 * time.Millisecond

// cpuTime returns the user plus system CPU time process pid has used so far, all threads
// included (proc(5): fields 14 and 15 of /proc/<pid>/stat).
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	ticks, err := statTicks(data)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ticks) * clockTick, nil
}

// statTicks returns utime+stime, in clock ticks, from the text of a /proc/<pid>/stat file.
func statTicks(data []byte) (int64, error) {
	// The command name (field 2) is in parentheses and may hold spaces: count after its end.
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, errors.New("no command name")
	}
	fields := bytes.Fields(data[end+1:])
	// fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and fields[12].
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields", len(fields)+2)
	}
	utime, err1 := strconv.ParseInt(string(fields[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("utime %q, stime %q", fields[11], fields[12])
	}
	return utime + stime, nil
}
