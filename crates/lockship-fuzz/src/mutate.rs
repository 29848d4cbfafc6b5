//! A deterministic input mutator: bit flips, byte edits, truncation,
//! insertion, deletion, repetition, line edits, dictionary tokens and
//! splicing between seeds. The same seed number always gives the same inputs.

/// SplitMix64: small, fast, and the same stream on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose stream is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is `0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Bytes that often sit on a parser's edge.
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x7f, 0x80, 0xff, b'\n', b'\r', b'\t', b' ', b'"', b'\'', b'\\', b'=', b':', b',',
    b'/', b'.', b'[', b']', b'{', b'}', b'#', b'-', b'0', b'9',
];

/// Tokens every target gets on top of its own dictionary.
const COMMON_TOKENS: &[&[u8]] = &[
    b"..",
    b"../",
    b"/",
    b"\\",
    b"\r\n",
    b"\n\n",
    b"\"",
    b"=",
    b"-1",
    b"0",
    b"99999999999999999999",
    b"18446744073709551615",
    b"4294967296",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xc3\x28",
    b"%00",
    b"%2e%2e%2f",
];

/// Produces mutated inputs from a set of seeds.
#[derive(Debug, Clone)]
pub struct Mutator {
    rng: Rng,
    seeds: Vec<Vec<u8>>,
    dict: &'static [&'static [u8]],
    max_len: usize,
    text: bool,
}

impl Mutator {
    /// A mutator over `seeds` (an empty input is added when there are none),
    /// with extra tokens `dict`, whose outputs never exceed `max_len` bytes.
    pub fn new(
        seed: u64,
        mut seeds: Vec<Vec<u8>>,
        dict: &'static [&'static [u8]],
        max_len: usize,
    ) -> Mutator {
        if seeds.is_empty() {
            seeds.push(Vec::new());
        }
        Mutator {
            rng: Rng::new(seed),
            seeds,
            dict,
            max_len: max_len.max(1),
            text: false,
        }
    }

    /// For text formats: most outputs are made valid UTF-8 (invalid
    /// sequences replaced), so that fewer inputs stop at decoding.
    pub fn text(mut self, text: bool) -> Mutator {
        self.text = text;
        self
    }

    /// The seeds, as given.
    pub fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    /// The next input: a seed with one to eight stacked mutations.
    pub fn next_input(&mut self) -> Vec<u8> {
        let base = self.rng.below(self.seeds.len());
        let mut data = self.seeds[base].clone();
        // Mostly few mutations, sometimes many.
        let most = 1 + self.rng.below(8);
        let count = 1 + self.rng.below(most);
        for _ in 0..count {
            self.mutate(&mut data);
        }
        data.truncate(self.max_len);
        if self.text && !self.rng.one_in(5) && std::str::from_utf8(&data).is_err() {
            data = String::from_utf8_lossy(&data).into_owned().into_bytes();
            data.truncate(self.max_len);
            // Truncation may cut a character; keep the valid prefix.
            let valid = std::str::from_utf8(&data).map_or_else(|e| e.valid_up_to(), str::len);
            data.truncate(valid);
        }
        data
    }

    fn mutate(&mut self, data: &mut Vec<u8>) {
        let len = data.len();
        let rng = &mut self.rng;
        match rng.below(18) {
            // Flip one bit.
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            // Set a byte to a random or an interesting value.
            1 if len > 0 => {
                let at = rng.below(len);
                data[at] = rng.next_u64() as u8;
            }
            2 if len > 0 => {
                let at = rng.below(len);
                data[at] = INTERESTING[rng.below(INTERESTING.len())];
            }
            // Truncate.
            3 if len > 0 => {
                let at = rng.below(len);
                data.truncate(at);
            }
            // Insert random bytes.
            4 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                data.splice(at..at, bytes);
            }
            // Delete a range.
            5 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                data.drain(at..at + n);
            }
            // Repeat a chunk several times (deep nesting, long runs).
            6 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(32));
                let chunk = data[at..at + n].to_vec();
                let most = if rng.one_in(8) { 256 } else { 4 };
                let times = 1 + rng.below(most);
                let insert: Vec<u8> = chunk.iter().copied().cycle().take(n * times).collect();
                data.splice(at..at, insert);
            }
            // Copy a chunk elsewhere.
            7 if len > 1 => {
                let from = rng.below(len);
                let n = 1 + rng.below((len - from).min(64));
                let chunk = data[from..from + n].to_vec();
                let to = rng.below(len + 1);
                data.splice(to..to, chunk);
            }
            // Insert a dictionary token.
            8 | 9 => {
                let token = if !self.dict.is_empty() && rng.below(3) != 0 {
                    self.dict[rng.below(self.dict.len())]
                } else {
                    COMMON_TOKENS[rng.below(COMMON_TOKENS.len())]
                };
                let at = rng.below(len + 1);
                if rng.one_in(2) || len == 0 {
                    data.splice(at..at, token.iter().copied());
                } else {
                    let end = (at + token.len()).min(len);
                    data.splice(at..end, token.iter().copied());
                }
            }
            // Splice: a prefix of this input, a suffix of another seed.
            10 => {
                let other = &self.seeds[rng.below(self.seeds.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            // Line edits: drop, duplicate or swap whole lines.
            11..=13 => line_edit(rng, data),
            // Values, keeping the syntax around them: a quoted string's
            // content, or a number.
            14 | 15 => {
                let token = if !self.dict.is_empty() && rng.one_in(3) {
                    self.dict[rng.below(self.dict.len())]
                } else {
                    VALUES[rng.below(VALUES.len())]
                };
                replace_quoted(rng, data, token);
            }
            16 => replace_number(rng, data),
            _ => {
                let at = rng.below(len + 1);
                data.insert(at, INTERESTING[rng.below(INTERESTING.len())]);
            }
        }
    }
}

