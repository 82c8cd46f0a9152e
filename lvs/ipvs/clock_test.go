package ipvs

import (
	"context"
	"time"
)

type (
	time0    = time.Time
	contextT = context.Context
)

// Sleep returns at once: the fake prober paces the test.
func (instantClock) Sleep(ctx context.Context, _ time.Duration) bool { return ctx.Err() == nil }
