package tlsrsa

// Constant-time modular exponentiation on the 52-bit limbs: a fixed
// 5-bit window over the whole exponent width (the same squarings and
// multiplications whatever its value), the window's power taken from the
// table by reading every entry (no secret-dependent address), both CRT
// halves in lock step so that the assembly runs their Montgomery
// multiplications side by side.

const expBits = 1024 // exponent width: the private exponent's CRT halves

type table [1 << window]nat52

// expWords is an exponent as little-endian 64-bit words.
type expWords [expBits / 64]uint64

// windowAt returns the exponent's bits [pos, pos+n).
func (e *expWords) windowAt(pos, n int) uint64 {
	w := e[pos/64] >> (pos % 64)
	if pos%64+n > 64 && pos/64+1 < len(e) {
		w |= e[pos/64+1] << (64 - pos%64)
	}
	return w & (1<<n - 1)
}

// lookup sets z to t[idx] without an index-dependent access.
func lookup(z *nat52, t *table, idx uint64) {
	*z = nat52{}
	for i := range t {
		// mask is all ones for i == idx: (i^idx)-1 borrows only at 0.
		mask := -((uint64(i) ^ idx - 1) >> 63)
		for j := 0; j < limbs; j++ {
			z[j] |= t[i][j] & mask
		}
	}
}

// exp2 computes z1 = x1^e1 mod m1 and z2 = x2^e2 mod m2, exactly reduced;
// x1 and x2 are in Montgomery form (below 4m).
func exp2(z1, z2, x1, x2 *nat52, e1, e2 *expWords, m1, m2 *modulus, t1, t2 *table) {
	// t[0] = R mod m (Montgomery 1), t[i] = x^i.
	amm2(&t1[0], &t2[0], &m1.one, &m2.one, &m1.rr, &m2.rr, m1, m2)
	t1[1], t2[1] = *x1, *x2
	for i := 2; i < len(t1); i++ {
		amm2(&t1[i], &t2[i], &t1[i-1], &t2[i-1], x1, x2, m1, m2)
	}
	a1, a2 := t1[0], t2[0]
	var w1, w2 nat52
	// The first window holds the top expBits%window bits (4 here).
	pos := expBits - expBits%window
	n := expBits % window
	if n == 0 {
		pos, n = expBits-window, window
	}
	for {
		for s := 0; s < n; s++ {
			amm2(&a1, &a2, &a1, &a2, &a1, &a2, m1, m2)
		}
		if useIFMA {
			lookup2(&w1, &w2, t1, t2, e1.windowAt(pos, n), e2.windowAt(pos, n))
		} else {
			lookup(&w1, t1, e1.windowAt(pos, n))
			lookup(&w2, t2, e2.windowAt(pos, n))
		}
		amm2(&a1, &a2, &a1, &a2, &w1, &w2, m1, m2)
		if pos == 0 {
			break
		}
		pos -= window
		n = window
	}
	// Out of Montgomery form: a·1/R, then exactly below m.
	amm2(z1, z2, &a1, &a2, &m1.one, &m2.one, m1, m2)
	reduceOnce(z1, &m1.m)
	reduceOnce(z2, &m2.m)
}

// amm2 runs two almost Montgomery multiplications, z1 = x1·y1/R mod m1
// and z2 = x2·y2/R mod m2 (the assembly interleaves them).
func amm2(z1, z2, x1, x2, y1, y2 *nat52, m1, m2 *modulus) {
	if useIFMA {
		amm52x2(z1, x1, y1, &m1.m, m1.k0, z2, x2, y2, &m2.m, m2.k0)
		return
	}
	ammGeneric(z1, x1, y1, &m1.m, m1.k0)
	ammGeneric(z2, x2, y2, &m2.m, m2.k0)
}
