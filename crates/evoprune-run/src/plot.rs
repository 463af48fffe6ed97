//! SVG charts: objective scatter plots (a front against its baseline) and line charts
//! (hypervolume over evaluations). SVG needs no font files, so charts draw on any machine.

use crate::{Result, RunError};
use plotters::prelude::*;
use std::path::Path;

/// How a series' points are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// Filled circles.
    Dot,
    /// Hollow circles.
    Ring,
    /// A large cross (for a single reference point such as the unpruned baseline).
    Cross,
    /// Points joined by a line.
    Line,
}

/// A named set of points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// The points (non-finite ones are skipped).
    pub points: Vec<(f64, f64)>,
    /// How to draw them.
    pub marker: Marker,
}

impl Series {
    /// A series.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>, marker: Marker) -> Self {
        Series {
            label: label.into(),
            points,
            marker,
        }
    }
}

const PALETTE: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
];

/// Padded axis range over every finite coordinate.
fn range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 0.05 };
    (lo - pad)..(hi + pad)
}

/// A chart declared as data: title, axis labels and series. [`Chart::to_svg`] draws it.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Caption above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// The series, drawn in order with the palette's colours.
    pub series: Vec<Series>,
}

impl Chart {
    /// A chart with no series yet.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
        }
    }

    /// Add a series.
    pub fn with(
        mut self,
        label: impl Into<String>,
        points: Vec<(f64, f64)>,
        marker: Marker,
    ) -> Self {
        self.series.push(Series::new(label, points, marker));
        self
    }

    /// The chart as an SVG document; `name` only labels errors.
    pub fn to_svg(&self, name: &Path) -> Result<String> {
        let err = |e: String| RunError::Plot {
            path: name.to_path_buf(),
            reason: e,
        };
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (640, 480)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
            let series = &self.series;
            let xs = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
            let ys = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
            let mut c = ChartBuilder::on(&root)
                .caption(&self.title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(xs, ys)
                .map_err(|e| err(e.to_string()))?;
            c.configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .draw()
                .map_err(|e| err(e.to_string()))?;
            for (i, s) in series.iter().enumerate() {
                let color = PALETTE[i % PALETTE.len()];
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .copied()
                    .filter(|p| p.0.is_finite() && p.1.is_finite())
                    .collect();
                let drawn = match s.marker {
                    Marker::Dot => {
                        c.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    }
                    Marker::Ring => c.draw_series(
                        pts.iter()
                            .map(|&p| Circle::new(p, 6, color.stroke_width(2))),
                    ),
                    Marker::Cross => {
                        c.draw_series(pts.iter().map(|&p| Cross::new(p, 8, color.stroke_width(3))))
                    }
                    Marker::Line => {
                        c.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                    }
                }
                .map_err(|e| err(e.to_string()))?;
                drawn.label(s.label.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 4), (x + 12, y + 4)], color.filled())
                });
            }
            c.configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| err(e.to_string()))?;
            root.present().map_err(|e| err(e.to_string()))?;
        }
        Ok(svg)
    }
}

/// Draw `series` into an SVG file at `path` (written atomically).
pub fn chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    let c = Chart {
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        series: series.to_vec(),
    };
    crate::rundir::write_atomic(path, c.to_svg(path)?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_points_and_legend() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.svg");
        chart(
            &p,
            "front",
            "active",
            "error",
            &[
                Series::new(
                    "front",
                    vec![(0.1, 0.3), (0.5, 0.1), (f64::NAN, 1.0)],
                    Marker::Dot,
                ),
                Series::new("baseline", vec![(1.0, 0.05)], Marker::Cross),
            ],
        )
        .unwrap();
        let s = std::fs::read_to_string(p).unwrap();
        assert!(s.starts_with("<svg") && s.contains("baseline") && s.contains("<circle"));
    }
}
