package balance

import (
	"context"
	"net/netip"
	"testing"
)

// Picking and releasing a server allocates nothing, for every algorithm
// (the per-request hot path).
func TestTakeReleaseNoAlloc(t *testing.T) {
	srvs := []ServerConfig{{Name: "a", Weight: 3}, {Name: "b", Weight: 1, Maxconn: 100}, {Name: "c", Weight: 2}}
	h := byteHdrs{"x-k": []byte("value")}
	for _, cfg := range []Config{
		{Algo: RoundRobin}, {Algo: StaticRR}, {Algo: LeastConn}, {Algo: First}, {Algo: Random},
		{Algo: Source}, {Algo: URI, Consistent: true, Avalanche: true}, {Algo: URLParam, Param: "id"}, {Algo: Hdr, Param: "x-k"},
	} {
		t.Run(cfg.Algo.String(), func(t *testing.T) {
			b := mustNew(t, cfg, srvs...)
			req := &Request{Src: netip.AddrFrom4([4]byte{10, 1, 2, 3}), URI: []byte("/p/q?id=42"), Headers: h}
			ctx := context.Background()
			n := testing.AllocsPerRun(200, func() {
				s, err := b.Take(ctx, req, nil)
				if err != nil {
					t.Fatal(err)
				}
				b.Release(s)
			})
			if n != 0 {
				t.Fatalf("%v allocations per take/release", n)
			}
		})
	}
}

func BenchmarkTakeRelease(b *testing.B) {
	be, _ := New(Config{Algo: RoundRobin}, []ServerConfig{{Name: "a", Weight: 3}, {Name: "b", Weight: 1}, {Name: "c", Weight: 2}})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, _ := be.Take(ctx, nil, nil)
		be.Release(s)
	}
}

// byteHdrs answers header lookups without converting (no allocation).
type byteHdrs map[string][]byte

func (h byteHdrs) LookupHeader(n string) ([]byte, bool) {
	v, ok := h[n]
	return v, ok
}
