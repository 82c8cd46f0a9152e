package acl

// filterFetches are the fetches about the filters' work on the response
// (configuration.txt §7.3.6): whether the cache answered it and which
// cache, whether it is compressed and with what.
func filterFetches() []*fetchDef {
	return []*fetchDef{
		// res.cache_hit: the response was built from a cache entry.
		{name: "res.cache_hit", out: KBool, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			return boolVal(tx != nil && tx.Applet != nil && tx.Cache.Entry != nil), true
		})},
		// res.cache_name: the cache it came from; no sample otherwise.
		{name: "res.cache_name", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil || tx.Applet == nil || tx.Cache.Name == "" {
				return Value{}, false
			}
			return Value{Kind: KStr, B: strBytes(tx.Cache.Name)}, true
		})},
		// res.comp: the response is compressed.
		{name: "res.comp", out: KBool, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			return boolVal(tx != nil && tx.Comp != ""), true
		})},
		// res.comp_algo: the algorithm compressing it; no sample otherwise.
		{name: "res.comp_algo", out: KStr, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			tx := c.engine()
			if tx == nil || tx.Comp == "" {
				return Value{}, false
			}
			return Value{Kind: KStr, B: strBytes(tx.Comp)}, true
		})},
	}
}
