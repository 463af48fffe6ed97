//! The IDX format of MNIST (raw or gzip).
//!
//! Layout: two zero bytes, a type byte (0x08 = u8), the number of dimensions, then each
//! dimension as a big-endian u32, then the data.

use crate::{DataError, Dataset, Result};
use std::path::Path;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// Dimensions (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// The values.
    pub data: Vec<u8>,
}

/// Read an IDX file of unsigned bytes.
pub fn read(path: &Path) -> Result<IdxArray> {
    let bytes = crate::read_maybe_gz(path)?;
    parse(path, &bytes)
}

fn parse(path: &Path, b: &[u8]) -> Result<IdxArray> {
    if b.len() < 4 || b[0] != 0 || b[1] != 0 {
        return Err(DataError::format(
            path,
            "not an IDX file (bad magic number)",
        ));
    }
    if b[2] != 0x08 {
        return Err(DataError::format(
            path,
            format!(
                "IDX element type 0x{:02x} is not supported (only 0x08, unsigned byte)",
                b[2]
            ),
        ));
    }
    let nd = b[3] as usize;
    if nd == 0 || b.len() < 4 + 4 * nd {
        return Err(DataError::format(path, "truncated IDX header"));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|k| u32::from_be_bytes(b[4 + 4 * k..8 + 4 * k].try_into().expect("4 bytes")) as usize)
        .collect();
    let n = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| DataError::format(path, "IDX dimensions overflow"))?;
    let data = &b[4 + 4 * nd..];
    if data.len() != n {
        return Err(DataError::format(
            path,
            format!(
                "IDX header {dims:?} promises {n} values, the file holds {}",
                data.len()
            ),
        ));
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

/// An image file and its label file as a dataset: pixels scaled to `[0, 1]`, shape
/// `[1, rows, cols]`, 10 classes (labels must be `< 10`).
pub fn read_images_labels(images: &Path, labels: &Path) -> Result<Dataset> {
    let im = read(images)?;
    let lb = read(labels)?;
    if im.dims.len() != 3 {
        return Err(DataError::format(
            images,
            format!("expected 3 dimensions (n, rows, cols), got {:?}", im.dims),
        ));
    }
    if lb.dims.len() != 1 {
        return Err(DataError::format(
            labels,
            format!("expected 1 dimension (n), got {:?}", lb.dims),
        ));
    }
    if im.dims[0] != lb.dims[0] {
        return Err(DataError::format(
            labels,
            format!(
                "{} labels for {} images in {}",
                lb.dims[0],
                im.dims[0],
                images.display()
            ),
        ));
    }
    if let Some(i) = lb.data.iter().position(|&l| l >= 10) {
        return Err(DataError::format(
            labels,
            format!("label {} of sample {i} is not a digit", lb.data[i]),
        ));
    }
    let x = im.data.iter().map(|&p| f32::from(p) / 255.0).collect();
    Dataset::new(
        x,
        vec![1, im.dims[1], im.dims[2]],
        lb.data.iter().map(|&l| u32::from(l)).collect(),
        10,
    )
}

/// MNIST from a directory holding the four standard files (`.gz` or not): (train, test).
pub fn mnist(dir: &Path) -> Result<(Dataset, Dataset)> {
    let pick = |stem: &str| {
        let gz = dir.join(format!("{stem}.gz"));
        if gz.exists() { gz } else { dir.join(stem) }
    };
    let train = read_images_labels(
        &pick("train-images-idx3-ubyte"),
        &pick("train-labels-idx1-ubyte"),
    )?;
    let test = read_images_labels(
        &pick("t10k-images-idx3-ubyte"),
        &pick("t10k-labels-idx1-ubyte"),
    )?;
    Ok((train, test))
}

/// An IDX file of `u8` values (tests of this crate write their own MNIST-like files).
#[cfg(test)]
pub(crate) fn encode_u8(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        encode_u8(dims, data)
    }

    #[test]
    fn round_trip_raw_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let im = idx(&[2, 2, 2], &[0, 255, 10, 20, 30, 40, 50, 60]);
        std::fs::write(dir.path().join("im"), &im).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &idx(&[2], &[3, 7])).unwrap();
        std::fs::write(dir.path().join("lb.gz"), gz.finish().unwrap()).unwrap();
        let d = read_images_labels(&dir.path().join("im"), &dir.path().join("lb.gz")).unwrap();
        assert_eq!(d.shape(), &[1, 2, 2]);
        assert_eq!(d.labels(), &[3, 7]);
        assert_eq!(d.row(0)[1], 1.0);
    }

    #[test]
    fn corrupt_and_truncated_files_are_errors_naming_the_file() {
        let p = Path::new("x.idx");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![1, 2, 3], "bad magic"),
            (vec![0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0], "not supported"),
            (vec![0, 0, 8, 3, 0, 0], "truncated IDX header"),
            (
                idx(&[3, 2], &[1, 2, 3]),
                "promises 6 values, the file holds 3",
            ),
        ];
        for (b, needle) in cases {
            let e = parse(p, &b).unwrap_err().to_string();
            assert!(e.starts_with("x.idx") && e.contains(needle), "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.gz"), [0x1f, 0x8b, 8, 0, 1, 2]).unwrap();
        assert!(
            read(&dir.path().join("bad.gz"))
                .unwrap_err()
                .to_string()
                .contains("corrupt gzip")
        );
        assert!(
            read(&dir.path().join("missing"))
                .unwrap_err()
                .to_string()
                .contains("missing")
        );
    }

    #[test]
    #[ignore = "needs ../shared/data"]
    fn real_mnist() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist");
        let (train, test) = mnist(&dir).unwrap();
        assert_eq!(
            (train.len(), test.len(), train.shape()),
            (60000, 10000, &[1usize, 28, 28][..])
        );
        assert_eq!(train.n_classes(), 10);
    }
}
