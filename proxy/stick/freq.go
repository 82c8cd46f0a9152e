package stick

// Frequency counters as HAProxy's struct freq_ctr with a period in
// milliseconds (src/freq_ctr.c): the events of the current period plus
// those of the previous one weighted by the part of the period that
// remains, so a rate slides instead of dropping to zero at each period
// boundary. Ticks are HAProxy's millisecond clock values (now_ms), which
// wrap; the period start keeps its lowest bit clear (HAProxy uses it as a
// lock bit).
//
// A counter is three words of an entry: [0] the tick its current period
// started at, [1] the events of the current period, [2] those of the
// previous one. Callers hold the entry's shard lock.

// freqUpdate adds inc events at tick now and returns the current period's
// count (update_freq_ctr_period).
func freqUpdate(w []uint32, now, period, inc uint32) uint32 {
	if now-w[0] < period {
		w[1] += inc
		return w[1]
	}
	// rotate: the current period becomes the previous one
	w[2], w[1] = w[1], inc
	tick := w[0] + period
	if now-tick >= period {
		// two periods or more went by without an event
		w[2] = 0
		tick = now
	}
	w[0] = tick &^ 1
	return inc
}

// freqTotal is freq_ctr_total: the events over the current and the
// previous period, scaled by period. pend < 0 asks for the flapping
// correction of very low rates (a lone past event keeps reading as 1).
func freqTotal(w []uint32, now, period uint32, pend int) uint64 {
	curr, past := uint64(w[1]), uint64(w[2])
	remain := int32(w[0] + period - now)
	if remain < 0 {
		// past the current period: report a part of it as the previous
		// one, or nothing when two periods went by
		remain += int32(period)
		if remain >= 0 {
			past = curr
		} else {
			past = 0
		}
		curr = 0
	}
	if pend < 0 {
		pend = 0
		if curr == 0 && past <= 1 {
			return past * uint64(period)
		}
	}
	return past*uint64(uint32(remain)) + (curr+uint64(pend))*uint64(period)
}

// freqRead is read_freq_ctr_period: the event rate over the period.
func freqRead(w []uint32, now, period uint32) uint32 {
	if period == 0 {
		return 0
	}
	return uint32(freqTotal(w, now, period, -1) / uint64(period))
}
