package acl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"math/bits"
	"strings"
)

// yescrypt ($y$), the password hash of Debian 12's passwd and mkpasswd,
// implemented from its specification and reference (Alexander Peslyak's
// yescrypt 1.1, as libxcrypt runs it): scrypt's structure with the
// pwxform S-box mixing of the default flavor (RW, 6 rounds, gather 4,
// simple 2, 12 KiB S-boxes), no ROM.

const (
	ycRW     = 0x002
	ycRWMask = 0x3fc // flavor bits above the mode
	// the only flavor the specification defines: ROUNDS_6 | GATHER_4 |
	// SIMPLE_2 | SBOX_12K
	ycDefaultFlavor = 0x004 | 0x010 | 0x020 | 0x080

	pwxSimple  = 2
	pwxGather  = 4
	pwxRounds  = 6
	sWidth     = 8
	pwxWords   = pwxGather * pwxSimple * 2 // uint32 words per pwxform block
	sBytes     = 3 * (1 << sWidth) * pwxSimple * 8
	sWords     = sBytes / 4
	sMask      = ((1 << sWidth) - 1) * pwxSimple * 8
	sPairs     = (1 << sWidth) * pwxSimple // 64-bit entries per S-box
	ycHashSize = 32
)

// ycAtoi64 decodes one character of crypt's base-64 alphabet (64: not one).
func ycAtoi64(c byte) uint32 {
	if i := strings.IndexByte(itoa64, c); i >= 0 {
		return uint32(i)
	}
	return 64
}

// ycDecodeUint32 reads yescrypt's variable-length parameter encoding.
func ycDecodeUint32(s string, min uint32) (uint32, string, bool) {
	if s == "" {
		return 0, s, false
	}
	c := ycAtoi64(s[0])
	s = s[1:]
	if c > 63 {
		return 0, s, false
	}
	start, end, chars, nbits := uint32(0), uint32(47), 1, uint32(0)
	v := min
	for c > end {
		v += (end + 1 - start) << nbits
		start = end + 1
		end = start + (62-end)/2
		chars++
		nbits += 6
	}
	v += (c - start) << nbits
	for ; chars > 1; chars-- {
		if s == "" {
			return 0, s, false
		}
		c = ycAtoi64(s[0])
		s = s[1:]
		if c > 63 {
			return 0, s, false
		}
		nbits -= 6
		v += c << nbits
	}
	return v, s, true
}

// ycDecode64 is yescrypt's little-endian base-64 decoding of salts and
// hashes (groups of up to 4 characters into up to 3 bytes).
func ycDecode64(s string) ([]byte, bool) {
	var out []byte
	for len(s) > 0 {
		var value, nbits uint32
		for len(s) > 0 && nbits < 24 {
			c := ycAtoi64(s[0])
			if c > 63 {
				return nil, false
			}
			s = s[1:]
			value |= c << nbits
			nbits += 6
		}
		if nbits < 12 {
			return nil, false
		}
		for nbits >= 8 {
			out = append(out, byte(value))
			value >>= 8
			nbits -= 8
		}
		if value != 0 {
			return nil, false
		}
	}
	return out, true
}

// ycEncode64 is ycDecode64's inverse.
func ycEncode64(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		var value, nbits uint32
		for nbits < 24 && i < len(src) {
			value |= uint32(src[i]) << nbits
			i++
			nbits += 8
		}
		for b := uint32(0); b < nbits; b += 6 {
			dst = append(dst, itoa64[value&0x3f])
			value >>= 6
		}
	}
	return dst
}

