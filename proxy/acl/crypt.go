package acl

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// checkCrypt verifies pass against a crypt(3) hash, as HAProxy's
// `password` does through the system's crypt(3) (Debian 12's libxcrypt):
// yescrypt ($y$, the default of mkpasswd and passwd), SHA-crypt ($5$,
// $6$), bcrypt ($2a$, $2b$, $2y$), MD5-crypt ($1$) and the DES-based
// schemes (13 characters, and BSDi's _). Runs only on http_auth with a
// hashed password, which HAProxy also pays for per request.
func checkCrypt(stored string, pass []byte) bool {
	switch {
	case strings.HasPrefix(stored, "$y$"):
		return checkYescrypt(stored, pass)
	case strings.HasPrefix(stored, "$6$"):
		return checkSHACrypt(stored, pass, sha512.New, sha512Order)
	case strings.HasPrefix(stored, "$5$"):
		return checkSHACrypt(stored, pass, sha256.New, sha256Order)
	case strings.HasPrefix(stored, "$2a$"), strings.HasPrefix(stored, "$2b$"), strings.HasPrefix(stored, "$2y$"):
		return bcrypt.CompareHashAndPassword([]byte(stored), pass) == nil
	case strings.HasPrefix(stored, "$1$"):
		return checkMD5Crypt(stored, pass)
	case strings.HasPrefix(stored, "_"):
		return checkBSDiCrypt(stored, pass)
	case len(stored) == 13:
		return checkDESCrypt(stored, pass)
	}
	return false
}

// checkSHACrypt is Drepper's SHA-crypt ($5$, $6$).
func checkSHACrypt(stored string, pass []byte, newHash func() hash.Hash, order []int) bool {
	rest := stored[3:]
	rounds, custom := 5000, false
	if strings.HasPrefix(rest, "rounds=") {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			return false
		}
		n, err := strconv.Atoi(rest[7:i])
		if err != nil {
			return false
		}
		rounds, custom = min(max(n, 1000), 999999999), true
		rest = rest[i+1:]
	}
	i := strings.IndexByte(rest, '$')
	if i < 0 {
		return false
	}
	salt := rest[:i]
	if len(salt) > 16 {
		salt = salt[:16]
	}
	got := shaCrypt(newHash, order, pass, []byte(salt), rounds)
	prefix := stored[:3]
	if custom {
		prefix += "rounds=" + strconv.Itoa(rounds) + "$"
	}
	want := prefix + salt + "$" + string(got)
	return subtle.ConstantTimeCompare([]byte(want), []byte(stored)) == 1
}

var sha512Order = []int{0, 21, 42, 22, 43, 1, 44, 2, 23, 3, 24, 45, 25, 46, 4, 47, 5, 26, 6, 27, 48,
	28, 49, 7, 50, 8, 29, 9, 30, 51, 31, 52, 10, 53, 11, 32, 12, 33, 54, 34, 55, 13, 56, 14, 35,
	15, 36, 57, 37, 58, 16, 59, 17, 38, 18, 39, 60, 40, 61, 19, 62, 20, 41}

var sha256Order = []int{0, 10, 20, 21, 1, 11, 12, 22, 2, 3, 13, 23, 24, 4, 14, 15, 25, 5, 6, 16, 26,
	27, 7, 17, 18, 28, 8, 9, 19, 29}

const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// shaCrypt is Drepper's SHA-crypt (https://akkadia.org/drepper/SHA-crypt.txt).
func shaCrypt(newHash func() hash.Hash, order []int, p, s []byte, rounds int) []byte {
	h := newHash()
	size := h.Size()
	h.Write(p)
	h.Write(s)
	h.Write(p)
	b := h.Sum(nil)

	h.Reset()
	h.Write(p)
	h.Write(s)
	n := len(p)
	for ; n > size; n -= size {
		h.Write(b)
	}
	h.Write(b[:n])
	for n = len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(p)
		}
	}
	a := h.Sum(nil)

	h.Reset()
	for range len(p) {
		h.Write(p)
	}
	dp := h.Sum(nil)
	pseq := make([]byte, 0, len(p))
	for n = len(p); n > size; n -= size {
		pseq = append(pseq, dp...)
	}
	pseq = append(pseq, dp[:n]...)

	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(s)
	}
	ds := h.Sum(nil)
	sseq := ds[:len(s)]

	c := a
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(pseq)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sseq)
		}
		if i%7 != 0 {
			h.Write(pseq)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(pseq)
		}
		c = h.Sum(c[:0])
	}

	var out []byte
	enc := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for ; n > 0; n-- {
			out = append(out, itoa64[w&0x3f])
			w >>= 6
		}
	}
	for i := 0; i < len(order); i += 3 {
		enc(c[order[i]], c[order[i+1]], c[order[i+2]], 4)
	}
	if size == 64 {
		enc(0, 0, c[63], 2)
	} else {
		enc(0, c[31], c[30], 3)
	}
	return out
}

// checkMD5Crypt is Poul-Henning Kamp's MD5-crypt ($1$salt$hash).
func checkMD5Crypt(stored string, pass []byte) bool {
	rest := stored[3:]
	i := strings.IndexByte(rest, '$')
	if i < 0 {
		return false
	}
	salt := rest[:i]
	if len(salt) > 8 {
		salt = salt[:8]
	}
	want := "$1$" + salt + "$" + string(md5Crypt(pass, []byte(salt)))
	return subtle.ConstantTimeCompare([]byte(want), []byte(stored)) == 1
}

func md5Crypt(p, s []byte) []byte {
	alt := md5.New()
	alt.Write(p)
	alt.Write(s)
	alt.Write(p)
	fin := alt.Sum(nil)

	h := md5.New()
	h.Write(p)
	h.Write([]byte("$1$"))
	h.Write(s)
	for n := len(p); n > 0; n -= 16 {
		h.Write(fin[:min(n, 16)])
	}
	for n := len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write([]byte{0})
		} else {
			h.Write(p[:1])
		}
	}
	fin = h.Sum(nil)
	for i := range 1000 {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(fin)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(fin)
		} else {
			h.Write(p)
		}
		fin = h.Sum(fin[:0])
	}
	var out []byte
	enc := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for ; n > 0; n-- {
			out = append(out, itoa64[w&0x3f])
			w >>= 6
		}
	}
	enc(fin[0], fin[6], fin[12], 4)
	enc(fin[1], fin[7], fin[13], 4)
	enc(fin[2], fin[8], fin[14], 4)
	enc(fin[3], fin[9], fin[15], 4)
	enc(fin[4], fin[10], fin[5], 4)
	enc(0, 0, fin[11], 2)
	return out
}
