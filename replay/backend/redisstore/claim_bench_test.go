package redisstore_test

import (
	"context"
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/obgate/obgate/internal/redistest"
	"github.com/obgate/obgate/replay/backend/redisstore"
)

// BenchmarkClaim measures concurrent claims against a real redis-server on loopback: the
// gateway's CPU per claim (this process), the server's (INFO cpu), and the claims a pipeline
// carried on average, with 8 and 32 concurrent claimers.
//
//	go test -run '^$' -bench Claim -benchtime 20000x ./replay/backend/redisstore
func BenchmarkClaim(b *testing.B) {
	srv := redistest.Start(b)
	r := newRedis(b, redisstore.RedisOptions{Addr: srv.Addr})
	st := r.Scope("bench")
	var seq atomic.Uint64
	for _, claimers := range []int{8, 32} {
		b.Run(strconv.Itoa(claimers), func(b *testing.B) {
			b.SetParallelism((claimers + 1) / 2)
			cpu0, srv0 := processCPU(), serverCPU(b, srv)
			pipes0, claims0 := r.Stats()
			b.RunParallel(func(pb *testing.PB) {
				var v [32]byte
				for pb.Next() {
					binary.BigEndian.PutUint64(v[:], seq.Add(1))
					if err := st.Claim(context.Background(), v, time.Now().Add(time.Minute)); err != nil {
						b.Error(err)
					}
				}
			})
			pipes, claims := r.Stats()
			b.ReportMetric(float64(claims-claims0)/float64(pipes-pipes0), "claims/pipeline")
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N)/1e3, "gateway-cpu-µs/claim")
			b.ReportMetric(float64((serverCPU(b, srv)-srv0).Nanoseconds())/float64(b.N)/1e3, "server-cpu-µs/claim")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func serverCPU(b *testing.B, srv *redistest.Server) time.Duration {
	d, err := srv.CPU()
	if err != nil {
		b.Fatal(err)
	}
	return d
}
