//! What a map shows, in memory: a 2-D grid of values (already downsampled to about the
//! pixel grid), the coordinate of each row and column, and the words around it; and which
//! cell each pixel shows.

use ndarray::Array2;

/// One axis of a map: the coordinate value at the centre of each cell, in the data's order
/// (ascending or descending), and how the axis is labelled.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MapAxis {
    /// `lat (degrees_north)`, or `dim_1 (index)` without a coordinate.
    pub label: String,
    /// The centre of each cell: strictly monotonic.
    pub centres: Vec<f64>,
    /// Whether the values are positions stored negated (`0, -1, -2, ...`), so that position
    /// 0 is drawn at the top of a vertical axis, as an image's first row; ticks show them
    /// positive.
    pub negated: bool,
}

impl MapAxis {
    /// An axis of coordinate `values` (one per cell) named `label`; the positions `0..n`
    /// instead (labelled `name (index)`) when `values` is missing, holds a NaN or is not
    /// strictly monotonic.
    pub(crate) fn new(name: &str, units: Option<&str>, values: Option<Vec<f64>>, n: usize) -> Self {
        match values.filter(|v| v.len() == n && strictly_monotonic(v)) {
            Some(centres) => MapAxis {
                label: match units {
                    Some(u) if !u.is_empty() => format!("{name} ({u})"),
                    _ => name.to_string(),
                },
                centres,
                negated: false,
            },
            None => MapAxis {
                label: format!("{name} (index)"),
                centres: (0..n).map(|i| i as f64).collect(),
                negated: false,
            },
        }
    }

    /// The axis with positions counted downwards (see [`MapAxis::negated`]) when it has no
    /// coordinate: a vertical axis without coordinates draws its first row at the top, as
    /// an image (and as most stored grids, north first).
    pub(crate) fn downwards(mut self) -> MapAxis {
        if self.label.ends_with(" (index)") && !self.negated {
            self.centres.iter_mut().for_each(|c| *c = -*c);
            self.negated = true;
        }
        self
    }

    /// What a tick at `v` shows.
    pub(crate) fn shown(&self, v: f64) -> f64 {
        if self.negated { -v } else { v }
    }

    /// The axis of `factor`-cell windows of this one (the last may be shorter): each window's
    /// centre is the mean of its cells' centres, as the block means of the values.
    pub(crate) fn coarsened(&self, factor: usize) -> MapAxis {
        let centres = self
            .centres
            .chunks(factor.max(1))
            .map(|w| w.iter().sum::<f64>() / w.len() as f64)
            .collect();
        MapAxis {
            label: self.label.clone(),
            centres,
            negated: self.negated,
        }
    }

    /// The cell edges, in the centres' order: half-way between neighbouring centres, and half
    /// a cell beyond the ends (a single cell spans its centre ± 0.5).
    fn edges(&self) -> Vec<f64> {
        let c = &self.centres;
        match c.len() {
            0 => vec![],
            1 => vec![c[0] - 0.5, c[0] + 0.5],
            n => {
                let mut e = Vec::with_capacity(n + 1);
                e.push(c[0] - (c[1] - c[0]) / 2.0);
                e.extend(c.windows(2).map(|w| (w[0] + w[1]) / 2.0));
                e.push(c[n - 1] + (c[n - 1] - c[n - 2]) / 2.0);
                e
            }
        }
    }

    /// The drawn range, low to high: from the outer edge of one end cell to the other's.
    pub(crate) fn extent(&self) -> (f64, f64) {
        let e = self.edges();
        let (a, b) = (e[0], e[e.len() - 1]);
        (a.min(b), a.max(b))
    }

    /// For each of `pixels` pixels spread evenly over [`extent`](Self::extent), from its low
    /// end to its high end, the cell it shows.
    pub(crate) fn cells_of_pixels(&self, pixels: usize) -> Vec<usize> {
        let n = self.centres.len();
        let mut edges = self.edges();
        let descending = edges[0] > edges[n];
        if descending {
            edges.reverse();
        }
        let (lo, hi) = (edges[0], edges[n]);
        (0..pixels)
            .map(|p| {
                let v = lo + (p as f64 + 0.5) / pixels as f64 * (hi - lo);
                // The last edge at or below v starts its cell.
                let k = edges[1..n].partition_point(|&e| e <= v);
                if descending { n - 1 - k } else { k }
            })
            .collect()
    }
}

