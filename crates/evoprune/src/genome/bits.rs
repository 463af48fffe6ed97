//! Packed bit strings.

use super::{GenomeDistance, Linear};
use crate::EvoRng;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A fixed-length packed bit string (64 genes per word).
///
/// Invariant: the unused high bits of the last word are zero, so that equality and hashing are
/// word-wise and fast even for millions of bits. Word-level operations (crossover masks,
/// popcount, geometric-skip mutation) keep the cost proportional to `len / 64` or to the number
/// of touched bits, not to `len`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawBits", into = "RawBits")]
pub struct BitString {
    len: usize,
    words: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct RawBits {
    len: usize,
    words: Vec<u64>,
}

impl TryFrom<RawBits> for BitString {
    type Error = String;
    fn try_from(r: RawBits) -> Result<Self, String> {
        if r.words.len() != r.len.div_ceil(64) {
            return Err(format!(
                "bit string of {} bits needs {} words, got {}",
                r.len,
                r.len.div_ceil(64),
                r.words.len()
            ));
        }
        let b = BitString {
            len: r.len,
            words: r.words,
        };
        if let Some(&last) = b.words.last()
            && last & !b.last_mask() != 0
        {
            return Err("bit string has bits set beyond its length".into());
        }
        Ok(b)
    }
}

impl From<BitString> for RawBits {
    fn from(b: BitString) -> Self {
        RawBits {
            len: b.len,
            words: b.words,
        }
    }
}

impl fmt::Debug for BitString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len <= 128 {
            write!(f, "BitString(")?;
            for i in 0..self.len {
                write!(f, "{}", u8::from(self.get(i)))?;
            }
            write!(f, ")")
        } else {
            write!(f, "BitString(len={}, ones={})", self.len, self.count_ones())
        }
    }
}

impl BitString {
    /// All-zero string of `len` bits.
    pub fn zeros(len: usize) -> Self {
        BitString {
            len,
            words: vec![0; len.div_ceil(64)],
        }
    }

    /// All-one string of `len` bits.
    pub fn ones(len: usize) -> Self {
        let mut b = BitString {
            len,
            words: vec![u64::MAX; len.div_ceil(64)],
        };
        b.clear_tail();
        b
    }

    /// From a slice of booleans.
    pub fn from_bools(bits: &[bool]) -> Self {
        let mut b = Self::zeros(bits.len());
        for (i, &v) in bits.iter().enumerate() {
            if v {
                b.set(i, true);
            }
        }
        b
    }

