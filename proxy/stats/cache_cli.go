package stats

import (
	"strings"

	"halo/proxy"
)

// The cache's command of the runtime API (management.txt §9.3 "show
// cache"): each cache and its entries, in HAProxy 2.6's format (package
// cache writes it).

func cacheCommands() []command {
	return []command{
		{[]string{"show", "cache"}, "show cache", "show cache status", LevelAdmin, cmdShowCache},
	}
}

func cmdShowCache(s *Stats, sess *Session, args []string) string {
	if s.showCache == nil {
		return "\n"
	}
	var b strings.Builder
	s.showCache(&b)
	b.WriteByte('\n')
	return b.String()
}

// setFilterCounters fills the cache and compression columns of an HTTP
// frontend or backend row.
func setFilterCounters(r Row, c *proxy.Counters) {
	r.setI("cache_lookups", c.CacheLookups.Load())
	r.setI("cache_hits", c.CacheHits.Load())
	r.setI("comp_in", c.CompIn.Load())
	r.setI("comp_out", c.CompOut.Load())
	r.setI("comp_rsp", c.CompRsp.Load())
}