/// What a quoted string may be replaced with.
const VALUES: &[&[u8]] = &[
    b"",
    b"/etc/passwd",
    b"../../../../tmp/x",
    b"/abs/dir/evil",
    b"a/../../b",
    b"file:///dev/zero",
    b"http://127.0.0.1:1/x",
    b"sha256:",
    b"sha256:0000",
    b"*",
    b"\\",
    b"\\u0000",
    b"A.B_C-D",
    b"1.0.0+local",
    b">=1,<2",
    b"==1.*",
    b"python_version >= '3'",
    b"x86_64",
    b"linux",
    b".wh.x",
    b"..",
    b".",
];

/// Replaces the content of a random `"…"` (on one line, at most 256 bytes)
/// with `token`.
fn replace_quoted(rng: &mut Rng, data: &mut Vec<u8>, token: &[u8]) {
    let quotes: Vec<usize> = data
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'"')
        .map(|(i, _)| i)
        .collect();
    if quotes.len() < 2 {
        return;
    }
    let first = rng.below(quotes.len() - 1);
    let (open, close) = (quotes[first], quotes[first + 1]);
    if close - open > 256 || data[open..close].contains(&b'\n') {
        return;
    }
    data.splice(open + 1..close, token.iter().copied());
}

/// Replaces a random run of digits with an edge value.
fn replace_number(rng: &mut Rng, data: &mut Vec<u8>) {
    const NUMBERS: &[&[u8]] = &[
        b"0",
        b"-1",
        b"255",
        b"65536",
        b"4294967296",
        b"18446744073709551616",
        b"99999999999999999999999999",
        b"1e308",
        b"0.0",
        b"007",
    ];
    let digits: Vec<usize> = data
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    if digits.is_empty() {
        return;
    }
    let start = digits[rng.below(digits.len())];
    let end = start
        + data[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
    let value = NUMBERS[rng.below(NUMBERS.len())];
    data.splice(start..end, value.iter().copied());
}

fn line_edit(rng: &mut Rng, data: &mut Vec<u8>) {
    let mut lines: Vec<Vec<u8>> = data
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    if lines.is_empty() {
        return;
    }
    let a = rng.below(lines.len());
    match rng.below(3) {
        0 => {
            lines.remove(a);
        }
        1 => {
            let line = lines[a].clone();
            let to = rng.below(lines.len() + 1);
            lines.insert(to, line);
        }
        _ => {
            let b = rng.below(lines.len());
            lines.swap(a, b);
        }
    }
    *data = lines.concat();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_inputs() {
        let seeds = vec![b"Package: a\nVersion: 1\n".to_vec(), b"{\"a\": 1}".to_vec()];
        let mut a = Mutator::new(7, seeds.clone(), &[b"Depends"], 64);
        let mut b = Mutator::new(7, seeds, &[b"Depends"], 64);
        let xs: Vec<Vec<u8>> = (0..500).map(|_| a.next_input()).collect();
        let ys: Vec<Vec<u8>> = (0..500).map(|_| b.next_input()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| x.len() <= 64));
        // The mutations really change things.
        let distinct: std::collections::BTreeSet<&Vec<u8>> = xs.iter().collect();
        assert!(
            distinct.len() > 400,
            "only {} distinct inputs",
            distinct.len()
        );
    }

    #[test]
    fn other_seed_other_inputs() {
        let seeds = vec![b"abcdefgh".to_vec()];
        let mut a = Mutator::new(1, seeds.clone(), &[], 64);
        let mut b = Mutator::new(2, seeds, &[], 64);
        let xs: Vec<Vec<u8>> = (0..50).map(|_| a.next_input()).collect();
        let ys: Vec<Vec<u8>> = (0..50).map(|_| b.next_input()).collect();
        assert_ne!(xs, ys);
    }
}
