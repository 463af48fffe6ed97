//! Image preprocessing for ImageNet-trained backbones.

use crate::{Result, VisionError};
use image::imageops::FilterType;
use std::path::Path;

/// ImageNet channel means (RGB).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations (RGB).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Load an image file, resize its shorter side to `resize` (bilinear with antialiasing, like
/// PIL's `BILINEAR`), center-crop `crop x crop`, scale to [0, 1] and normalise with the ImageNet
/// statistics. Returns CHW `f32` values (3 x crop x crop).
pub fn imagenet(path: &Path, resize: u32, crop: u32) -> Result<Vec<f32>> {
    let img = image::open(path)
        .map_err(|e| VisionError::Image {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .to_rgb8();
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err(VisionError::Image {
            path: path.to_path_buf(),
            reason: "empty image".into(),
        });
    }
    let s = resize as f64 / w.min(h) as f64;
    let (nw, nh) = (
        ((w as f64 * s).round() as u32).max(crop),
        ((h as f64 * s).round() as u32).max(crop),
    );
    let img = image::imageops::resize(&img, nw, nh, FilterType::Triangle);
    let (l, t) = ((nw - crop) / 2, (nh - crop) / 2);
    let img = image::imageops::crop_imm(&img, l, t, crop, crop).to_image();
    let n = (crop * crop) as usize;
    let mut out = vec![0.0f32; 3 * n];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * n + i] = (f32::from(p.0[c]) / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        }
    }
    Ok(out)
}

/// A grey image in [0, 1] (`h x w`) as a normalised 3-channel `size x size` CHW input: resized
/// bilinearly and replicated across channels (MNIST through an ImageNet backbone).
pub fn grey_to_imagenet(pixels: &[f32], h: usize, w: usize, size: usize) -> Result<Vec<f32>> {
    if pixels.len() != h * w {
        return Err(VisionError::Shape(format!(
            "{} pixels for a {h}x{w} image",
            pixels.len()
        )));
    }
    let n = size * size;
    let mut out = vec![0.0f32; 3 * n];
    let (sy, sx) = (h as f32 / size as f32, w as f32 / size as f32);
    for oy in 0..size {
        // pixel-centre alignment (align_corners = false)
        let fy = ((oy as f32 + 0.5) * sy - 0.5).clamp(0.0, (h - 1) as f32);
        let (y0, ty) = (fy.floor() as usize, fy - fy.floor());
        let y1 = (y0 + 1).min(h - 1);
        for ox in 0..size {
            let fx = ((ox as f32 + 0.5) * sx - 0.5).clamp(0.0, (w - 1) as f32);
            let (x0, tx) = (fx.floor() as usize, fx - fx.floor());
            let x1 = (x0 + 1).min(w - 1);
            let v = pixels[y0 * w + x0] * (1.0 - ty) * (1.0 - tx)
                + pixels[y0 * w + x1] * (1.0 - ty) * tx
                + pixels[y1 * w + x0] * ty * (1.0 - tx)
                + pixels[y1 * w + x1] * ty * tx;
            for c in 0..3 {
                out[c * n + oy * size + ox] = (v - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_resize_keeps_constant_images_constant_and_normalises() {
        let out = grey_to_imagenet(&[0.5; 28 * 28], 28, 28, 64).unwrap();
        assert_eq!(out.len(), 3 * 64 * 64);
        for c in 0..3 {
            let want = (0.5 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
            assert!(
                out[c * 4096..(c + 1) * 4096]
                    .iter()
                    .all(|v| (v - want).abs() < 1e-6)
            );
        }
        assert!(grey_to_imagenet(&[0.0; 10], 28, 28, 64).is_err());
    }

    #[test]
    fn unreadable_images_are_errors_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("evoprune-vision-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("broken.jpg");
        std::fs::write(&p, b"not a jpeg").unwrap();
        let e = imagenet(&p, 256, 224).unwrap_err().to_string();
        assert!(e.contains("broken.jpg"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// An image-folder dataset: one sub-folder per class (classes sorted by name), `.png`, `.jpg`
/// and `.jpeg` files inside (other files are ignored), each resized (shorter side `resize`),
/// center-cropped to `crop` and normalised like [`imagenet`]. Returns the dataset (shape
/// `[3, crop, crop]`) and the class names. An undecodable image is an error naming the file.
pub fn image_folder(
    dir: &Path,
    resize: u32,
    crop: u32,
) -> Result<(evoprune_data::Dataset, Vec<String>)> {
    let err = |path: &Path, reason: String| VisionError::Image {
        path: path.to_path_buf(),
        reason,
    };
    let mut classes: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| err(dir, e.to_string()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    classes.sort();
    if classes.len() < 2 {
        return Err(err(
            dir,
            format!("need at least 2 class sub-folders, found {}", classes.len()),
        ));
    }
    let (mut x, mut labels) = (Vec::new(), Vec::new());
    for (label, (_, path)) in classes.iter().enumerate() {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(path)
            .map_err(|e| err(path, e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().and_then(|s| s.to_str()).is_some_and(|s| {
                    matches!(s.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg")
                })
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(err(
                path,
                "class folder holds no .png/.jpg/.jpeg image".into(),
            ));
        }
        for f in files {
            x.extend(imagenet(&f, resize, crop)?);
            labels.push(label as u32);
        }
    }
    let names = classes.into_iter().map(|c| c.0).collect::<Vec<_>>();
    let n = names.len();
    let c = crop as usize;
    Ok((
        evoprune_data::Dataset::new(x, vec![3, c, c], labels, n)?,
        names,
    ))
}

#[cfg(test)]
mod folder_tests {
    use super::*;

    #[test]
    fn image_folder_reads_classes_in_name_order_and_names_bad_files() {
        let dir = std::env::temp_dir().join(format!("evoprune-folder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (class, shade) in [("b_cats", 200u8), ("a_dogs", 20u8)] {
            std::fs::create_dir_all(dir.join(class)).unwrap();
            for i in 0..2 {
                let img =
                    image::RgbImage::from_pixel(40 + i * 8, 30, image::Rgb([shade, shade, shade]));
                img.save(dir.join(class).join(format!("{i}.png"))).unwrap();
            }
            std::fs::write(dir.join(class).join("notes.txt"), "ignored").unwrap();
        }
        let (d, names) = image_folder(&dir, 32, 24).unwrap();
        assert_eq!(names, vec!["a_dogs", "b_cats"]);
        assert_eq!(
            (d.len(), d.shape(), d.labels()),
            (4, &[3usize, 24, 24][..], &[0u32, 0, 1, 1][..])
        );
        // a dark image normalises below the mean, a bright one above
        assert!(d.row(0)[0] < 0.0 && d.row(3)[0] > 0.0);
        std::fs::write(dir.join("a_dogs").join("broken.jpg"), b"not an image").unwrap();
        let e = image_folder(&dir, 32, 24).unwrap_err().to_string();
        assert!(e.contains("broken.jpg"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