// checkYescrypt verifies pass against "$y$params$salt$hash".
func checkYescrypt(stored string, pass []byte) bool {
	s := stored[3:]
	flavor, s, ok := ycDecodeUint32(s, 0)
	if !ok || flavor < ycRW || flavor > ycRW+(ycRWMask>>2) {
		return false // the classic scrypt and WORM modes are not offered by crypt(3)
	}
	flags := uint32(ycRW + (flavor-ycRW)<<2)
	if flags&ycRWMask != ycDefaultFlavor {
		return false
	}
	nLog2, s, ok := ycDecodeUint32(s, 1)
	if !ok || nLog2 > 63 {
		return false
	}
	r, s, ok := ycDecodeUint32(s, 1)
	if !ok {
		return false
	}
	p, t := uint32(1), uint32(0)
	if s != "" && s[0] != '$' {
		var have uint32
		if have, s, ok = ycDecodeUint32(s, 1); !ok {
			return false
		}
		if have&1 != 0 {
			if p, s, ok = ycDecodeUint32(s, 2); !ok {
				return false
			}
		}
		if have&2 != 0 {
			if t, s, ok = ycDecodeUint32(s, 1); !ok {
				return false
			}
		}
		if have&^3 != 0 {
			return false // hash upgrades (g) and ROMs are not used by crypt(3)
		}
	}
	if s == "" || s[0] != '$' {
		return false
	}
	prefix := stored[:len(stored)-len(s)+1]
	s = s[1:]
	i := strings.LastIndexByte(s, '$')
	if i < 0 {
		return false
	}
	salt, ok := ycDecode64(s[:i])
	if !ok {
		return false
	}
	n := uint64(1) << nLog2
	// Refuse what the reference refuses, and costs no verification
	// should reach: more than 1 GiB of V.
	if n <= 1 || r < 1 || p < 1 || uint64(r)*uint64(p) >= 1<<30 || n/uint64(p) <= 1 ||
		uint64(128)*uint64(r)*n > 1<<30 {
		return false
	}
	hash := yescryptKDF(pass, salt, flags, n, r, p, t, ycHashSize)
	want := ycEncode64([]byte(prefix+s[:i]+"$"), hash)
	return subtle.ConstantTimeCompare(want, []byte(stored)) == 1
}

