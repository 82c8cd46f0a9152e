package acl

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"math/bits"
	"strconv"
	"strings"

	"github.com/zeebo/xxh3"

	"halo/proxy/balance"
)

// hashConvs hash their input: the load-balancing hashes (same functions as
// hash-type, optionally with full avalanche), xxHash, message digests and
// HMACs (configuration.txt §7.3.1).
func hashConvs() []*convDef {
	lb := func(name string, h func([]byte) uint32) *convDef {
		return &convDef{name: name, in: KBin, maxArgs: 1, out: KInt, compile: compileAvalanche, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			n := h(toStr(c, v))
			if cv.num != 0 {
				n = balance.FullHash(n)
			}
			return intVal(int64(n)), true
		}}
	}
	crc32c := crc32.MakeTable(crc32.Castagnoli)
	return []*convDef{
		lb("sdbm", balance.SDBM),
		lb("djb2", balance.DJB2),
		lb("wt6", balance.WT6),
		lb("crc32", balance.CRC32),
		lb("crc32c", func(b []byte) uint32 { return crc32.Checksum(b, crc32c) }),
		{name: "xxh32", in: KBin, maxArgs: 1, out: KInt, compile: compileSeed, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return intVal(int64(xxh32(toStr(c, v), uint32(cv.num)))), true
		}},
		{name: "xxh64", in: KBin, maxArgs: 1, out: KInt, compile: compileSeed, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return intVal(int64(xxh64(toStr(c, v), uint64(cv.num)))), true
		}},
		{name: "xxh3", in: KBin, maxArgs: 1, out: KInt, compile: compileSeed, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return intVal(int64(xxh3.HashSeed(toStr(c, v), uint64(cv.num)))), true
		}},
		{name: "sha1", in: KBin, out: KBin, compile: func(cv *conv, o *Options) error {
			cv.ref = sha1.New
			return nil
		}, fn: convDigest},
		{name: "sha2", in: KBin, maxArgs: 1, out: KBin, compile: func(cv *conv, o *Options) error {
			bits := "256"
			if len(cv.args) > 0 && cv.args[0] != "" {
				bits = cv.args[0]
			}
			switch bits {
			case "224":
				cv.ref = sha256.New224
			case "256":
				cv.ref = sha256.New
			case "384":
				cv.ref = sha512.New384
			case "512":
				cv.ref = sha512.New
			default:
				return fmt.Errorf("Unsupported number of bits: '%s'", bits)
			}
			return nil
		}, fn: convDigest},
		{name: "digest", in: KBin, minArgs: 1, maxArgs: 1, out: KBin, compile: func(cv *conv, o *Options) error {
			h, ok := digests(cv.args[0])
			if !ok {
				return fmt.Errorf("failed to load digest '%s': halo knows md5, sha1, sha224, sha256, sha384, sha512, sha512-224, sha512-256 and sha3-224/256/384/512", cv.args[0])
			}
			cv.ref = h
			return nil
		}, fn: convDigest},
		// hmac(algorithm,key): key is base64, or a variable holding it.
		{name: "hmac", in: KBin, minArgs: 2, maxArgs: 2, out: KBin, compile: func(cv *conv, o *Options) error {
			h, ok := digests(cv.args[0])
			if !ok {
				return fmt.Errorf("failed to load digest '%s'", cv.args[0])
			}
			cv.ref = h
			if CheckVarName(cv.args[1]) == nil {
				cv.n = 1 // the key is read from a variable
				return nil
			}
			k, err := base64.StdEncoding.DecodeString(cv.args[1])
			if err != nil {
				return fmt.Errorf("failed to decode key '%s' as base64", cv.args[1])
			}
			cv.str = k
			return nil
		}, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			key := cv.str
			if cv.n == 1 {
				kv, ok := c.Vars.Get(cv.args[1])
				if !ok {
					return Value{}, false
				}
				k, err := base64.StdEncoding.AppendDecode(c.scratchBuf(), toStr(c, kv))
				if err != nil {
					return Value{}, false
				}
				c.keepScratch(k)
				key = k
			}
			m := hmac.New(cv.ref.(func() hash.Hash), key)
			m.Write(toStr(c, v))
			buf := m.Sum(c.scratchBuf())
			c.keepScratch(buf)
			return Value{Kind: KBin, B: buf}, true
		}},
	}
}

func compileAvalanche(cv *conv, o *Options) error {
	if len(cv.args) > 0 && cv.args[0] != "" {
		n, err := strconv.ParseInt(cv.args[0], 10, 64)
		if err != nil {
			return fmt.Errorf("expects an integer, got '%s'", cv.args[0])
		}
		cv.num = n
	}
	return nil
}

func compileSeed(cv *conv, o *Options) error {
	if len(cv.args) > 0 && cv.args[0] != "" {
		n, err := strconv.ParseUint(cv.args[0], 10, 64)
		if err != nil {
			return fmt.Errorf("expects an unsigned integer seed, got '%s'", cv.args[0])
		}
		cv.num = int64(n)
	}
	return nil
}

