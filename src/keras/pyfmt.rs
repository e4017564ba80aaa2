//! Python-style rendering of values, so that messages read exactly like Keras's.
//!
//! Keras builds its error messages with f-strings, so numbers and shapes appear as
//! Python (or NumPy) prints them: `(None, 3, 3, 2)`, `(5,)`, `[1 1]`, `1e-05`, `2.0`.
//! This module owns that formatting and nothing else.

/// `repr()` of a Python float.
pub fn float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Shortest round-trip digits, as Rust and Python both compute them.
    let sci = format!("{x:e}"); // e.g. "-1.5e-5"
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        // Positional notation.
        let n = digits.len() as i32;
        let s = if exp >= 0 {
            let int_len = exp + 1;
            if n <= int_len {
                format!("{}{}.0", digits, "0".repeat((int_len - n) as usize))
            } else {
                format!(
                    "{}.{}",
                    &digits[..int_len as usize],
                    &digits[int_len as usize..]
                )
            }
        } else {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        };
        format!("{sign}{s}")
    } else {
        let m = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits.clone()
        };
        let es = if exp < 0 { "-" } else { "+" };
        format!("{sign}{m}e{es}{:02}", exp.abs())
    }
}

/// A Python tuple of optional integers: `(None, 3, 3, 2)`, `(5,)`, `()`.
pub fn tuple_opt(v: &[Option<i64>]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|d| d.map_or("None".to_string(), |x| x.to_string()))
        .collect();
    tuple_of(&items)
}

/// A Python tuple of integers.
pub fn tuple(v: &[i64]) -> String {
    let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    tuple_of(&items)
}

fn tuple_of(items: &[String]) -> String {
    match items.len() {
        1 => format!("({},)", items[0]),
        _ => format!("({})", items.join(", ")),
    }
}

/// A Python list of integers: `[1, 2]`.
pub fn list(v: &[i64]) -> String {
    let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// A Python list of optional integers: `[None, 3, 3, 2]`.
pub fn list_opt(v: &[Option<i64>]) -> String {
    format!("[{}]", joined(v, ", "))
}

/// Optional integers as Python prints them, `None` for the missing ones, joined by `sep`.
fn joined(v: &[Option<i64>], sep: &str) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|d| d.map_or("None".to_string(), |x| x.to_string()))
        .collect();
    items.join(sep)
}

/// `str()` of a 1-D NumPy integer array: `[1 1]`, `[ 1 13]` (right-aligned to the widest).
pub fn np_int_array(v: &[i64]) -> String {
    let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    let w = items.iter().map(|s| s.len()).max().unwrap_or(0);
    let padded: Vec<String> = items.iter().map(|s| format!("{s:>w$}")).collect();
    format!("[{}]", padded.join(" "))
}

/// `str()` of a 1-D NumPy object array holding ints and `None`: `[None 3 3 1]`.
pub fn np_obj_array(v: &[Option<i64>]) -> String {
    format!("[{}]", joined(v, " "))
}

/// A Python set of small integers, in CPython's iteration order for small sets.
pub fn int_set(values: &[i64]) -> String {
    let mut uniq: Vec<i64> = Vec::new();
    for &v in values {
        if !uniq.contains(&v) {
            uniq.push(v);
        }
    }
    // CPython: hash(-1) == -2; slot = hash & (table_size - 1) with table size 8 for
    // small sets; collisions keep insertion order closely enough for 1-3 items.
    let slot = |v: i64| -> i64 {
        let h = if v == -1 { -2 } else { v };
        h & 7
    };
    let mut order: Vec<(i64, usize, i64)> = uniq
        .iter()
        .enumerate()
        .map(|(i, &v)| (slot(v), i, v))
        .collect();
    order.sort();
    let items: Vec<String> = order.iter().map(|t| t.2.to_string()).collect();
    format!("{{{}}}", items.join(", "))
}

/// `repr()` of a Python bool.
pub fn boolean(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// `1234567` → `1,234,567` (Keras's summary style).
pub fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Keras's `readable_memory_size` for float32 weights.
pub fn readable_bytes(params: i64) -> String {
    let mut size = params as f64 * 4.0;
    for unit in ["B", "KB", "MB", "GB", "TB"] {
        if size / 1024.0 < 1.0 {
            return format!("{size:.2} {unit}");
        }
        size /= 1024.0;
    }
    format!("{size:.2} PB")
}

/// A compact MAC count: `52.3M`.
pub fn short_count(n: i64) -> String {
    let f = n as f64;
    if f >= 1e9 {
        format!("{:.2}G", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.1}M", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1}K", f / 1e3)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_python() {
        assert_eq!(float(2.0), "2.0");
        assert_eq!(float(0.0005), "0.0005");
        assert_eq!(float(1e-5), "1e-05");
        assert_eq!(float(0.001), "0.001");
        assert_eq!(float(-0.1), "-0.1");
        assert_eq!(float(1.5), "1.5");
        assert_eq!(float(123456.0), "123456.0");
        assert_eq!(float(1e16), "1e+16");
        assert_eq!(float(0.99), "0.99");
        assert_eq!(float(3.0), "3.0");
        assert_eq!(float(1.6732632423543772), "1.6732632423543772");
    }

    #[test]
    fn tuples_and_arrays() {
        assert_eq!(
            tuple_opt(&[None, Some(3), Some(3), Some(2)]),
            "(None, 3, 3, 2)"
        );
        assert_eq!(tuple(&[5]), "(5,)");
        assert_eq!(np_int_array(&[1, 1]), "[1 1]");
        assert_eq!(np_int_array(&[1, 13]), "[ 1 13]");
        assert_eq!(
            np_obj_array(&[None, Some(3), Some(3), Some(1)]),
            "[None 3 3 1]"
        );
        assert_eq!(int_set(&[0, 3]), "{0, 3}");
        assert_eq!(int_set(&[-1, -1]), "{-1}");
    }
}
