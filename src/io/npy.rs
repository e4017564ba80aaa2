//! NumPy array files: `.npy` (one array) and `.npz` (a zip of `.npy` entries), read and
//! written without extra crates.
//!
//! Owns the `.npy` format (magic, versions 1.0/2.0/3.0, the Python-dict header, C-order
//! little-endian data), the conversion of the supported dtypes to `f32`, and the `.npz`
//! container (STORED and DEFLATED entries, a 1 GiB per-entry unpack limit). Writing
//! produces exactly what `numpy.save` / `numpy.savez` write for a float32 array.
//! Readers never panic on bad bytes: they return [`NpyError`].

use std::io::{Cursor, Write};

/// An array read from or written to a `.npy` file: its shape and its values in C order.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Why a `.npy` or `.npz` could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("not a .npy file: it does not start with the NumPy magic \\x93NUMPY")]
    BadMagic,
    #[error("unsupported .npy format version {0}.{1} (supported: 1.0, 2.0, 3.0)")]
    UnsupportedVersion(u8, u8),
    #[error("the .npy header is {0} bytes long; the limit is {MAX_HEADER_LEN}")]
    HeaderTooLong(usize),
    #[error("the .npy file is truncated: {0}")]
    Truncated(String),
    #[error("bad .npy header: {0}")]
    BadHeader(String),
    #[error("unsupported dtype {0} (supported: '<f4', '<f8', '|u1', '<i4', '<i8')")]
    UnsupportedDtype(String),
    #[error("Fortran-order arrays are not supported (save the array in C order)")]
    FortranOrder,
    #[error("shape {shape} holds {expected} values but there are {actual}")]
    ShapeMismatch {
        shape: String,
        expected: u64,
        actual: u64,
    },
    #[error("not a readable .npz (zip) archive: {0}")]
    Zip(String),
    #[error("{name} in the .npz archive unpacks to {size} bytes; the limit is 1 GiB")]
    EntryTooLarge { name: String, size: u64 },
    #[error("{name} in the .npz archive: {source}")]
    Entry {
        name: String,
        #[source]
        source: Box<NpyError>,
    },
}

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy's own default `max_header_size` when reading.
const MAX_HEADER_LEN: usize = 10_000;
/// Largest `.npz` entry that is unpacked.
const MAX_ENTRY_BYTES: u64 = 1 << 30;
/// `numpy.lib.format.GROWTH_AXIS_MAX_DIGITS`: spare spaces NumPy leaves in the header.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
const ARRAY_ALIGN: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    F4,
    F8,
    U1,
    I4,
    I8,
}

impl Dtype {
    fn parse(descr: &str) -> Option<Dtype> {
        Some(match descr {
            "<f4" => Dtype::F4,
            "<f8" => Dtype::F8,
            "|u1" | "<u1" => Dtype::U1,
            "<i4" => Dtype::I4,
            "<i8" => Dtype::I8,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Dtype::U1 => 1,
            Dtype::F4 | Dtype::I4 => 4,
            Dtype::F8 | Dtype::I8 => 8,
        }
    }
}

/// Reads a `.npy` file: `'<f4'` and `'<f8'` (converted to f32), also `'|u1'`, `'<i4'`,
/// `'<i8'`; C order only; format versions 1.0, 2.0 and 3.0.
pub fn read_npy(bytes: &[u8]) -> Result<NpyArray, NpyError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(v) => (v[0], v[1]),
        None => return Err(NpyError::Truncated("the version bytes are missing".into())),
    };
    let (len_size, utf8) = match (major, minor) {
        (1, 0) => (2, false),
        (2, 0) => (4, false),
        (3, 0) => (4, true),
        _ => return Err(NpyError::UnsupportedVersion(major, minor)),
    };
    let len_bytes = bytes
        .get(8..8 + len_size)
        .ok_or_else(|| NpyError::Truncated("the header length is missing".into()))?;
    let header_len = len_bytes
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | b as usize);
    if header_len > MAX_HEADER_LEN {
        return Err(NpyError::HeaderTooLong(header_len));
    }
    let start = 8 + len_size;
    let raw = bytes.get(start..start + header_len).ok_or_else(|| {
        NpyError::Truncated(format!(
            "the header should be {header_len} bytes, the file has {}",
            bytes.len().saturating_sub(start)
        ))
    })?;
    let header: String = if utf8 {
        std::str::from_utf8(raw)
            .map_err(|_| NpyError::BadHeader("the header is not valid UTF-8".into()))?
            .to_string()
    } else {
        raw.iter().map(|&b| b as char).collect()
    };
    let (descr, fortran, shape) = parse_header(&header)?;
    let dtype = Dtype::parse(&descr).ok_or(NpyError::UnsupportedDtype(format!("'{descr}'")))?;
    if fortran {
        return Err(NpyError::FortranOrder);
    }
    let count = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .ok_or_else(|| NpyError::BadHeader(format!("shape {} is too large", py_tuple(&shape))))?;
    let data = &bytes[start + header_len..];
    let needed = count
        .checked_mul(dtype.size() as u64)
        .ok_or_else(|| NpyError::BadHeader(format!("shape {} is too large", py_tuple(&shape))))?;
    let have = data.len() as u64;
    if have < needed {
        return Err(NpyError::Truncated(format!(
            "shape {} of {descr} needs {needed} data bytes, the file has {have}",
            py_tuple(&shape)
        )));
    }
    if have > needed {
        return Err(NpyError::ShapeMismatch {
            shape: py_tuple(&shape),
            expected: count,
            actual: have / dtype.size() as u64,
        });
    }
    let data = decode(dtype, data);
    Ok(NpyArray { shape, data })
}

