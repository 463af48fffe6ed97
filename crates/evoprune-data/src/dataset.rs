//! The dataset type.

use crate::{DataError, Result};

/// `n` samples of a fixed per-sample shape, stored row-major as `f32`, with labels in
/// `0..n_classes`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    x: Vec<f32>,
    shape: Vec<usize>,
    labels: Vec<u32>,
    n_classes: usize,
}

impl Dataset {
    /// A validated dataset: `x.len() == labels.len() * prod(shape)`, labels `< n_classes`,
    /// values finite.
    pub fn new(x: Vec<f32>, shape: Vec<usize>, labels: Vec<u32>, n_classes: usize) -> Result<Self> {
        let dim: usize = shape.iter().product();
        if dim == 0 {
            return Err(DataError::invalid(
                "shape",
                format!("{shape:?} has no elements"),
            ));
        }
        if x.len() != labels.len() * dim {
            return Err(DataError::invalid(
                "dataset",
                format!(
                    "{} values for {} samples of shape {shape:?} (need {})",
                    x.len(),
                    labels.len(),
                    labels.len() * dim
                ),
            ));
        }
        if let Some((i, l)) = labels
            .iter()
            .enumerate()
            .find(|(_, l)| **l as usize >= n_classes)
        {
            return Err(DataError::invalid(
                "labels",
                format!("sample {i} has label {l}, but there are {n_classes} classes"),
            ));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(DataError::invalid(
                "dataset",
                format!("value {} of sample {} is not finite", i % dim, i / dim),
            ));
        }
        Ok(Dataset {
            x,
            shape,
            labels,
            n_classes,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Values per sample.
    pub fn dim(&self) -> usize {
        self.shape.iter().product()
    }
    /// Shape of one sample (e.g. `[64]`, `[1, 28, 28]`).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }
    /// All values, row-major, `len() * dim()`.
    pub fn features(&self) -> &[f32] {
        &self.x
    }
    /// Labels.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }
    /// Sample `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.x[i * d..(i + 1) * d]
    }

    /// The samples at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let d = self.dim();
        let mut x = Vec::with_capacity(idx.len() * d);
        for &i in idx {
            x.extend_from_slice(self.row(i));
        }
        Dataset {
            x,
            shape: self.shape.clone(),
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            n_classes: self.n_classes,
        }
    }

    /// Only the samples of `classes`, relabelled `0..classes.len()` in the order given (e.g.
    /// digits 0-4 as the in-distribution task). Unknown classes are ignored.
    pub fn with_classes(&self, classes: &[u32]) -> Dataset {
        let map = |l: u32| classes.iter().position(|&c| c == l);
        let idx: Vec<usize> = (0..self.len())
            .filter(|&i| map(self.labels[i]).is_some())
            .collect();
        let mut d = self.subset(&idx);
        for l in &mut d.labels {
            *l = map(*l).expect("filtered") as u32;
        }
        d.n_classes = classes.len();
        d
    }

    /// The same samples with every value mapped by `f` (e.g. scaling 0..16 pixels to 0..1).
    pub fn map_values(mut self, f: impl Fn(f32) -> f32) -> Result<Dataset> {
        self.x.iter_mut().for_each(|v| *v = f(*v));
        Dataset::new(self.x, self.shape, self.labels, self.n_classes)
    }

    /// Samples per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.n_classes];
        for &l in &self.labels {
            c[l as usize] += 1;
        }
        c
    }

    /// Concatenate datasets of the same shape (classes: the largest count).
    pub fn concat(parts: &[&Dataset]) -> Result<Dataset> {
        let first = parts
            .first()
            .ok_or_else(|| DataError::invalid("concat", "no datasets"))?;
        if let Some(p) = parts.iter().find(|p| p.shape != first.shape) {
            return Err(DataError::invalid(
                "concat",
                format!("shape {:?} differs from {:?}", p.shape, first.shape),
            ));
        }
        let x = parts.iter().flat_map(|p| p.x.iter().copied()).collect();
        let labels = parts
            .iter()
            .flat_map(|p| p.labels.iter().copied())
            .collect();
        let n_classes = parts.iter().map(|p| p.n_classes).max().unwrap_or(0);
        Ok(Dataset {
            x,
            shape: first.shape.clone(),
            labels,
            n_classes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_problem() {
        assert!(Dataset::new(vec![0.0; 6], vec![3], vec![0, 1], 2).is_ok());
        let e = Dataset::new(vec![0.0; 5], vec![3], vec![0, 1], 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("5 values for 2 samples"), "{e}");
        let e = Dataset::new(vec![0.0; 6], vec![3], vec![0, 2], 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sample 1 has label 2"), "{e}");
        let e = Dataset::new(vec![0.0, f32::NAN, 0.0], vec![3], vec![0], 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not finite"), "{e}");
    }

    #[test]
    fn class_subsets_are_relabelled_in_the_given_order() {
        let d = Dataset::new(vec![0.0, 1.0, 2.0, 3.0], vec![1], vec![0, 1, 2, 3], 4).unwrap();
        let s = d.with_classes(&[3, 1]);
        assert_eq!(s.labels(), &[1, 0]);
        assert_eq!(s.features(), &[1.0, 3.0]);
        assert_eq!(s.n_classes(), 2);
    }
}