// yescryptKDF is yescrypt_kdf: for large costs a pre-hashing pass with
// N/64, then the main pass.
func yescryptKDF(passwd, salt []byte, flags uint32, n uint64, r, p, t uint32, dkLen int) []byte {
	if flags&ycRW != 0 && p >= 1 && n/uint64(p) >= 0x100 && n/uint64(p)*uint64(r) >= 0x20000 {
		passwd = yescryptBody(passwd, salt, flags, true, n>>6, r, p, 0, 32)
	}
	return yescryptBody(passwd, salt, flags, false, n, r, p, t, dkLen)
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

func yescryptBody(passwd, salt []byte, flags uint32, prehash bool, n uint64, r, p, t uint32, dkLen int) []byte {
	key := "yescrypt-prehash"
	if !prehash {
		key = key[:8]
	}
	pw := hmacSHA256([]byte(key), passwd) // flags are never 0 here
	bBytes, _ := pbkdf2.Key(sha256.New, string(pw), salt, 1, int(128*r*p))
	copy(pw, bBytes[:32])
	b := make([]uint32, len(bBytes)/4)
	for i := range b {
		b[i] = binary.LittleEndian.Uint32(bBytes[4*i:])
	}
	v := make([]uint32, 32*uint64(r)*n)
	xy := make([]uint32, 64*r)
	ctxs := make([]pwxCtx, p)
	sbox := make([]uint32, sWords*int(p))
	for i := range ctxs {
		ctxs[i].words = sbox[i*sWords : (i+1)*sWords]
		ctxs[i].s = make([]uint64, sWords/2)
	}
	smix(b, int(r), n, p, t, flags, v, xy, ctxs, pw)
	for i, w := range b {
		binary.LittleEndian.PutUint32(bBytes[4*i:], w)
	}
	out, _ := pbkdf2.Key(sha256.New, string(pw), bBytes, 1, dkLen)
	if !prehash {
		dk := out
		if dkLen < 32 {
			dk, _ = pbkdf2.Key(sha256.New, string(pw), bBytes, 1, 32)
		}
		// ClientKey and StoredKey, as SCRAM (RFC 5802) computes them.
		stored := sha256.Sum256(hmacSHA256(dk[:32], []byte("Client Key")))
		copy(out, stored[:min(dkLen, 32)])
	}
	return out
}

// pwxCtx is one lane's S-boxes: s holds S2, S1, S0 (in that initial
// order) as 64-bit entries (lo | hi<<32 of the reference's word pairs);
// s0, s1, s2 are entry offsets. words is the S-box memory as words while
// it is filled.
type pwxCtx struct {
	words      []uint32
	s          []uint64
	s0, s1, s2 int
	w          int
}

func salsa20(b []uint32, rounds int) {
	var x [16]uint32
	for i := range 16 {
		x[i*5%16] = b[i]
	}
	for i := 0; i < rounds; i += 2 {
		x[4] ^= bits.RotateLeft32(x[0]+x[12], 7)
		x[8] ^= bits.RotateLeft32(x[4]+x[0], 9)
		x[12] ^= bits.RotateLeft32(x[8]+x[4], 13)
		x[0] ^= bits.RotateLeft32(x[12]+x[8], 18)
		x[9] ^= bits.RotateLeft32(x[5]+x[1], 7)
		x[13] ^= bits.RotateLeft32(x[9]+x[5], 9)
		x[1] ^= bits.RotateLeft32(x[13]+x[9], 13)
		x[5] ^= bits.RotateLeft32(x[1]+x[13], 18)
		x[14] ^= bits.RotateLeft32(x[10]+x[6], 7)
		x[2] ^= bits.RotateLeft32(x[14]+x[10], 9)
		x[6] ^= bits.RotateLeft32(x[2]+x[14], 13)
		x[10] ^= bits.RotateLeft32(x[6]+x[2], 18)
		x[3] ^= bits.RotateLeft32(x[15]+x[11], 7)
		x[7] ^= bits.RotateLeft32(x[3]+x[15], 9)
		x[11] ^= bits.RotateLeft32(x[7]+x[3], 13)
		x[15] ^= bits.RotateLeft32(x[11]+x[7], 18)

		x[1] ^= bits.RotateLeft32(x[0]+x[3], 7)
		x[2] ^= bits.RotateLeft32(x[1]+x[0], 9)
		x[3] ^= bits.RotateLeft32(x[2]+x[1], 13)
		x[0] ^= bits.RotateLeft32(x[3]+x[2], 18)
		x[6] ^= bits.RotateLeft32(x[5]+x[4], 7)
		x[7] ^= bits.RotateLeft32(x[6]+x[5], 9)
		x[4] ^= bits.RotateLeft32(x[7]+x[6], 13)
		x[5] ^= bits.RotateLeft32(x[4]+x[7], 18)
		x[11] ^= bits.RotateLeft32(x[10]+x[9], 7)
		x[8] ^= bits.RotateLeft32(x[11]+x[10], 9)
		x[9] ^= bits.RotateLeft32(x[8]+x[11], 13)
		x[10] ^= bits.RotateLeft32(x[9]+x[8], 18)
		x[12] ^= bits.RotateLeft32(x[15]+x[14], 7)
		x[13] ^= bits.RotateLeft32(x[12]+x[15], 9)
		x[14] ^= bits.RotateLeft32(x[13]+x[12], 13)
		x[15] ^= bits.RotateLeft32(x[14]+x[13], 18)
	}
	for i := range 16 {
		b[i] += x[i*5%16]
	}
}

func blkxor(dst, src []uint32) {
	for i := range dst {
		dst[i] ^= src[i]
	}
}

// blockmixSalsa8 is scrypt's BlockMix with salsa20/8 (y: 32r words).
func blockmixSalsa8(b, y []uint32, r int) {
	var x [16]uint32
	copy(x[:], b[(2*r-1)*16:])
	for i := 0; i < 2*r; i++ {
		blkxor(x[:], b[i*16:(i+1)*16])
		salsa20(x[:], 8)
		copy(y[i*16:], x[:])
	}
	for i := range r {
		copy(b[i*16:(i+1)*16], y[(2*i)*16:])
		copy(b[(i+r)*16:(i+r+1)*16], y[(2*i+1)*16:])
	}
}

// pwxform mixes a 16-word block through the lane's S-boxes, writing S2
// as it goes, then rotates the S-boxes.
func pwxform(x *[pwxWords]uint32, c *pwxCtx) {
	s := c.s[:3*sPairs]
	s0, s1, s2, w := c.s0, c.s1, c.s2, c.w
	for i := range pwxRounds {
		for j := range pwxGather {
			o := j * pwxSimple * 2
			p0 := s0 + int(x[o]&sMask)/8
			p1 := s1 + int(x[o+1]&sMask)/8
			for k := range pwxSimple {
				v := uint64(x[o+1])*uint64(x[o]) + s[p0+k]
				v ^= s[p1+k]
				x[o], x[o+1] = uint32(v), uint32(v>>32)
				if i != 0 && i != pwxRounds-1 {
					s[s2+w] = v
					w++
				}
				o += 2
			}
		}
	}
	c.s0, c.s1, c.s2 = s2, s0, s1
	c.w = w & (sPairs - 1)
}

// blockmixPwxform is BlockMix_pwxform{salsa20/2}.
func blockmixPwxform(b, y []uint32, c *pwxCtx, r int) {
	r1 := 128 * r / (pwxWords * 4)
	var x [pwxWords]uint32
	copy(x[:], b[(r1-1)*pwxWords:])
	for i := range r1 {
		if r1 > 1 {
			blkxor(x[:], b[i*pwxWords:(i+1)*pwxWords])
		}
		pwxform(&x, c)
		copy(b[i*pwxWords:], x[:])
	}
	i := (r1 - 1) * pwxWords * 4 / 64
	salsa20(b[i*16:(i+1)*16], 2)
	for i++; i < 2*r; i++ {
		blkxor(b[i*16:(i+1)*16], b[(i-1)*16:i*16])
		salsa20(b[i*16:(i+1)*16], 2)
	}
}

func integerify(b []uint32, r int) uint64 {
	x := b[(2*r-1)*16:]
	return uint64(x[13])<<32 | uint64(x[0])
}

func p2floor(x uint64) uint64 {
	for y := x & (x - 1); y != 0; y = x & (x - 1) {
		x = y
	}
	return x
}

func wrap(x, i uint64) uint64 {
	n := p2floor(i)
	return x&(n-1) + (i - n)
}

// shuffle / unshuffle move a block between its stored order and the
// order salsa20's SIMD layout works in.
func shuffleIn(x, b []uint32, r int) {
	for k := 0; k < 2*r; k++ {
		for i := range 16 {
			x[k*16+i] = b[k*16+i*5%16]
		}
	}
}

func shuffleOut(b, x []uint32, r int) {
	for k := 0; k < 2*r; k++ {
		for i := range 16 {
			b[k*16+i*5%16] = x[k*16+i]
		}
	}
}

func smix1(b []uint32, r int, n uint64, flags uint32, v, xy []uint32, c *pwxCtx) {
	s := 32 * r
	x, y := xy[:s], xy[s:]
	shuffleIn(x, b, r)
	for i := uint64(0); i < n; i++ {
		copy(v[i*uint64(s):], x)
		if flags&ycRW != 0 && i > 1 {
			j := wrap(integerify(x, r), i)
			blkxor(x, v[j*uint64(s):(j+1)*uint64(s)])
		}
		if c != nil {
			blockmixPwxform(x, y, c, r)
		} else {
			blockmixSalsa8(x, y, r)
		}
	}
	shuffleOut(b, x, r)
}

func smix2(b []uint32, r int, n, nloop uint64, flags uint32, v, xy []uint32, c *pwxCtx) {
	s := uint64(32 * r)
	x, y := xy[:s], xy[s:]
	shuffleIn(x, b, r)
	for i := uint64(0); i < nloop; i++ {
		j := integerify(x, r) & (n - 1)
		blkxor(x, v[j*s:(j+1)*s])
		if flags&ycRW != 0 {
			copy(v[j*s:], x)
		}
		if c != nil {
			blockmixPwxform(x, y, c, r)
		} else {
			blockmixSalsa8(x, y, r)
		}
	}
	shuffleOut(b, x, r)
}

func smix(b []uint32, r int, n uint64, p, t uint32, flags uint32, v, xy []uint32, ctxs []pwxCtx, passwd []byte) {
	s := 32 * r
	nchunk := n / uint64(p)
	nloopAll := nchunk
	if t <= 1 {
		if t != 0 {
			nloopAll *= 2
		}
		nloopAll = (nloopAll + 2) / 3
	} else {
		nloopAll *= uint64(t - 1)
	}
	nloopRW := nloopAll / uint64(p)
	nchunk &^= 1
	nloopAll = (nloopAll + 1) &^ 1
	nloopRW = (nloopRW + 1) &^ 1
	var vchunk uint64
	for i := uint32(0); i < p; i, vchunk = i+1, vchunk+nchunk {
		np := nchunk
		if i == p-1 {
			np = n - vchunk
		}
		bp := b[int(i)*s : int(i+1)*s]
		vp := v[vchunk*uint64(s):]
		c := &ctxs[i]
		// the S-boxes come from this lane's block through salsa20/8
		smix1(bp, 1, sBytes/128, 0, c.words, xy, nil)
		for e := range c.s {
			c.s[e] = uint64(c.words[2*e]) | uint64(c.words[2*e+1])<<32
		}
		c.s2, c.s1, c.s0, c.w = 0, sPairs, 2*sPairs, 0
		if i == 0 {
			var k [64]byte
			for w := range 16 {
				binary.LittleEndian.PutUint32(k[4*w:], bp[s-16+w])
			}
			copy(passwd, hmacSHA256(k[:], passwd[:32]))
		}
		smix1(bp, r, np, flags, vp, xy, c)
		smix2(bp, r, p2floor(np), nloopRW, flags, vp, xy, c)
	}
	for i := range p {
		smix2(b[int(i)*s:int(i+1)*s], r, n, nloopAll-nloopRW, flags&^ycRW, v, xy, &ctxs[i])
	}
}