    /// String of `len` bits with exactly the given positions set.
    ///
    /// # Panics
    /// If a position is `>= len`.
    pub fn from_ones(len: usize, ones: impl IntoIterator<Item = usize>) -> Self {
        let mut b = Self::zeros(len);
        for i in ones {
            b.set(i, true);
        }
        b
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the string has no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The packed words (bit `i` is bit `i % 64` of word `i / 64`).
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Bit `i`.
    ///
    /// # Panics
    /// If `i >= len`.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        assert!(
            i < self.len,
            "bit index {i} out of range for length {}",
            self.len
        );
        (self.words[i / 64] >> (i % 64)) & 1 == 1
    }

    /// Set bit `i` to `v`.
    #[inline]
    pub fn set(&mut self, i: usize, v: bool) {
        assert!(
            i < self.len,
            "bit index {i} out of range for length {}",
            self.len
        );
        let m = 1u64 << (i % 64);
        if v {
            self.words[i / 64] |= m;
        } else {
            self.words[i / 64] &= !m;
        }
    }

    /// Flip bit `i`.
    #[inline]
    pub fn flip(&mut self, i: usize) {
        assert!(
            i < self.len,
            "bit index {i} out of range for length {}",
            self.len
        );
        self.words[i / 64] ^= 1u64 << (i % 64);
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Fraction of set bits (0 for an empty string).
    pub fn density(&self) -> f64 {
        if self.len == 0 {
            0.0
        } else {
            self.count_ones() as f64 / self.len as f64
        }
    }

    /// Positions of the set bits, ascending.
    pub fn iter_ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    None
                } else {
                    let t = w.trailing_zeros() as usize;
                    w &= w - 1;
                    Some(wi * 64 + t)
                }
            })
        })
    }

    /// The bits as booleans.
    pub fn to_bools(&self) -> Vec<bool> {
        (0..self.len).map(|i| self.get(i)).collect()
    }

    /// Hamming distance (number of differing bits).
    pub fn hamming(&self, other: &Self) -> usize {
        assert_eq!(
            self.len, other.len,
            "hamming distance of bit strings of different lengths"
        );
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| (a ^ b).count_ones() as usize)
            .sum()
    }

    /// A compact text form: the length, a colon and the words in hexadecimal (little-endian
    /// word order). Round-trips through [`BitString::from_hex`].
    pub fn to_hex(&self) -> String {
        let mut s = format!("{}:", self.len);
        for w in &self.words {
            s.push_str(&format!("{w:016x}"));
        }
        s
    }

    /// Parse the form written by [`BitString::to_hex`].
    pub fn from_hex(s: &str) -> Result<Self, String> {
        let (len, hex) = s.split_once(':').ok_or("expected LEN:HEX")?;
        let len: usize = len.parse().map_err(|e| format!("bad length: {e}"))?;
        if hex.len() != len.div_ceil(64) * 16 {
            return Err(format!(
                "expected {} hex digits for {len} bits",
                len.div_ceil(64) * 16
            ));
        }
        let words = (0..hex.len() / 16)
            .map(|i| u64::from_str_radix(&hex[i * 16..i * 16 + 16], 16).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        BitString::try_from(RawBits { len, words })
    }

    fn last_mask(&self) -> u64 {
        match self.len % 64 {
            0 => u64::MAX,
            r => (1u64 << r) - 1,
        }
    }

    fn clear_tail(&mut self) {
        let m = self.last_mask();
        if let Some(last) = self.words.last_mut() {
            *last &= m;
        }
    }

    /// Flip each bit independently with probability `p`, in time proportional to the number of
    /// flips (geometric skipping), not to the length. Returns the number of flipped bits.
    pub fn flip_random(&mut self, p: f64, rng: &mut EvoRng) -> usize {
        for_each_bernoulli(self.len, p, rng, |i| self.words[i / 64] ^= 1u64 << (i % 64))
    }

    /// A random mask word where each bit is set with probability `p`.
    fn random_mask_word(p: f64, rng: &mut EvoRng) -> u64 {
        if p == 0.5 {
            rng.random::<u64>()
        } else {
            let mut w = 0u64;
            for b in 0..64 {
                if rng.random::<f64>() < p {
                    w |= 1 << b;
                }
            }
            w
        }
    }
}

/// Call `f(i)` for each `i in 0..len` selected independently with probability `p`.
///
/// Uses geometric skipping, so the cost is proportional to the number of selected positions.
/// Returns how many were selected.
pub(crate) fn for_each_bernoulli(
    len: usize,
    p: f64,
    rng: &mut EvoRng,
    mut f: impl FnMut(usize),
) -> usize {
    if p <= 0.0 || len == 0 {
        return 0;
    }
    if p >= 1.0 {
        (0..len).for_each(&mut f);
        return len;
    }
    let ln_q = (1.0 - p).ln();
    let mut n = 0;
    let mut i: usize = 0;
    loop {
        // Number of failures before the next success ~ Geometric(p).
        let u: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
        let gap = (u.ln() / ln_q).floor();
        if !gap.is_finite() || gap >= (len - i) as f64 {
            return n;
        }
        i += gap as usize;
        f(i);
        n += 1;
        i += 1;
        if i >= len {
            return n;
        }
    }
}

impl Linear for BitString {
    fn n_genes(&self) -> usize {
        self.len
    }

    fn swap_range(&mut self, other: &mut Self, range: std::ops::Range<usize>) {
        assert_eq!(
            self.len, other.len,
            "crossover of bit strings of different lengths"
        );
        assert!(range.end <= self.len, "swap range out of bounds");
        if range.is_empty() {
            return;
        }
        let (s, e) = (range.start, range.end);
        let (ws, we) = (s / 64, (e - 1) / 64);
        for wi in ws..=we {
            let lo = if wi == ws { s % 64 } else { 0 };
            let hi = if wi == we { (e - 1) % 64 + 1 } else { 64 };
            let mask = if hi - lo == 64 {
                u64::MAX
            } else {
                ((1u64 << (hi - lo)) - 1) << lo
            };
            let t = (self.words[wi] ^ other.words[wi]) & mask;
            self.words[wi] ^= t;
            other.words[wi] ^= t;
        }
    }

