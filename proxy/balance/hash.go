package balance

// HAProxy's hash functions (src/hash.c). Bytes enter the arithmetic as
// unsigned values: that is what HAProxy 2.6.12 computes (checked against its
// sdbm/djb2/wt6/crc32 converters with bytes above 0x7f, see hash_test.go), so
// the same key picks the same server as a real HAProxy does.

// HashFunc names `hash-type … <function>`.
type HashFunc int

const (
	HashSDBM HashFunc = iota // default
	HashDJB2
	HashWT6
	HashCRC32
)

func sx(b byte) uint32 { return uint32(b) }

// SDBM is hash_sdbm: the default function of every hash-based algorithm.
func SDBM(key []byte) uint32 {
	var h uint32
	for _, b := range key {
		h = sx(b) + (h << 6) + (h << 16) - h
	}
	return h
}

// DJB2 is hash_djb2.
func DJB2(key []byte) uint32 {
	h := uint32(5381)
	for _, b := range key {
		h = (h << 5) + h + sx(b)
	}
	return h
}

// WT6 is hash_wt6.
func WT6(key []byte) uint32 {
	h0, h1 := uint32(0xa53c965a), uint32(0x5ca6953a)
	step0, step1 := uint32(6), uint32(18)
	for _, b := range key {
		t := sx(b)
		h0 = ^(h0 ^ t)
		h1 = ^(h1 + t)
		t = (h1 << step0) | (h1 >> (32 - step0))
		h1 = (h0 << step1) | (h0 >> (32 - step1))
		h0 = t
		t = ((h0 >> 16) ^ h1) & 0xffff
		step0 = t & 0x1f
		step1 = t >> 11
	}
	return h0 ^ h1
}

// CRC32 is hash_crc32 (bitwise, reflected polynomial 0xedb88320).
func CRC32(key []byte) uint32 {
	h := ^uint32(0)
	for _, b := range key {
		h ^= sx(b)
		for range 8 {
			if h&1 != 0 {
				h = (h >> 1) ^ 0xedb88320
			} else {
				h >>= 1
			}
		}
	}
	return ^h
}

// FullHash is HAProxy's full_hash(): Bob Jenkins' 6-shift integer avalanche
// followed by a multiplication by a prime close to 3/4 of 2^32. It places
// consistent-hash tree nodes and implements `hash-type … avalanche`.
func FullHash(a uint32) uint32 {
	a = (a + 0x7ed55d16) + (a << 12)
	a = (a ^ 0xc761c23c) ^ (a >> 19)
	a = (a + 0x165667b1) + (a << 5)
	a = (a + 0xd3a2646c) ^ (a << 9)
	a = (a + 0xfd7046c5) + (a << 3)
	a = (a ^ 0xb55a4f09) ^ (a >> 16)
	return a * 3221225473
}

func (f HashFunc) sum(key []byte) uint32 {
	switch f {
	case HashDJB2:
		return DJB2(key)
	case HashWT6:
		return WT6(key)
	case HashCRC32:
		return CRC32(key)
	default:
		return SDBM(key)
	}
}