fn decode(dtype: Dtype, data: &[u8]) -> Vec<f32> {
    fn chunks<const N: usize>(data: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        data.chunks_exact(N).map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            a
        })
    }
    match dtype {
        Dtype::F4 => chunks::<4>(data).map(f32::from_le_bytes).collect(),
        Dtype::F8 => chunks::<8>(data)
            .map(|b| f64::from_le_bytes(b) as f32)
            .collect(),
        Dtype::U1 => data.iter().map(|&b| b as f32).collect(),
        Dtype::I4 => chunks::<4>(data)
            .map(|b| i32::from_le_bytes(b) as f32)
            .collect(),
        Dtype::I8 => chunks::<8>(data)
            .map(|b| i64::from_le_bytes(b) as f32)
            .collect(),
    }
}

/// Header values: `descr`, `fortran_order`, `shape`.
fn parse_header(header: &str) -> Result<(String, bool, Vec<usize>), NpyError> {
    let mut p = DictParser {
        s: header.as_bytes(),
        i: 0,
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.ws();
    p.expect(b'{')?;
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        match key.as_str() {
            "descr" => {
                if p.peek() == Some(b'[') {
                    // A structured dtype: named in the error, not parsed.
                    return Err(NpyError::UnsupportedDtype("a structured dtype".into()));
                }
                descr = Some(p.string()?);
            }
            "fortran_order" => fortran = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => return Err(NpyError::BadHeader(format!("unexpected key '{other}'"))),
        }
        p.ws();
        if p.eat(b',') {
            continue;
        }
        p.ws();
        p.expect(b'}')?;
        break;
    }
    p.ws();
    if p.i != p.s.len() {
        return Err(NpyError::BadHeader(
            "text after the header dictionary".into(),
        ));
    }
    let missing = |k: &str| NpyError::BadHeader(format!("the header has no '{k}'"));
    Ok((
        descr.ok_or_else(|| missing("descr"))?,
        fortran.ok_or_else(|| missing("fortran_order"))?,
        shape.ok_or_else(|| missing("shape"))?,
    ))
}

/// A parser for the small Python-literal subset `.npy` headers use.
struct DictParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl DictParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), NpyError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(NpyError::BadHeader(format!(
                "expected '{}' at offset {}",
                c as char, self.i
            )))
        }
    }

    fn string(&mut self) -> Result<String, NpyError> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(NpyError::BadHeader(format!(
                    "expected a string at offset {}",
                    self.i
                )));
            }
        };
        self.i += 1;
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == quote {
                let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                return Ok(text);
            }
            self.i += 1;
        }
        Err(NpyError::BadHeader("unterminated string".into()))
    }

    fn boolean(&mut self) -> Result<bool, NpyError> {
        let rest = &self.s[self.i..];
        if rest.starts_with(b"True") {
            self.i += 4;
            Ok(true)
        } else if rest.starts_with(b"False") {
            self.i += 5;
            Ok(false)
        } else {
            Err(NpyError::BadHeader(
                "fortran_order is not True or False".into(),
            ))
        }
    }

    fn tuple(&mut self) -> Result<Vec<usize>, NpyError> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            let start = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
            let d: usize = digits
                .parse()
                .map_err(|_| NpyError::BadHeader(format!("bad shape entry at offset {start}")))?;
            self.eat(b'L'); // Python 2 longs: (3L, 4L)
            dims.push(d);
            self.ws();
            if !self.eat(b',') {
                self.ws();
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
}

