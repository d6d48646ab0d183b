//! Python's text for numbers: `repr()`/`str()` of a float and `str()` of an int, byte for
//! byte. Feast's JSON responses print floats this way, and its SQL online stores keep
//! `str(value)` of every scalar feature in a text column.

use std::fmt::Write as _;

/// Appends an integer as Python's `str()` writes it: plain decimal. A hand-rolled loop over a
/// stack buffer: `write!` would go through the formatting machinery for every cell of a
/// response.
pub fn write_int(v: i64, out: &mut Vec<u8>) {
    // u64::MAX has 20 digits, so any |i64| fits.
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        // `n % 10` < 10, so the cast is lossless.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// A fixed stack buffer that `write!` can target, so float formatting allocates nothing.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends a float as Python's `repr()` (and `str()`) writes it: the shortest digits that
/// round-trip, in exponent form when the decimal exponent is < -4 or >= 16 (`1e-05`,
/// `1.5e+16`, `-2.5e-07`, at least two exponent digits, explicit sign), otherwise positional
/// with at least one fractional digit (`1.0`, `100.0`, `0.0001`, `-0.0`); `nan`, `inf` and
/// `-inf` for the others.
pub fn write_float_repr(x: f64, out: &mut Vec<u8>) {
    if x.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    // Fast path for whole numbers below 1e16 (counts, `1.0`, `-0.0`): their exact integer is
    // also their shortest form (below 2^53 every integer is a double; up to 1e16 neighbours are
    // 2 apart, so no other integer reads back as `x`), and Python prints it positionally.
    if x.fract() == 0.0 && x.abs() < 1e16 {
        if x.is_sign_negative() {
            out.push(b'-');
        }
        // Integral and below 1e16 < 2^63, so the cast is exact.
        write_int(x.abs() as i64, out);
        out.extend_from_slice(b".0");
        return;
    }
    // Rust's `{:e}` prints the shortest digits that read back to `x`, the closest such, as
    // `d[.ddd]e[-]N`. Python's repr picks the same digits except on exact ties (fixed by
    // `break_tie_to_even`); the layout differs and is redone below. Checked against CPython
    // 3.11 on 2.6 million values (random bits, widened f32s, powers of two, integers).
    let mut sci = StackBuf {
        buf: [0; 40],
        len: 0,
    };
    let heap;
    let text: &[u8] = if write!(sci, "{x:e}").is_ok() {
        &sci.buf[..sci.len]
    } else {
        // 40 bytes hold any f64 ("-2.2250738585072014e-308" is 24), so this is unreachable;
        // it keeps the function total without a panic.
        heap = format!("{x:e}");
        heap.as_bytes()
    };

    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let e_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let (mantissa, exp_text) = text.split_at(e_at);
    let exp_text = exp_text.get(1..).unwrap_or_default();
    let (exp_negative, exp_digits) = match exp_text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, exp_text),
    };
    let magnitude = exp_digits
        .iter()
        .fold(0i32, |acc, &d| acc * 10 + i32::from(d.wrapping_sub(b'0')));
    let exp = if exp_negative { -magnitude } else { magnitude };
    // The significant digits without the point: "1.2345" -> "12345".
    let mut digits = [0u8; 24];
    let mut n = 0;
    for &d in mantissa.iter().filter(|&&d| d != b'.') {
        if let Some(slot) = digits.get_mut(n) {
            *slot = d;
            n += 1;
        }
    }
    let digits = &mut digits[..n];
    break_tie_to_even(x.abs(), digits, exp);
    let digits = &*digits;

    if negative {
        out.push(b'-');
    }
    if !(-4..16).contains(&exp) {
        // Python's repr switches to exponent form here (float_repr_style 'short', mode 'r').
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.extend_from_slice(first);
        if !rest.is_empty() {
            out.push(b'.');
            out.extend_from_slice(rest);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let magnitude = exp.unsigned_abs();
        if magnitude < 10 {
            out.push(b'0');
        }
        write_int(i64::from(magnitude), out);
    } else if exp >= 0 {
        // `exp` is in 0..16 here, so the cast is lossless.
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.extend_from_slice(digits);
            out.resize(out.len() + (int_len - digits.len()), b'0');
            out.extend_from_slice(b".0");
        } else {
            let (int_part, frac) = digits.split_at(int_len);
            out.extend_from_slice(int_part);
            out.push(b'.');
            out.extend_from_slice(frac);
        }
    } else {
        // exp in -4..=-1: "0.000ddd".
        out.extend_from_slice(b"0.");
        out.resize(out.len() + (exp.unsigned_abs() as usize - 1), b'0');
        out.extend_from_slice(digits);
    }
}