fn strictly_monotonic(v: &[f64]) -> bool {
    if v.iter().any(|x| !x.is_finite()) {
        return false;
    }
    v.windows(2).all(|w| w[1] > w[0]) || v.windows(2).all(|w| w[1] < w[0])
}

/// A 2-D field ready to draw: `values[[row, col]]`, rows along `y` (the first dimension),
/// columns along `x` (the last, as xarray's `plot`).
#[derive(Clone, Debug)]
pub(crate) struct Field {
    pub values: Array2<f64>,
    pub y: MapAxis,
    pub x: MapAxis,
    /// `2 metre temperature (t2m)`.
    pub title: String,
    /// The selection and the downsampling, in words.
    pub subtitle: String,
    /// The `units` attribute, for the colour bar.
    pub units: Option<String>,
    /// The lowest and highest value (of the full-resolution slice, not only of the block
    /// means); `None` when every value is NaN.
    pub range: Option<(f64, f64)>,
}

impl Field {
    /// The number of NaN cells.
    pub(crate) fn nan_cells(&self) -> usize {
        self.values.iter().filter(|v| v.is_nan()).count()
    }

    /// The range the colour bar spans: the values' range, widened around a constant field
    /// (and `0..1` when every value is NaN), so that it never has zero width.
    pub(crate) fn colour_range(&self) -> (f64, f64) {
        match self.range {
            None => (0.0, 1.0),
            Some((lo, hi)) if hi > lo => (lo, hi),
            Some((v, _)) => {
                let d = if v == 0.0 { 0.5 } else { v.abs() * 0.01 };
                (v - d, v + d)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_without_usable_coordinates_are_positions() {
        let a = MapAxis::new("lat", Some("degrees_north"), None, 3);
        assert_eq!(
            (a.label.as_str(), a.centres.clone()),
            ("lat (index)", vec![0., 1., 2.])
        );
        let b = MapAxis::new("x", None, Some(vec![0., 2., 1.]), 3);
        assert_eq!(b.label, "x (index)");
        let c = MapAxis::new("x", None, Some(vec![0., f64::NAN, 1.]), 3);
        assert_eq!(c.label, "x (index)");
        let d = MapAxis::new("lat", Some("degrees_north"), Some(vec![60., 30.]), 2);
        assert_eq!(d.label, "lat (degrees_north)");
    }

    #[test]
    fn pixels_find_their_cells_in_either_order() {
        let up = MapAxis::new("lon", None, Some(vec![0., 10., 20.]), 3);
        assert_eq!(up.extent(), (-5.0, 25.0));
        assert_eq!(up.cells_of_pixels(6), vec![0, 0, 1, 1, 2, 2]);
        // Descending latitude: the low end (bottom, south) shows the last cells.
        let down = MapAxis::new("lat", None, Some(vec![90., 0., -90.]), 3);
        assert_eq!(down.extent(), (-135.0, 135.0));
        assert_eq!(down.cells_of_pixels(3), vec![2, 1, 0]);
        // Positions counted downwards: position 0 is the top (high) end.
        let rows = MapAxis::new("y", None, None, 3).downwards();
        assert_eq!(rows.cells_of_pixels(3), vec![2, 1, 0]);
        assert_eq!(rows.shown(-2.0), 2.0);
        let lat = MapAxis::new("lat", None, Some(vec![1.0, 2.0]), 2).downwards();
        assert!(!lat.negated);
        let one = MapAxis::new("x", None, Some(vec![7.0]), 1);
        assert_eq!(one.cells_of_pixels(4), vec![0; 4]);
        // More cells than pixels: every pixel shows one of them, in order.
        let many = MapAxis::new("x", None, None, 100);
        let cells = many.cells_of_pixels(7);
        assert!(cells.windows(2).all(|w| w[1] > w[0]) && cells[6] < 100);
    }

    #[test]
    fn coarsened_axes_average_their_windows() {
        let a = MapAxis::new("x", None, Some(vec![0., 1., 2., 3., 4.]), 5);
        assert_eq!(a.coarsened(2).centres, vec![0.5, 2.5, 4.0]);
        assert_eq!(a.coarsened(1).centres, a.centres);
    }
}