fn py_tuple(shape: &[usize]) -> String {
    match shape {
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Writes a float32 `.npy` byte for byte as `numpy.save` does: version 1.0 (2.0 only if
/// the header exceeds 65535 bytes), `'<f4'`, C order, header padded to a multiple of 64.
/// The caller keeps `shape` and `data` consistent; a mismatch is written as given and
/// [`read_npy`] will refuse the file.
pub fn write_npy(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}",
        py_tuple(shape)
    );
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        header.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    // numpy.lib.format._wrap_header: pad so the data starts on a 64-byte boundary (a
    // full 64 spaces when it already would), then '\n'; version 2.0 only when needed.
    let wrapped_len = |len_size: usize| {
        let total = MAGIC.len() + 2 + len_size + header.len() + 1;
        header.len() + (ARRAY_ALIGN - total % ARRAY_ALIGN) + 1
    };
    let (version, len_size) = if wrapped_len(2) <= u16::MAX as usize {
        (1u8, 2)
    } else {
        (2u8, 4)
    };
    let padded = wrapped_len(len_size);
    header.push_str(&" ".repeat(padded - header.len() - 1));
    header.push('\n');
    let mut out = preamble(version, &header, data.len() * 4);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// The magic string, format version, header length (2 bytes in version 1, 4 after)
/// and `header` itself, with room for `data_bytes` more.
fn preamble(version: u8, header: &str, data_bytes: usize) -> Vec<u8> {
    let len_size = if version == 1 { 2 } else { 4 };
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + len_size + header.len() + data_bytes);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out
}

/// Reads every array of a `.npz`: names without the `.npy` suffix, in archive order.
/// STORED and DEFLATED entries; an entry larger than 1 GiB unpacked is refused.
pub fn read_npz(bytes: &[u8]) -> Result<Vec<(String, NpyArray)>, NpyError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| NpyError::Zip(e.to_string()))?;
    let mut out = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| NpyError::Zip(e.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        let file_name = entry
            .name()
            .map_err(|e| NpyError::Zip(e.to_string()))?
            .into_owned();
        if entry.size() > MAX_ENTRY_BYTES {
            return Err(NpyError::EntryTooLarge {
                name: file_name,
                size: entry.size(),
            });
        }
        let Some(buf) = super::read_at_most(&mut entry, MAX_ENTRY_BYTES)
            .map_err(|e| NpyError::Zip(format!("cannot unpack {file_name}: {e}")))?
        else {
            return Err(NpyError::EntryTooLarge {
                name: file_name,
                size: MAX_ENTRY_BYTES + 1,
            });
        };
        let array = read_npy(&buf).map_err(|e| NpyError::Entry {
            name: file_name.clone(),
            source: Box::new(e),
        })?;
        let name = file_name
            .strip_suffix(".npy")
            .unwrap_or(&file_name)
            .to_string();
        out.push((name, array));
    }
    Ok(out)
}

