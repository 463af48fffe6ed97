//! Explanations: how often each feature is active across the front, and Grad-CAM heat maps of
//! the most frequent feature channels.

use crate::{DeeptlError, Result};
use evoprune::BitString;
use evoprune_data::Dataset;
use std::path::{Path, PathBuf};

/// How many front members keep each feature.
pub fn feature_counts(masks: &[&BitString], d: usize) -> Vec<usize> {
    let mut counts = vec![0; d];
    for m in masks {
        for j in m.iter_ones() {
            counts[j] += 1;
        }
    }
    counts
}

/// The `k` most frequently active features (count descending, index ascending on ties).
pub fn top_features(counts: &[usize], k: usize) -> Vec<(usize, usize)> {
    let mut idx: Vec<usize> = (0..counts.len()).filter(|&j| counts[j] > 0).collect();
    idx.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    idx.into_iter().take(k).map(|j| (j, counts[j])).collect()
}

/// The jet-like colour of `t` in `[0, 1]` (blue, cyan, yellow, red).
fn colormap(t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0);
    let r = (1.5 - (4.0 * t - 3.0).abs()).clamp(0.0, 1.0);
    let g = (1.5 - (4.0 * t - 2.0).abs()).clamp(0.0, 1.0);
    let b = (1.5 - (4.0 * t - 1.0).abs()).clamp(0.0, 1.0);
    [r, g, b]
}

/// Bilinear sample of a `h x w` map at continuous pixel-centre coordinates.
fn sample(map: &[f32], h: usize, w: usize, y: f32, x: f32) -> f32 {
    let y = (y - 0.5).clamp(0.0, (h - 1) as f32);
    let x = (x - 0.5).clamp(0.0, (w - 1) as f32);
    let (y0, x0) = (y.floor() as usize, x.floor() as usize);
    let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
    let (fy, fx) = (y - y0 as f32, x - x0 as f32);
    let top = map[y0 * w + x0] * (1.0 - fx) + map[y0 * w + x1] * fx;
    let bot = map[y1 * w + x0] * (1.0 - fx) + map[y1 * w + x1] * fx;
    top * (1.0 - fy) + bot * fy
}

/// Channels, height and width of an image sample's shape: `[H, W]` (one channel) or
/// `[C, H, W]` with one or three channels; `None` for anything else.
pub(crate) fn image_dims(shape: &[usize]) -> Option<(usize, usize, usize)> {
    match shape {
        [h, w] => Some((1, *h, *w)),
        [c @ (1 | 3), h, w] => Some((*c, *h, *w)),
        _ => None,
    }
}

/// Draw `cam` (`ch x cw`, values in [0, 1]) over `image` (`[1, h, w]`, `[h, w]` or `[3, h, w]`
/// in [0, 1]) as a `size x size` RGB PNG at `path`, half image, half colour.
pub fn write_overlay(
    path: &Path,
    image: &[f32],
    shape: &[usize],
    cam: &[f32],
    cam_hw: [usize; 2],
    size: u32,
) -> Result<()> {
    let Some((c, h, w)) = image_dims(shape) else {
        return Err(DeeptlError::invalid(
            "heat map",
            format!("cannot draw an image of shape {shape:?}"),
        ));
    };
    let s = size as f32;
    let mut img = image::RgbImage::new(size, size);
    for (px, py, p) in img.enumerate_pixels_mut() {
        let (fy, fx) = ((py as f32 + 0.5) / s, (px as f32 + 0.5) / s);
        let mut base = [0.0f32; 3];
        for (k, b) in base.iter_mut().enumerate() {
            let ch = if c == 3 { k } else { 0 };
            *b = sample(
                &image[ch * h * w..(ch + 1) * h * w],
                h,
                w,
                fy * h as f32,
                fx * w as f32,
            );
        }
        let t = sample(
            cam,
            cam_hw[0],
            cam_hw[1],
            fy * cam_hw[0] as f32,
            fx * cam_hw[1] as f32,
        );
        let col = colormap(t);
        for k in 0..3 {
            p.0[k] = ((0.5 * base[k] + 0.5 * col[k]).clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| DeeptlError::invalid(path.display().to_string(), e.to_string()))?;
    evoprune_data::fsio::write_atomic(path, png.get_ref())
        .map_err(|e| DeeptlError::invalid(path.display().to_string(), e.to_string()))
}

/// Grad-CAM overlays of `features` over the first `n_images` of `images`, written as
/// `dir/feature{j}-image{i}.png`; returns the files (relative to `dir`'s parent), grouped by
/// feature.
pub fn heat_maps(
    model: &evoprune_vision::EfficientNetLite0,
    images: &Dataset,
    features: &[usize],
    n_images: usize,
    input_size: usize,
    dir: &Path,
) -> Result<Vec<(usize, Vec<PathBuf>)>> {
    let n = n_images.min(images.len());
    if n == 0 || features.is_empty() {
        return Ok(Vec::new());
    }
    let mut x = Vec::with_capacity(n * 3 * input_size * input_size);
    for i in 0..n {
        x.extend(evoprune_vision::extract::to_input(
            images.row(i),
            images.shape(),
            input_size,
        )?);
    }
    let (maps, hw) = model.grad_cam_of(&x, n, input_size, input_size, features)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| DeeptlError::invalid(dir.display().to_string(), e.to_string()))?;
    let sub = dir.file_name().map(PathBuf::from).unwrap_or_default();
    let mut out = Vec::new();
    for (fi, &j) in features.iter().enumerate() {
        let mut files = Vec::new();
        for (i, per_image) in maps.iter().enumerate() {
            let name = format!("feature{j}-image{i}.png");
            write_overlay(
                &dir.join(&name),
                images.row(i),
                images.shape(),
                &per_image[fi],
                hw,
                160,
            )?;
            files.push(sub.join(name));
        }
        out.push((j, files));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_top() {
        let a = BitString::from_ones(6, [0, 2, 5]);
        let b = BitString::from_ones(6, [2, 5]);
        let c = BitString::from_ones(6, [2, 3]);
        let counts = feature_counts(&[&a, &b, &c], 6);
        assert_eq!(counts, vec![1, 0, 3, 1, 0, 2]);
        assert_eq!(top_features(&counts, 3), vec![(2, 3), (5, 2), (0, 1)]);
        assert_eq!(top_features(&counts, 10).len(), 4);
    }

    #[test]
    fn overlay_is_a_png_of_the_requested_size() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("o.png");
        let img: Vec<f32> = (0..64).map(|i| i as f32 / 63.0).collect();
        let cam = [0.0, 1.0, 0.5, 0.0];
        write_overlay(&p, &img, &[8, 8], &cam, [2, 2], 32).unwrap();
        let back = image::open(&p).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), (32, 32));
        // top-right is hot (red), top-left cold (blue)
        assert!(back.get_pixel(28, 3).0[0] > back.get_pixel(3, 3).0[0]);
        assert!(back.get_pixel(3, 3).0[2] > back.get_pixel(28, 3).0[2]);
    }
}
