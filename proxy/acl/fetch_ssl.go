package acl

// sslFetches are the fetches about the client's TLS session
// (configuration.txt §7.3.4) that the runtime answers.
func sslFetches() []*fetchDef {
	return []*fetchDef{
		{name: "ssl_fc", out: KBool, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return boolVal(c.T.SSL()), true
		})},
		{name: "ssl_fc_sni", out: KStr, fn: strFetch(func(c *Ctx) []byte { return c.T.SNI() })},
		{name: "ssl_fc_has_sni", out: KBool, fn: single(func(c *Ctx, f *fetch) (Value, bool) {
			return boolVal(len(c.T.SNI()) > 0), true
		})},
	}
}