/// Writes a `.npz` as `numpy.savez` does: one STORED `<name>.npy` entry per array.
pub fn write_npz(arrays: &[(String, NpyArray)]) -> Result<Vec<u8>, NpyError> {
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, array) in arrays {
        let expected = array
            .shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
            .unwrap_or(u64::MAX);
        if expected != array.data.len() as u64 {
            return Err(NpyError::ShapeMismatch {
                shape: py_tuple(&array.shape),
                expected,
                actual: array.data.len() as u64,
            });
        }
        let bytes = write_npy(&array.shape, &array.data);
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(bytes.len() as u64 >= u32::MAX as u64);
        zip.start_file(format!("{name}.npy"), options)
            .map_err(|e| NpyError::Zip(format!("cannot add {name}.npy: {e}")))?;
        zip.write_all(&bytes)
            .map_err(|e| NpyError::Zip(format!("cannot write {name}.npy: {e}")))?;
    }
    let cursor = zip.finish().map_err(|e| NpyError::Zip(e.to_string()))?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A `.npy` with the given header dict text and raw data, version 1.0.
    fn npy_with(header: &str, data: &[u8]) -> Vec<u8> {
        npy_version(1, header, data)
    }

    fn npy_version(major: u8, header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = super::preamble(major, &format!("{header}\n"), data.len());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn write_then_read_round_trips() {
        for (shape, data) in [
            (
                vec![2, 3],
                vec![1.0, -2.5, 3.25, f32::MAX, f32::MIN_POSITIVE, -0.0],
            ),
            (vec![4], vec![0.1, 0.2, 0.3, 0.4]),
            (vec![], vec![42.0]),
            (vec![0, 5], vec![]),
            (vec![1, 2, 2, 1], vec![1.0, 2.0, 3.0, 4.0]),
            (vec![123_456_789, 0], vec![]),
        ] {
            let bytes = write_npy(&shape, &data);
            assert_eq!(bytes[6..8], [1, 0], "version 1.0");
            let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
            assert_eq!(
                (10 + header_len) % 64,
                0,
                "data starts on a 64-byte boundary"
            );
            assert_eq!(bytes[10 + header_len - 1], b'\n');
            let back = read_npy(&bytes).expect("read back");
            assert_eq!(back.shape, shape);
            assert_eq!(
                back.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                data.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
        // NaN survives bit for bit.
        let back = read_npy(&write_npy(&[1], &[f32::NAN])).expect("nan");
        assert!(back.data[0].is_nan());
    }

    #[test]
    fn writes_exactly_what_numpy_writes() {
        // numpy.save of np.zeros((2, 3), np.float32): 128-byte header block, NumPy's
        // 21-digit growth padding after the dict.
        let bytes = write_npy(&[2, 3], &[0.0; 6]);
        let header = std::str::from_utf8(&bytes[10..128]).expect("ascii");
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert_eq!(bytes.len(), 128 + 24);
        let scalar = write_npy(&[], &[1.0]);
        assert!(
            std::str::from_utf8(&scalar[10..128])
                .expect("ascii")
                .starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (), }")
        );
        assert_eq!(scalar.len(), 128 + 4);
    }

    #[test]
    fn reads_other_dtypes_and_versions() {
        fn le<const N: usize, T: Copy>(vals: &[T], bytes: fn(T) -> [u8; N]) -> Vec<u8> {
            vals.iter().flat_map(|&v| bytes(v)).collect()
        }
        let cases: [(&str, Vec<u8>, Vec<f32>); 4] = [
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                le(&[1.5f64, -2.0, 1e-3], f64::to_le_bytes),
                vec![1.5, -2.0, 1e-3f64 as f32],
            ),
            (
                "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }",
                vec![0, 1, 128, 255],
                vec![0.0, 1.0, 128.0, 255.0],
            ),
            (
                "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                le(&[-7i32, 70000], i32::to_le_bytes),
                vec![-7.0, 70000.0],
            ),
            (
                // Double quotes, a Python 2 long, no trailing comma.
                "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (2L,)}",
                le(&[-3i64, 1 << 40], i64::to_le_bytes),
                vec![-3.0, (1u64 << 40) as f32],
            ),
        ];
        for (header, bytes, want) in cases {
            let a = read_npy(&npy_with(header, &bytes)).expect(header);
            assert_eq!(a.shape.iter().product::<usize>(), want.len(), "{header}");
            assert_eq!(a.data, want, "{header}");
        }
        let a = read_npy(&npy_with(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
            &le(&[0.0f64; 3], f64::to_le_bytes),
        ))
        .expect("f8");
        assert_eq!(a.shape, vec![3]);

        for major in [2, 3] {
            let a = read_npy(&npy_version(
                major,
                "{'shape': (1,), 'fortran_order': False, 'descr': '<f4'}",
                &2.5f32.to_le_bytes(),
            ))
            .expect("v2/v3, keys in any order");
            assert_eq!(a.data, vec![2.5]);
        }
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let good = write_npy(&[2], &[1.0, 2.0]);
        let msg = |r: Result<NpyArray, NpyError>| match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        };
        let refused = |header: &str, body: &[u8]| msg(read_npy(&npy_with(header, body)));
        assert!(matches!(read_npy(b"PK\x03\x04"), Err(NpyError::BadMagic)));
        assert!(matches!(read_npy(b""), Err(NpyError::BadMagic)));
        assert!(msg(read_npy(&good[..7])).contains("truncated"));
        assert!(msg(read_npy(&good[..40])).contains("truncated"));
        let e = msg(read_npy(&good[..good.len() - 1]));
        assert!(
            e.contains("truncated") && e.contains("needs 8 data bytes"),
            "{e}"
        );
        let mut extra = good.clone();
        extra.extend_from_slice(&[0; 4]);
        let e = msg(read_npy(&extra));
        assert_eq!(e, "shape (2,) holds 2 values but there are 3");
        let mut v4 = good.clone();
        v4[6] = 4;
        assert!(matches!(
            read_npy(&v4),
            Err(NpyError::UnsupportedVersion(4, 0))
        ));
        // (header, data bytes, part of the message); a shape whose byte count overflows
        // is refused without allocating.
        for (header, n, says) in [
            (
                "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                4,
                "'>f4'",
            ),
            (
                "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }",
                16,
                "unsupported dtype '<c16' (supported: '<f4', '<f8', '|u1', '<i4', '<i8')",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
                8,
                "too large",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }",
                8,
                "truncated",
            ),
        ] {
            let e = refused(header, &vec![0; n]);
            assert!(e.contains(says), "{header}: {e}");
        }
        assert!(matches!(
            read_npy(&npy_with(
                "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }",
                &[0; 4]
            )),
            Err(NpyError::FortranOrder)
        ));
        let mut long = MAGIC.to_vec();
        long.extend_from_slice(&[2, 0]);
        long.extend_from_slice(&(50_000_000u32).to_le_bytes());
        assert!(matches!(
            read_npy(&long),
            Err(NpyError::HeaderTooLong(50_000_000))
        ));
        for header in [
            "{'descr': '<f4', 'shape': (1,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
            "['descr']",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} trailing",
        ] {
            let e = read_npy(&npy_with(header, &[0; 4]));
            assert!(matches!(e, Err(NpyError::BadHeader(_))), "{header}: {e:?}");
        }
    }

    #[test]
    fn npz_round_trips_in_order() {
        let arrays = vec![
            (
                "kernel".to_string(),
                NpyArray {
                    shape: vec![3, 3, 1, 2],
                    data: (0..18).map(|i| i as f32 * 0.5).collect(),
                },
            ),
            (
                "bias".to_string(),
                NpyArray {
                    shape: vec![2],
                    data: vec![-1.0, 1.0],
                },
            ),
            (
                "arr_0".to_string(),
                NpyArray {
                    shape: vec![],
                    data: vec![7.0],
                },
            ),
        ];
        let bytes = write_npz(&arrays).expect("write");
        let back = read_npz(&bytes).expect("read");
        assert_eq!(back, arrays);
        // Entries are STORED and named <name>.npy, like numpy.savez.
        let mut archive = zip::ZipArchive::new(Cursor::new(&bytes[..])).expect("zip");
        let entry = archive.by_index(0).expect("entry");
        assert_eq!(entry.name().expect("name"), "kernel.npy");
        assert_eq!(entry.compression(), zip::CompressionMethod::Stored);
        // Empty archive.
        assert!(
            read_npz(&write_npz(&[]).expect("empty"))
                .expect("read")
                .is_empty()
        );
    }

    #[test]
    fn npz_reads_deflated_entries_and_rejects_bad_ones() {
        use zip::write::SimpleFileOptions;
        let deflated =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("x.npy", deflated).expect("start");
        zip.write_all(&write_npy(&[1000], &[0.25; 1000]))
            .expect("write");
        zip.add_directory("sub/", deflated).expect("dir");
        zip.start_file("sub/y.npy", deflated).expect("start");
        zip.write_all(&write_npy(&[2], &[1.0, 2.0])).expect("write");
        let bytes = zip.finish().expect("finish").into_inner();
        let back = read_npz(&bytes).expect("read deflated");
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].0, "x");
        assert_eq!(back[0].1.data, vec![0.25; 1000]);
        assert_eq!(back[1].0, "sub/y");

        // A non-npy entry names itself in the error.
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("notes.txt", deflated).expect("start");
        zip.write_all(b"hello").expect("write");
        let bytes = zip.finish().expect("finish").into_inner();
        let e = read_npz(&bytes).map(|_| ()).unwrap_err().to_string();
        assert!(
            e.starts_with("notes.txt in the .npz archive: not a .npy file"),
            "{e}"
        );

        assert!(matches!(read_npz(b"garbage"), Err(NpyError::Zip(_))));

        let bad = [(
            "w".to_string(),
            NpyArray {
                shape: vec![2, 2],
                data: vec![1.0; 3],
            },
        )];
        let e = write_npz(&bad).map(|_| ()).unwrap_err().to_string();
        assert_eq!(e, "shape (2, 2) holds 4 values but there are 3");
    }

    /// A one-entry zip whose headers declare `declared` unpacked bytes for a tiny
    /// DEFLATE stream (an empty stored block): a zip bomb's headers without the bomb.
    fn crafted_zip(name: &str, declared: u32) -> Vec<u8> {
        let data = [0x03u8, 0x00];
        let name_len = name.len() as u16;
        let mut out = Vec::new();
        let u16s = |out: &mut Vec<u8>, vs: &[u16]| {
            vs.iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes()))
        };
        let u32s = |out: &mut Vec<u8>, vs: &[u32]| {
            vs.iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes()))
        };
        // Local header: version, flags, method 8 (DEFLATE), time, date; CRC, sizes.
        u32s(&mut out, &[0x0403_4b50]);
        u16s(&mut out, &[20, 0, 8, 0, 0x21]);
        u32s(&mut out, &[0, 2, declared]);
        u16s(&mut out, &[name_len, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        // Central directory: the same, after "made by", then comment, disk, attributes
        // and the local header's offset.
        let cd_offset = out.len() as u32;
        u32s(&mut out, &[0x0201_4b50]);
        u16s(&mut out, &[20, 20, 0, 8, 0, 0x21]);
        u32s(&mut out, &[0, 2, declared]);
        u16s(&mut out, &[name_len, 0, 0, 0, 0]);
        u32s(&mut out, &[0, 0]);
        out.extend_from_slice(name.as_bytes());
        // End of central directory: one entry.
        let cd_size = out.len() as u32 - cd_offset;
        u32s(&mut out, &[0x0605_4b50]);
        u16s(&mut out, &[0, 0, 1, 1]);
        u32s(&mut out, &[cd_size, cd_offset]);
        u16s(&mut out, &[0]);
        out
    }

    #[test]
    fn npz_refuses_entries_over_one_gib() {
        match read_npz(&crafted_zip("bomb.npy", (1 << 30) + 1)) {
            Err(NpyError::EntryTooLarge { name, size }) => {
                assert_eq!(name, "bomb.npy");
                assert_eq!(size, (1 << 30) + 1);
            }
            other => panic!("expected EntryTooLarge, got {other:?}"),
        }
        // The crafted archive itself is well formed: a small declared size reads (and
        // then fails as an empty .npy, not as a zip).
        let e = read_npz(&crafted_zip("small.npy", 0))
            .map(|_| ())
            .unwrap_err();
        assert!(
            e.to_string().contains("small.npy in the .npz archive"),
            "{e}"
        );
    }

    #[test]
    fn golden_arrays_parse() {
        let root = Path::new("/work/shared/golden");
        let Ok(cases) = std::fs::read_dir(root) else {
            return; // golden data not present on this machine
        };
        let mut parsed = 0;
        for case in cases.flatten() {
            let dir = case.path();
            let input = dir.join("input.npy");
            let mut files = Vec::new();
            if input.is_file() {
                files.push(input);
            }
            if let Ok(expected) = std::fs::read_dir(dir.join("expected")) {
                files.extend(
                    expected
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "npy")),
                );
            }
            for path in files {
                let bytes = std::fs::read(&path).expect("readable golden file");
                let a = read_npy(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(!a.shape.is_empty(), "{}", path.display());
                assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
                assert!(a.data.iter().all(|x| x.is_finite()), "{}", path.display());
                // NumPy wrote them as float32 v1.0: our writer reproduces the bytes.
                assert_eq!(write_npy(&a.shape, &a.data), bytes, "{}", path.display());
                parsed += 1;
            }
        }
        assert!(parsed > 100, "only {parsed} golden arrays found");
    }
}
