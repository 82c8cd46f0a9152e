package rules

import (
	"fmt"

	"halo/proxy"
	"halo/proxy/acl"
)

// The cache's actions (configuration.txt §6.2.2): `http-request cache-use
// NAME` looks the request up in a cache, whose hit then answers it;
// `http-response cache-store NAME` stores the response. Package cache
// implements them; L7.Cache hands them to the rules.

// CacheAction is what a proxy's cache-use and cache-store rules of one
// cache run.
type CacheAction interface {
	Use(tx *proxy.Txn)
	Store(tx *proxy.Txn)
}

func cacheActions() []*actionDef {
	return []*actionDef{
		{ActionInfo{Name: "cache-use", Rulesets: HTTPRequest}, compileCache},
		{ActionInfo{Name: "cache-store", Rulesets: HTTPResponse}, compileCache},
	}
}

func compileCache(r *Rule, a *actionCtx) error {
	if len(a.args) != 1 {
		return fmt.Errorf("expects a cache name")
	}
	if a.env.Cache == nil {
		return fmt.Errorf("unable to find the cache '%s' referenced by the filter 'cache'", a.args[0])
	}
	c, err := a.env.Cache(a.args[0])
	if err != nil {
		return err
	}
	r.kind, r.cache = kCacheUse, c
	if a.response {
		r.kind = kCacheStore
	}
	return nil
}

// runCache runs a cache rule on the engine's transaction.
func runCache(r *Rule, st *State) {
	e, ok := st.T.(acl.EngineTxn)
	if !ok {
		return
	}
	tx := e.Engine()
	if tx == nil {
		return
	}
	if r.kind == kCacheUse {
		r.cache.Use(tx)
	} else {
		r.cache.Store(tx)
	}
}
