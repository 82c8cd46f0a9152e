// Package tlsrsa signs TLS handshakes with RSA-2048 keys on CPUs with
// AVX-512 IFMA, about three times faster than crypto/rsa: a full TLS
// handshake with an RSA certificate is that private-key operation for
// most of its cost.
//
// The private operation is the CRT one, constant-time throughout: the two
// 1024-bit halves are exponentiated side by side with almost Montgomery
// multiplications on 52-bit limbs (amm_amd64.s), a fixed 5-bit window
// over the whole exponent width and table reads that touch every entry.
// Every signature is checked with the public key before it leaves, as
// OpenSSL does, so a computation fault cannot leak the key. crypto/tls
// still runs the handshake: Key is the crypto.Signer it is given instead
// of the *rsa.PrivateKey (New says when a key qualifies), and it
// decrypts (RSA key exchange) through crypto/rsa.
package tlsrsa

import (
	"crypto"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"io"
	"math/big"
	"math/bits"
	"sync"
)

// Key is an RSA-2048 private key prepared for the fast private operation.
type Key struct {
	priv   *rsa.PrivateKey
	n, e   *big.Int
	p, q   *modulus
	dp, dq expWords
	qinvR  nat52      // q^-1·R mod p
	qw     [16]uint64 // q, little-endian words
}

// New prepares priv for fast signing; ok is false when it does not
// qualify (not a two-prime 2048-bit key, or a CPU without AVX-512 IFMA):
// then use priv itself.
func New(priv *rsa.PrivateKey) (k *Key, ok bool) {
	if !useIFMA || priv == nil || len(priv.Primes) != 2 || priv.N.BitLen() != 2048 {
		return nil, false
	}
	p, q := priv.Primes[0], priv.Primes[1]
	if p.BitLen() != 1024 || q.BitLen() != 1024 || priv.E < 3 {
		return nil, false
	}
	k = &Key{priv: priv, n: priv.N, e: big.NewInt(int64(priv.E))}
	k.p, k.q = newModulus(p), newModulus(q)
	one := big.NewInt(1)
	dp := new(big.Int).Mod(priv.D, new(big.Int).Sub(p, one))
	dq := new(big.Int).Mod(priv.D, new(big.Int).Sub(q, one))
	wordsOf(k.dp[:], dp)
	wordsOf(k.dq[:], dq)
	qinv := new(big.Int).ModInverse(q, p)
	if qinv == nil {
		return nil, false
	}
	qi := fromBig(qinv)
	var dummy nat52
	amm2(&k.qinvR, &dummy, &qi, &qi, &k.p.rr, &k.p.rr, k.p, k.p)
	reduceOnce(&k.qinvR, &k.p.m)
	wordsOf(k.qw[:], q)
	return k, true
}

// wordsOf writes x into w (little-endian 64-bit words).
func wordsOf(w []uint64, x *big.Int) {
	b := make([]byte, 8*len(w))
	x.FillBytes(b)
	for i := range w {
		w[i] = binary.BigEndian.Uint64(b[len(b)-8*(i+1):])
	}
}

// Public implements crypto.Signer.
func (k *Key) Public() crypto.PublicKey { return &k.priv.PublicKey }

// PrivateKey is the key Key was made from (to export it).
func (k *Key) PrivateKey() *rsa.PrivateKey { return k.priv }

// Decrypt implements crypto.Decrypter (TLS's RSA key exchange) through
// crypto/rsa.
func (k *Key) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return k.priv.Decrypt(rand, msg, opts)
}

// Sign implements crypto.Signer: RSASSA-PSS for *rsa.PSSOptions (TLS
// 1.3, and 1.2 with rsa_pss_rsae_*), else RSASSA-PKCS1-v1_5 (RFC 8017).
func (k *Key) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	h := opts.HashFunc()
	em := make([]byte, 256)
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		if err := k.encodePSS(em, rand, digest, h, pss.SaltLength); err != nil {
			return nil, err
		}
	} else if err := encodePKCS1v15(em, digest, h); err != nil {
		return nil, err
	}
	sig := make([]byte, 256)
	if err := k.sign(sig, em); err != nil {
		return nil, err
	}
	return sig, nil
}

var errSign = errors.New("tlsrsa: signature check failed")

// sign computes sig = em^d mod n and checks it against the public key.
func (k *Key) sign(sig, em []byte) error {
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	k.privateOp(sig, em, s)
	// sig^e == em, with public values only (math/big is fine here).
	v := new(big.Int).SetBytes(sig)
	v.Exp(v, k.e, k.n)
	var back [256]byte
	v.FillBytes(back[:])
	if subtle.ConstantTimeCompare(back[:], em) != 1 {
		return errSign
	}
	return nil
}

