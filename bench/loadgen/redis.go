package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisCounter counts one Redis server's commands and socket reads over the run (-redis
// name=host:port), to report them per request sent to one target: the commands and round trips
// the gateway makes per request. It reads INFO over one connection kept open for the run, so
// that its own work is exactly known: the final INFO's one read (its connection set-up and
// first INFO come before the first reading).
type redisCounter struct {
	addr   string
	target *target
	client *redis.Client
	before map[string]int // commandstats calls at the start
	reads  int            // INFO stats total_reads_processed at the start
}

// newRedisCounters reads the -redis values and takes each server's counts before the run.
func newRedisCounters(specs []string, targets []*target) ([]*redisCounter, error) {
	var out []*redisCounter
	for _, spec := range specs {
		name, addr, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want name=host:port", spec)
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil || !isLoopback(host) {
			return nil, fmt.Errorf("%q: want a loopback host:port", spec)
		}
		i := slices.IndexFunc(targets, func(t *target) bool { return t.name == name })
		if i < 0 {
			return nil, fmt.Errorf("%q: no target %s", spec, name)
		}
		c := &redisCounter{addr: addr, target: targets[i], client: redis.NewClient(&redis.Options{
			Addr: addr, Protocol: 2, PoolSize: 1, DisableIdentity: true, MaxRetries: -1,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		})}
		if c.before, c.reads, err = c.read(); err != nil {
			return nil, fmt.Errorf("%s: %w", addr, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// read returns the server's command calls by lower-case name (INFO commandstats) and its count
// of socket reads (INFO stats total_reads_processed, Redis 6.2 and later: a client's pipeline of
// several commands that arrives at once is one read), from one INFO.
func (c *redisCounter) read() (map[string]int, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := c.client.Info(ctx, "commandstats", "stats").Result()
	if err != nil {
		return nil, 0, fmt.Errorf("INFO: %w", err)
	}
	reads, err := infoField(info, "total_reads_processed")
	return commandCalls(info), reads, err
}

// report reads the server's counts again and prints what ran since the first reading per
// request of the target.
func (c *redisCounter) report(w io.Writer) error {
	defer c.client.Close()
	after, reads, err := c.read()
	if err != nil {
		return err
	}
	reads -= c.reads + 1 // this INFO's own read
	set, all := commandDelta(c.before, after)
	t := c.target
	answered := len(t.lat) // measured rounds only; the warm-up's answers are not kept
	fmt.Fprintf(w, "redis %s for %s: %d SET, %d commands in all (INFO excluded), %d requests sent; "+
		"SET per request sent %.3f, commands per request sent %.3f\n",
		c.addr, t.name, set, all, t.sent, ratio(float64(set), float64(t.sent)), ratio(float64(all), float64(t.sent)))
	fmt.Fprintf(w, "  (%d of the requests were cut off at the end of a turn, so the requests that reached the gateway "+
		"are between %d and %d: SET per request between %.3f and %.3f; %d answered 200 in the measured rounds)\n",
		t.cut, t.sent-t.cut, t.sent, ratio(float64(set), float64(t.sent)), ratio(float64(set), float64(t.sent-t.cut)), answered)
	var others []string
	for name, n := range after {
		if d := n - c.before[name]; name != "set" && name != "info" && d > 0 {
			others = append(others, fmt.Sprintf("%s %d", name, d))
		}
	}
	if len(others) > 0 {
		slices.Sort(others)
		fmt.Fprintf(w, "  commands other than SET: %s\n", strings.Join(others, ", "))
	}
	fmt.Fprintf(w, "  socket reads by the server (INFO stats total_reads_processed) per request sent %.3f: "+
		"one per round trip, so below 1 when concurrent claims share a pipeline\n", ratio(float64(reads), float64(t.sent)))
	return nil
}

// commandCalls returns the calls of each command, by lower-case name, from the
// "cmdstat_<name>:calls=<n>,..." lines of INFO commandstats.
func commandCalls(info string) map[string]int {
	calls := map[string]int{}
	for line := range strings.SplitSeq(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_")
		if !ok {
			continue
		}
		name, fields, _ := strings.Cut(rest, ":")
		for field := range strings.SplitSeq(fields, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				if n, err := strconv.Atoi(v); err == nil {
					calls[name] = n
				}
			}
		}
	}
	return calls
}

// infoField returns the integer field name of an INFO reply ("name:value" lines).
func infoField(info, name string) (int, error) {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, fmt.Errorf("INFO %s: %q is not a number", name, v)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("INFO has no %s", name)
}

// commandDelta returns how many SET and how many commands in all (INFO, this tool's own, left
// out) the server ran between two INFO commandstats readings.
func commandDelta(before, after map[string]int) (set, all int) {
	for name, n := range after {
		if name == "info" {
			continue
		}
		all += n - before[name]
	}
	return after["set"] - before["set"], all
}
