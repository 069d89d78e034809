package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/obgate/obgate/replay/backend"
)

// maxInFlight is how many pipelines may be on the wire at once: a claim that finds fewer sends
// at once, on its own connection. One measured best: through real Caddy over HTTP
// (bench/replay.sh 4s 5 16, two runs each, interleaved) one pipeline in flight carried about four
// claims per round trip and cost 1.09-1.16x the memory store's CPU per request, two carried two
// and cost 1.21-1.27x. maxWaiting bounds the claims waiting for a turn; a claim that finds it
// reached is refused at once with ErrUnavailable (Redis is not keeping up).
const (
	maxInFlight = 1
	maxWaiting  = 4096
)

// pipeliner sends the claims of concurrent requests to Redis as pipelines, at most maxInFlight on
// the wire at a time. A claim that finds room sends its own at once, from its own goroutine:
// alone, it costs what a single command costs. A claim that finds no room waits; when a
// pipeline ends, its sender hands the turn to the first waiting claim, which sends every claim
// waiting at that moment in one pipeline. So each claim waits for at most one pipeline before
// its own, batches grow only with the load, and no claim waits for a batch to fill (no timer, no
// minimum size). Each claim is still its own SET NX PX with its own answer: a pipeline only
// shares the write and read system calls, on the gateway and on the server.
//
// Pipelining adds no retry: a pipeline whose connection fails gives ErrUnavailable to every
// claim in it (a SET may have been applied without its answer arriving, exactly as for a single
// command), and the next pipeline takes a new connection.
type pipeliner struct {
	client  *redis.Client
	timeout time.Duration

	mu      sync.Mutex
	sending int             // pipelines in flight (or whose sender is handing the turn on)
	waiting []*pendingClaim // the claims for the next pipeline, in arrival order

	pipelines, claims atomic.Uint64 // sent so far, for Stats
}

// pendingClaim is one claim on its way. Its fields other than key and ttlMilli are guarded by
// the pipeliner's mu until the claim is answered.
type pendingClaim struct {
	key      string
	ttlMilli int64
	err      error
	// wake receives answered (the claim's pipeline ended: err holds its result) or yourTurn (the
	// claim is to send batch, the next pipeline). Buffered: the sender never blocks on it, and
	// each claim is woken once.
	wake  chan wakeReason
	batch []*pendingClaim // set with yourTurn: the claims this one sends, itself first
	alone [1]*pendingClaim
	timer *time.Timer
}

type wakeReason bool

const (
	answered wakeReason = true
	yourTurn wakeReason = false
)

var pendingClaims = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pendingClaim{wake: make(chan wakeReason, 1), timer: t}
}}

func newPipeliner(client *redis.Client, timeout time.Duration) *pipeliner {
	return &pipeliner{client: client, timeout: timeout}
}

// claim sends SET key 1 NX PX ttlMilli, in a pipeline of its own or shared with the claims
// waiting with it, and returns its answer. It waits at most the timeout for its turn; the
// pipeline it sends is bounded by the timeout too.
func (p *pipeliner) claim(ctx context.Context, key string, ttlMilli int64) error {
	c := pendingClaims.Get().(*pendingClaim)
	c.key, c.ttlMilli = key, ttlMilli
	p.mu.Lock()
	if p.sending < maxInFlight {
		p.sending++
		p.mu.Unlock()
		c.alone[0] = c
		return p.sendTurn(c, c.alone[:])
	}
	if len(p.waiting) >= maxWaiting {
		p.mu.Unlock()
		pendingClaims.Put(c)
		return fmt.Errorf("%w: %d claims already wait for Redis", backend.ErrUnavailable, maxWaiting)
	}
	p.waiting = append(p.waiting, c)
	p.mu.Unlock()

	c.timer.Reset(p.timeout)
	var gaveUp error
	select {
	case reason := <-c.wake:
		c.timer.Stop()
		if reason == yourTurn {
			return p.sendTurn(c, c.batch)
		}
		return p.done(c)
	case <-c.timer.C:
		gaveUp = fmt.Errorf("%w: Redis did not answer within %v", backend.ErrUnavailable, p.timeout)
	case <-ctx.Done():
		c.timer.Stop()
		gaveUp = fmt.Errorf("%w: %w", backend.ErrUnavailable, ctx.Err())
	}
	return p.giveUp(c, gaveUp)
}

// giveUp ends a claim whose wait ended without an answer. A claim still waiting leaves the queue;
// one that was handed the turn meanwhile sends its batch anyway (the claims in it depend on it)
// and keeps its answer; one already in a pipeline in flight is left to it.
func (p *pipeliner) giveUp(c *pendingClaim, cause error) error {
	p.mu.Lock()
	if c.batch != nil {
		p.mu.Unlock()
		<-c.wake // the yourTurn sent with batch
		return p.sendTurn(c, c.batch)
	}
	if i := slices.Index(p.waiting, c); i >= 0 {
		p.waiting = slices.Delete(p.waiting, i, i+1)
		p.mu.Unlock()
		pendingClaims.Put(c)
		return cause
	}
	p.mu.Unlock()
	select {
	case <-c.wake: // answered just now after all
		return p.done(c)
	default:
		return cause // in a pipeline in flight, which will still write to c: c is not reused
	}
}

// sendTurn sends batch (c among it) as one pipeline, answers the others, hands the turn on with
// every claim waiting by then, and returns c's own answer.
func (p *pipeliner) sendTurn(c *pendingClaim, batch []*pendingClaim) error {
	p.send(batch)
	for _, other := range batch {
		if other != c {
			other.wake <- answered
		}
	}
	p.mu.Lock()
	if len(p.waiting) == 0 {
		p.sending--
	} else {
		next := p.waiting[0]
		next.batch, p.waiting = p.waiting, nil
		next.wake <- yourTurn
	}
	p.mu.Unlock()
	return p.done(c)
}

// done returns an answered claim's result and its pendingClaim to the pool.
func (p *pipeliner) done(c *pendingClaim) error {
	err := c.err
	c.key, c.err, c.batch, c.alone[0] = "", nil, nil, nil
	pendingClaims.Put(c)
	return err
}

// send runs one pipeline and stores each claim's answer in its err.
func (p *pipeliner) send(batch []*pendingClaim) {
	p.pipelines.Add(1)
	p.claims.Add(uint64(len(batch)))
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	pipe := p.client.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, c := range batch {
		cmds[i] = pipe.Do(ctx, "SET", c.key, "1", "NX", "PX", c.ttlMilli)
	}
	// Exec's own error is the first failed command's (redis.Nil included): each answer is read
	// from its command.
	_, _ = pipe.Exec(ctx)
	for i, c := range batch {
		c.err = claimResult(cmds[i])
	}
}

// claimResult reads the answer of one SET NX.
func claimResult(cmd *redis.Cmd) error {
	res, err := cmd.Result()
	switch {
	case errors.Is(err, redis.Nil):
		return backend.ErrReplayed // NX: the key exists, the value was claimed and is still live
	case err != nil:
		return fmt.Errorf("%w: %w", backend.ErrUnavailable, err)
	case res != "OK":
		return fmt.Errorf("%w: unexpected reply to SET", backend.ErrUnavailable)
	}
	return nil
}