type scratch struct {
	t1, t2 table
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// privateOp sets out = in^d mod n (both 256 bytes, in < n) by the CRT.
func (k *Key) privateOp(out, in []byte, s *scratch) {
	var cl [2 * limbs]uint64
	limbsFromBytes(cl[:], in)
	var c0, c1 nat52
	copy(c0[:limbs], cl[:limbs])
	copy(c1[:limbs], cl[limbs:])
	// c·R mod p = c0·R + c1·R^2 (c = c0 + c1·R, R = 2^1040), each term
	// by one Montgomery multiplication; the sum stays below 4p.
	var ap, aq, tp, tq nat52
	amm2(&tp, &tq, &c0, &c0, &k.p.rr, &k.q.rr, k.p, k.q)
	amm2(&ap, &aq, &c1, &c1, &k.p.rrr, &k.q.rrr, k.p, k.q)
	addNorm(&ap, &ap, &tp)
	addNorm(&aq, &aq, &tq)
	var m1, m2 nat52
	exp2(&m1, &m2, &ap, &aq, &k.dp, &k.dq, k.p, k.q, &s.t1, &s.t2)
	// h = q^-1·(m1 - m2) mod p; m2 < q < 2p.
	m2p := m2
	reduceOnce(&m2p, &k.p.m)
	var d nat52
	subMod(&d, &m1, &m2p, &k.p.m)
	var h, dummy nat52
	amm2(&h, &dummy, &d, &d, &k.qinvR, &k.qinvR, k.p, k.p)
	reduceOnce(&h, &k.p.m)
	// s = m2 + h·q, on 64-bit words.
	var hw, m2w [16]uint64
	words64(&hw, &h)
	words64(&m2w, &m2)
	var sw [32]uint64
	for i := 0; i < 16; i++ {
		var c uint64
		for j := 0; j < 16; j++ {
			hi, lo := bits.Mul64(hw[i], k.qw[j])
			var cc uint64
			lo, cc = bits.Add64(lo, sw[i+j], 0)
			hi += cc
			lo, cc = bits.Add64(lo, c, 0)
			hi += cc
			sw[i+j] = lo
			c = hi
		}
		sw[i+16] = c
	}
	var c uint64
	for i := 0; i < 32; i++ {
		var a uint64
		if i < 16 {
			a = m2w[i]
		}
		sw[i], c = bits.Add64(sw[i], a, c)
	}
	for i := 0; i < 32; i++ {
		binary.BigEndian.PutUint64(out[len(out)-8*(i+1):], sw[i])
	}
}

// subMod sets z = x - y mod m for x, y < m, in constant time.
func subMod(z, x, y, m *nat52) {
	var borrow uint64
	for i := 0; i < limbs; i++ {
		v := x[i] - y[i] - borrow
		z[i] = v & mask52
		borrow = v >> 63
	}
	// Negative: add m back.
	mask := -borrow
	var c uint64
	for i := 0; i < limbs; i++ {
		v := z[i] + m[i]&mask + c
		z[i] = v & mask52
		c = v >> 52
	}
}

// words64 converts x (below 2^1024) to little-endian 64-bit words.
func words64(w *[16]uint64, x *nat52) {
	var b [128]byte
	bytesFromLimbs(b[:], x[:limbs])
	for i := range w {
		w[i] = binary.BigEndian.Uint64(b[128-8*(i+1):])
	}
}

// encodePSS is EMSA-PSS-ENCODE (RFC 8017 §9.1.1) for a 2048-bit modulus
// (emBits 2047, emLen 256).
func (k *Key) encodePSS(em []byte, rand io.Reader, digest []byte, h crypto.Hash, saltLen int) error {
	if !h.Available() || len(digest) != h.Size() {
		return errors.New("tlsrsa: bad PSS digest")
	}
	hLen := h.Size()
	switch saltLen {
	case rsa.PSSSaltLengthEqualsHash:
		saltLen = hLen
	case rsa.PSSSaltLengthAuto:
		saltLen = len(em) - hLen - 2
	}
	if saltLen < 0 || len(em) < hLen+saltLen+2 {
		return errors.New("tlsrsa: PSS salt too long")
	}
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return err
	}
	hh := h.New()
	var zeros [8]byte
	hh.Write(zeros[:])
	hh.Write(digest)
	hh.Write(salt)
	mHash := hh.Sum(nil)
	dbLen := len(em) - hLen - 1
	db := em[:dbLen]
	for i := range db {
		db[i] = 0
	}
	db[dbLen-saltLen-1] = 1
	copy(db[dbLen-saltLen:], salt)
	mgf1XOR(db, h.New(), mHash)
	db[0] &= 0x7f // 8·emLen - emBits = 1 leftmost bit cleared
	copy(em[dbLen:], mHash)
	em[len(em)-1] = 0xbc
	return nil
}

// mgf1XOR xors out with MGF1(seed) (RFC 8017 §B.2.1).
func mgf1XOR(out []byte, hh hash.Hash, seed []byte) {
	var counter [4]byte
	done := 0
	for done < len(out) {
		hh.Reset()
		hh.Write(seed)
		hh.Write(counter[:])
		d := hh.Sum(nil)
		for i := 0; i < len(d) && done < len(out); i++ {
			out[done] ^= d[i]
			done++
		}
		binary.BigEndian.PutUint32(counter[:], binary.BigEndian.Uint32(counter[:])+1)
	}
}

// DER DigestInfo prefixes (RFC 8017 §9.2 note 1).
var pkcs1Prefix = map[crypto.Hash][]byte{
	crypto.SHA1:    {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224:  {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256:  {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384:  {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512:  {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
	crypto.MD5SHA1: {}, // TLS 1.0/1.1: the two hashes, no DigestInfo
}

// encodePKCS1v15 is EMSA-PKCS1-v1_5-ENCODE (RFC 8017 §9.2).
func encodePKCS1v15(em, digest []byte, h crypto.Hash) error {
	prefix, ok := pkcs1Prefix[h]
	if !ok || len(digest) != h.Size() {
		return errors.New("tlsrsa: unsupported PKCS #1 v1.5 hash")
	}
	tLen := len(prefix) + len(digest)
	if len(em) < tLen+11 {
		return errors.New("tlsrsa: digest too long")
	}
	em[0], em[1] = 0, 1
	for i := 2; i < len(em)-tLen-1; i++ {
		em[i] = 0xff
	}
	em[len(em)-tLen-1] = 0
	copy(em[len(em)-tLen:], prefix)
	copy(em[len(em)-len(digest):], digest)
	return nil
}