// digests maps OpenSSL's digest names to Go's implementations.
func digests(name string) (func() hash.Hash, bool) {
	switch strings.ToLower(name) {
	case "md5":
		return md5.New, true
	case "sha1":
		return sha1.New, true
	case "sha224":
		return sha256.New224, true
	case "sha256":
		return sha256.New, true
	case "sha384":
		return sha512.New384, true
	case "sha512":
		return sha512.New, true
	case "sha512-224":
		return sha512.New512_224, true
	case "sha512-256":
		return sha512.New512_256, true
	case "sha3-224":
		return func() hash.Hash { return sha3.New224() }, true
	case "sha3-256":
		return func() hash.Hash { return sha3.New256() }, true
	case "sha3-384":
		return func() hash.Hash { return sha3.New384() }, true
	case "sha3-512":
		return func() hash.Hash { return sha3.New512() }, true
	}
	return nil, false
}

func convDigest(c *Ctx, cv *conv, v Value) (Value, bool) {
	h := cv.ref.(func() hash.Hash)()
	h.Write(toStr(c, v))
	buf := h.Sum(c.scratchBuf())
	c.keepScratch(buf)
	return Value{Kind: KBin, B: buf}, true
}

const (
	p32a, p32b, p32c, p32d, p32e uint32 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
	p64a, p64b, p64c, p64d, p64e uint64 = 11400714785074694791, 14029467366897019727, 1609587929392839161, 9650029242287828579, 2870177450012600261
)

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

// xxh32 is XXH32 (github.com/Cyan4973/xxHash, xxhash.h).
func xxh32(b []byte, seed uint32) uint32 {
	n := len(b)
	var h uint32
	if n >= 16 {
		v1, v2, v3, v4 := seed+p32a+p32b, seed+p32b, seed, seed-p32a
		for len(b) >= 16 {
			v1 = bits.RotateLeft32(v1+le32(b)*p32b, 13) * p32a
			v2 = bits.RotateLeft32(v2+le32(b[4:])*p32b, 13) * p32a
			v3 = bits.RotateLeft32(v3+le32(b[8:])*p32b, 13) * p32a
			v4 = bits.RotateLeft32(v4+le32(b[12:])*p32b, 13) * p32a
			b = b[16:]
		}
		h = bits.RotateLeft32(v1, 1) + bits.RotateLeft32(v2, 7) + bits.RotateLeft32(v3, 12) + bits.RotateLeft32(v4, 18)
	} else {
		h = seed + p32e
	}
	h += uint32(n)
	for len(b) >= 4 {
		h = bits.RotateLeft32(h+le32(b)*p32c, 17) * p32d
		b = b[4:]
	}
	for _, ch := range b {
		h = bits.RotateLeft32(h+uint32(ch)*p32e, 11) * p32a
	}
	h ^= h >> 15
	h *= p32b
	h ^= h >> 13
	h *= p32c
	h ^= h >> 16
	return h
}

func xxh64Round(acc, in uint64) uint64 {
	return bits.RotateLeft64(acc+in*p64b, 31) * p64a
}

func xxh64Merge(acc, v uint64) uint64 {
	return (acc^xxh64Round(0, v))*p64a + p64d
}

// xxh64 is XXH64 (github.com/Cyan4973/xxHash, xxhash.h).
func xxh64(b []byte, seed uint64) uint64 {
	n := len(b)
	var h uint64
	if n >= 32 {
		v1, v2, v3, v4 := seed+p64a+p64b, seed+p64b, seed, seed-p64a
		for len(b) >= 32 {
			v1 = xxh64Round(v1, le64(b))
			v2 = xxh64Round(v2, le64(b[8:]))
			v3 = xxh64Round(v3, le64(b[16:]))
			v4 = xxh64Round(v4, le64(b[24:]))
			b = b[32:]
		}
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = xxh64Merge(h, v1)
		h = xxh64Merge(h, v2)
		h = xxh64Merge(h, v3)
		h = xxh64Merge(h, v4)
	} else {
		h = seed + p64e
	}
	h += uint64(n)
	for len(b) >= 8 {
		h ^= xxh64Round(0, le64(b))
		h = bits.RotateLeft64(h, 27)*p64a + p64d
		b = b[8:]
	}
	if len(b) >= 4 {
		h ^= uint64(le32(b)) * p64a
		h = bits.RotateLeft64(h, 23)*p64b + p64c
		b = b[4:]
	}
	for _, ch := range b {
		h ^= uint64(ch) * p64e
		h = bits.RotateLeft64(h, 11) * p64a
	}
	h ^= h >> 33
	h *= p64b
	h ^= h >> 29
	h *= p64c
	h ^= h >> 32
	return h
}
