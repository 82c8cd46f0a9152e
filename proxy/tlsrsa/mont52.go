package tlsrsa

import (
	"math/big"
	"math/bits"
)

// Numbers of up to 1040 bits are held as 20 limbs of 52 bits, the width
// AVX-512 IFMA multiplies (VPMADD52LUQ/HUQ give the low and high 52 bits
// of a 52×52-bit product), padded to 24 words: three 512-bit registers.
// A 2048-bit RSA key's primes are 1024-bit numbers, so the CRT halves of
// a private-key operation fit.
const (
	limbs  = 20
	words  = 24
	mask52 = 1<<52 - 1
	rBits  = 52 * limbs // R = 2^1040, the Montgomery radix
	window = 5          // exponentiation window (32-entry tables)
)

type nat52 [words]uint64

// modulus is a prime's Montgomery context.
type modulus struct {
	m   nat52  // the modulus, odd, < 2^1024
	k0  uint64 // -m^-1 mod 2^52
	rr  nat52  // R^2 mod m
	rrr nat52  // R^3 mod m
	one nat52  // 1
}

// newModulus prepares m (odd, at most 1024 bits). The R powers are
// computed with constant-time doublings: m is secret.
func newModulus(m *big.Int) *modulus {
	md := &modulus{}
	md.m = fromBig(m)
	md.k0 = negInv52(md.m[0])
	md.one[0] = 1
	// R mod m by 1040 doublings of 1 mod m, then R^2 and R^3 through
	// Montgomery multiplications (amm(x, y) = x·y/R).
	var r nat52
	r[0] = 1
	for i := 0; i < rBits; i++ {
		modDouble(&r, &md.m)
	}
	// r = R mod m; R^2 mod m = r·2^1040: 1040 more doublings.
	rr := r
	for i := 0; i < rBits; i++ {
		modDouble(&rr, &md.m)
	}
	md.rr = rr
	ammGeneric(&md.rrr, &rr, &rr, &md.m, md.k0) // R^4/R = R^3 (almost reduced)
	reduceOnce(&md.rrr, &md.m)
	return md
}

// negInv52 returns -x^-1 mod 2^52 for odd x (Newton's iteration).
func negInv52(x uint64) uint64 {
	inv := x // correct to 3 bits for odd x
	for i := 0; i < 6; i++ {
		inv *= 2 - x*inv
	}
	return (-inv) & mask52
}

// modDouble sets x = 2x mod m for x < m, in constant time.
func modDouble(x, m *nat52) {
	var c uint64
	for i := 0; i < limbs; i++ {
		v := x[i]<<1 | c
		c = v >> 52
		x[i] = v & mask52
	}
	// x now < 2m (and c is 0 for m < 2^1039): subtract m if x >= m.
	reduceOnce(x, m)
}

// reduceOnce subtracts m from x when x >= m (x < 2m), in constant time.
func reduceOnce(x, m *nat52) {
	var d nat52
	var borrow uint64
	for i := 0; i < limbs; i++ {
		v := x[i] - m[i] - borrow
		d[i] = v & mask52
		borrow = v >> 63
	}
	// borrow 1: x < m, keep x.
	keep := -borrow
	for i := 0; i < limbs; i++ {
		x[i] = x[i]&keep | d[i]&^keep
	}
}

// addMod sets z = x + y with both in [0, 2m): the sum, normalized, stays
// below 4m < 2^1040, which the Montgomery multiplication accepts.
func addNorm(z, x, y *nat52) {
	var c uint64
	for i := 0; i < limbs; i++ {
		v := x[i] + y[i] + c
		z[i] = v & mask52
		c = v >> 52
	}
}

// ammGeneric is the almost Montgomery multiplication z = x·y/R mod m,
// z < 2m for x·y < R·m: the reference the assembly matches. Each step adds
// the low halves of x[i]·y and of q·m (q making the lowest limb zero),
// drops that limb, then adds the high halves, which belong one limb up.
func ammGeneric(z, x, y, m *nat52, k0 uint64) {
	var acc [limbs + 1]uint64
	for i := 0; i < limbs; i++ {
		xi := x[i]
		for j := 0; j < limbs; j++ {
			acc[j] += lo52(xi, y[j])
		}
		q := (acc[0] * k0) & mask52
		for j := 0; j < limbs; j++ {
			acc[j] += lo52(q, m[j])
		}
		carry := acc[0] >> 52
		copy(acc[:limbs], acc[1:limbs+1])
		acc[limbs-1] = 0
		acc[0] += carry
		for j := 0; j < limbs; j++ {
			acc[j] += hi52(xi, y[j]) + hi52(q, m[j])
		}
	}
	var c uint64
	for j := 0; j < limbs; j++ {
		v := acc[j] + c
		z[j] = v & mask52
		c = v >> 52
	}
	for j := limbs; j < words; j++ {
		z[j] = 0
	}
}

func lo52(x, y uint64) uint64 {
	_, lo := bits.Mul64(x, y)
	return lo & mask52
}

func hi52(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x, y)
	return hi<<12 | lo>>52
}

// fromBig converts x (< 2^1040) to limbs.
func fromBig(x *big.Int) nat52 {
	var be [rBits / 8]byte
	x.FillBytes(be[:])
	var z nat52
	limbsFromBytes(z[:limbs], be[:])
	return z
}

// limbsFromBytes sets z (52-bit limbs) from the big-endian be, which must
// fit; the same operations whatever the value.
func limbsFromBytes(z []uint64, be []byte) {
	n := len(be)
	for k := range z {
		bit := 52 * k
		var v uint64
		// The limb's bits start in byte bit/8 (from the right); eight
		// bytes cover 52 bits at any shift below 8.
		for b := 7; b >= 0; b-- {
			pos := bit/8 + b // byte index from the right
			var c byte
			if pos < n {
				c = be[n-1-pos]
			}
			v = v<<8 | uint64(c)
		}
		z[k] = v >> (bit % 8) & mask52
	}
}

// bytesFromLimbs writes x (52-bit limbs) big-endian into be, which must
// be large enough.
func bytesFromLimbs(be []byte, x []uint64) {
	n := len(be)
	for i := range be {
		be[i] = 0
	}
	for k, v := range x {
		bit := 52 * k
		// 52 bits shifted by at most 7 fit in eight bytes.
		w := v << (bit % 8)
		for b := 0; b < 8; b++ {
			if pos := bit/8 + b; pos < n {
				be[n-1-pos] |= byte(w >> (8 * b))
			}
		}
	}
}

// toBig converts limbs to a big.Int (tests, public results).
func toBig(x *nat52) *big.Int {
	z := new(big.Int)
	for i := limbs - 1; i >= 0; i-- {
		z.Lsh(z, 52)
		z.Or(z, new(big.Int).SetUint64(x[i]))
	}
	return z
}