/// Python's repr and Rust's `{:e}` agree on the shortest digits except in one case: when `x`
/// lies exactly halfway between the two closest shortest candidates (it happens when `x` has
/// a short exact decimal expansion, typically a widened f32: 219.074005126953125 exactly).
/// Python's dtoa then takes the even last digit (`219.07400512695312`), Rust rounds up
/// (`...313`). This detects that tie from the exact value of `x` and switches to the even
/// candidate, provided it still reads back as `x` (next to a power of two it may not, and
/// then Python keeps the other one too).
fn break_tie_to_even(x: f64, digits: &mut [u8], exp: i32) {
    let n = digits.len();
    // A tie needs the exact value to have one digit more than the shortest form, ending in 5.
    let Some(exact) = exact_significand(x) else {
        return;
    };
    if decimal_len(exact) != n + 1 || exact % 10 != 5 {
        return;
    }
    let lower = exact / 10;
    let even = if lower.is_multiple_of(2) {
        lower
    } else {
        lower + 1
    };
    let current = digits
        .iter()
        .fold(0u128, |acc, &d| acc * 10 + u128::from(d.wrapping_sub(b'0')));
    if current == even || (current != lower && current != lower + 1) || decimal_len(even) != n {
        return;
    }
    // `digits` has at most 17 entries, so the cast is lossless.
    let scale = exp - (n as i32 - 1);
    let mut text = StackBuf {
        buf: [0; 40],
        len: 0,
    };
    if write!(text, "{even}e{scale}").is_err() {
        return;
    }
    let reads_back = std::str::from_utf8(&text.buf[..text.len])
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .is_some_and(|y| y == x);
    if reads_back {
        let mut rest = even;
        for slot in digits.iter_mut().rev() {
            // `rest % 10` < 10, so the cast is lossless.
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
    }
}

/// The significant decimal digits of a positive finite `x`'s exact value, trailing zeros
/// dropped, when there are at most 18 of them (more can never be a tie against 17 digits).
fn exact_significand(x: f64) -> Option<u128> {
    const LIMIT: u128 = 1_000_000_000_000_000_000; // 10^18
    if x <= 0.0 {
        return None;
    }
    let bits = x.to_bits();
    let biased = (bits >> 52) & 0x7ff;
    let fraction = bits & ((1 << 52) - 1);
    let (mut m, mut k) = if biased == 0 {
        (fraction, -1074i64)
    } else {
        // `biased` < 2048, so the cast is lossless.
        (fraction | (1 << 52), biased as i64 - 1075)
    };
    let zeros = m.trailing_zeros();
    m >>= zeros;
    k += i64::from(zeros);
    // x = m * 2^k with m odd. For k < 0 the digits are m * 5^-k >= 2^(bits(m) - 1 - 2k):
    // past 2^60 > 10^18 there is no tie to look for, which settles most floats without the
    // loop below (this runs for every float rendered).
    if k < 0 && i64::from(64 - m.leading_zeros()) - 1 - 2 * k > 60 {
        return None;
    }
    let mut s = u128::from(m);
    if k >= 0 {
        // m < 2^53, so up to 2^74 more still fits in u128; beyond that x has more than 18
        // significant digits anyway (its last digits come from a large power of two).
        if k > 74 {
            return None;
        }
        s <<= k;
        while s.is_multiple_of(10) {
            s /= 10;
        }
    } else {
        // m * 2^-j == m * 5^j / 10^j, and m * 5^j is odd, so it has no trailing zeros.
        for _ in 0..-k {
            s *= 5;
            if s >= LIMIT * 10 {
                return None;
            }
        }
    }
    (s < LIMIT).then_some(s)
}

fn decimal_len(mut n: u128) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}