    fn uniform_swap(&mut self, other: &mut Self, p: f64, rng: &mut EvoRng) {
        assert_eq!(
            self.len, other.len,
            "crossover of bit strings of different lengths"
        );
        for wi in 0..self.words.len() {
            let m = BitString::random_mask_word(p, rng);
            let t = (self.words[wi] ^ other.words[wi]) & m;
            self.words[wi] ^= t;
            other.words[wi] ^= t;
        }
        // Tail bits are equal (zero) in both, so the xor trick keeps them zero.
    }
}

impl GenomeDistance for BitString {
    fn distance(&self, other: &Self) -> f64 {
        self.hamming(other) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng_from_seed;
    use proptest::prelude::*;

    #[test]
    fn ones_and_zeros_respect_length() {
        for len in [0, 1, 10, 63, 64, 65, 2_000_000] {
            assert_eq!(BitString::ones(len).count_ones(), len);
            assert_eq!(BitString::zeros(len).count_ones(), 0);
        }
    }

    #[test]
    fn hex_round_trip_and_rejects_garbage() {
        let b = BitString::from_ones(130, [0, 5, 64, 129]);
        assert_eq!(BitString::from_hex(&b.to_hex()).unwrap(), b);
        assert!(BitString::from_hex("10:zz").is_err());
        // bit 10 set beyond a 10-bit length
        assert!(BitString::from_hex("10:0000000000000400").is_err());
    }

    #[test]
    fn flip_random_rate_is_right_on_two_million_bits() {
        let mut rng = rng_from_seed(3);
        let mut b = BitString::zeros(2_000_000);
        let n = b.flip_random(1e-3, &mut rng);
        assert_eq!(b.count_ones(), n);
        // Binomial(2e6, 1e-3): mean 2000, sd ~ 44.7
        assert!((n as f64 - 2000.0).abs() < 250.0, "{n}");
    }

    #[test]
    fn serde_rejects_inconsistent_words() {
        let bad = RawBits {
            len: 3,
            words: vec![0b1000],
        };
        assert!(BitString::try_from(bad).is_err());
        let bad = RawBits {
            len: 65,
            words: vec![0],
        };
        assert!(BitString::try_from(bad).is_err());
    }

    proptest! {
        #[test]
        fn iter_ones_matches_get(bits in proptest::collection::vec(any::<bool>(), 0..300)) {
            let b = BitString::from_bools(&bits);
            let ones: Vec<usize> = b.iter_ones().collect();
            let expect: Vec<usize> = bits.iter().enumerate().filter(|(_, v)| **v).map(|(i, _)| i).collect();
            prop_assert_eq!(ones, expect);
            prop_assert_eq!(b.to_bools(), bits);
        }

        #[test]
        fn swap_range_matches_naive(a in proptest::collection::vec(any::<bool>(), 1..200), seed in any::<u64>(), s in 0usize..200, e in 0usize..200) {
            let n = a.len();
            let mut rng = rng_from_seed(seed);
            let b: Vec<bool> = (0..n).map(|_| rng.random()).collect();
            let (s, e) = (s.min(n), e.min(n));
            let (s, e) = (s.min(e), s.max(e));
            let (mut x, mut y) = (BitString::from_bools(&a), BitString::from_bools(&b));
            x.swap_range(&mut y, s..e);
            let (mut ea, mut eb) = (a.clone(), b.clone());
            for i in s..e { std::mem::swap(&mut ea[i], &mut eb[i]); }
            prop_assert_eq!(x.to_bools(), ea);
            prop_assert_eq!(y.to_bools(), eb);
        }

        #[test]
        fn uniform_swap_conserves_genes(len in 1usize..500, seed in any::<u64>(), p in 0.0f64..1.0) {
            let mut rng = rng_from_seed(seed);
            let mut x = BitString::zeros(len); x.flip_random(0.5, &mut rng);
            let mut y = BitString::zeros(len); y.flip_random(0.5, &mut rng);
            let (x0, y0) = (x.clone(), y.clone());
            x.uniform_swap(&mut y, p, &mut rng);
            for i in 0..len {
                // each position holds the two parental genes, in some order
                prop_assert!((x.get(i) == x0.get(i) && y.get(i) == y0.get(i)) || (x.get(i) == y0.get(i) && y.get(i) == x0.get(i)));
            }
            prop_assert_eq!(x.len(), len);
            prop_assert_eq!(x.count_ones() + y.count_ones(), x0.count_ones() + y0.count_ones());
        }
    }
}
