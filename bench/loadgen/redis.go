package main

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/obgate/obgate/internal/redistest"
)

// redisCounter counts one Redis server's commands over the run (-redis name=host:port), to
// report them per request sent to one target: the round trips the gateway makes per request.
type redisCounter struct {
	addr   string
	target *target
	server *redistest.Server // only its Do: the server is the script's, not started here
	before map[string]int
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
		c := &redisCounter{addr: addr, target: targets[i], server: &redistest.Server{Addr: addr}}
		if c.before, err = c.server.CommandCalls(); err != nil {
			return nil, fmt.Errorf("%s: INFO commandstats: %w", addr, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// report reads the server's counts again and prints the commands run since the first reading
// per request of the target.
func (c *redisCounter) report(w io.Writer) error {
	after, err := c.server.CommandCalls()
	if err != nil {
		return fmt.Errorf("INFO commandstats: %w", err)
	}
	set, all := commandDelta(c.before, after)
	t := c.target
	answered := len(t.lat) // measured rounds only; the warm-up's answers are not kept
	fmt.Fprintf(w, "redis %s for %s: %d SET, %d commands in all (INFO excluded), %d requests sent; "+
		"SET per request sent %.3f, commands per request sent %.3f\n",
		c.addr, t.name, set, all, t.sent, ratio(float64(set), float64(t.sent)), ratio(float64(all), float64(t.sent)))
	fmt.Fprintf(w, "  (%d of the requests were cut off at the end of a turn, so the requests that reached the gateway "+
		"are between %d and %d: SET per request between %.3f and %.3f; %d answered 200 in the measured rounds)\n",
		t.cut, t.sent-t.cut, t.sent, ratio(float64(set), float64(t.sent)), ratio(float64(set), float64(t.sent-t.cut)), answered)
	return nil
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
