//! Drawing a [`Field`] as a PNG map with `plotters`: title, axes with coordinate ticks, the
//! cells in viridis (NaN in light grey), and a colour bar with the units and, when there are
//! NaN cells, a NaN swatch. Text uses the DejaVu Sans font embedded in the binary, so nothing
//! is read from the system.

use super::field::Field;
use super::viridis::viridis;
use anyhow::{Result, anyhow};
use plotters::prelude::*;
use std::ops::Range;

/// The colour of NaN cells: a light blue-grey (#c8c8d0), a colour neither viridis nor the
/// black-on-white text and axes (pure greys) ever give.
pub(crate) const NAN_RGB: [u8; 3] = [200, 200, 208];

/// DejaVu Sans (Bitstream Vera license, see `cli/assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The font family every text of the picture uses.
const FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters (once).
fn register_font() -> Result<()> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the font embedded in chunkwise cannot be read"))
    }
}

/// Pixel sizes of the picture's parts, scaled with its size (800×500 is scale 1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    scale: f64,
    width: u32,
    height: u32,
}

impl Layout {
    pub(crate) fn new(width: u32, height: u32) -> Layout {
        let scale = (f64::from(width) / 800.0)
            .min(f64::from(height) / 500.0)
            .clamp(0.45, 2.0);
        Layout {
            scale,
            width,
            height,
        }
    }

    fn px(&self, base: f64) -> u32 {
        (base * self.scale).round().max(1.0) as u32
    }

    fn title_font(&self) -> u32 {
        self.px(20.0).max(9)
    }
    fn text_font(&self) -> u32 {
        self.px(14.0).max(8)
    }
    fn title_band(&self) -> u32 {
        self.title_font() + self.text_font() + self.px(16.0)
    }
    fn colour_bar_band(&self) -> u32 {
        self.px(6.0 + 24.0 + 12.0) + self.text_font() * 5
    }
    fn margin(&self) -> u32 {
        self.px(12.0)
    }
    fn x_label_area(&self) -> u32 {
        self.text_font() * 3 + self.px(6.0)
    }
    fn y_label_area(&self) -> u32 {
        self.text_font() * 4 + self.px(16.0)
    }

    /// About how many pixels the map's cells get, across and down: what the data are
    /// downsampled to (the exact area comes from plotters' layout when drawing).
    pub(crate) fn map_pixels(&self) -> (usize, usize) {
        let w = self.width.saturating_sub(
            self.colour_bar_band() + self.margin() + self.y_label_area() + self.margin(),
        );
        let h = self.height.saturating_sub(
            self.title_band() + self.margin() + self.x_label_area() + self.margin(),
        );
        (w.max(1) as usize, h.max(1) as usize)
    }
}

/// A tick label for `v` on an axis spanning `span`: as many decimals as the ticks' spacing
/// needs, scientific for very large or very small values.
fn tick_label(v: f64, span: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) && span.abs() < 1e6 {
        return format!("{v:.2e}");
    }
    if a >= 1e6 {
        return format!("{v:.2e}");
    }
    let step = span.abs() / 6.0;
    let decimals = if step > 0.0 {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        0
    };
    let s = format!("{v:.decimals$}");
    // No "-0".
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

fn draw_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing the picture failed: {e}")
}

/// The picture of `field`, `width` × `height` pixels, as RGB bytes (row by row).
pub(crate) fn render_rgb(field: &Field, width: u32, height: u32) -> Result<Vec<u8>> {
    register_font()?;
    let layout = Layout::new(width, height);
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    let map_area = draw_frame(field, &layout, &mut buf)?;
    paint_cells(field, &mut buf, width, map_area);
    Ok(buf)
}

/// The picture of `field` as PNG bytes.
pub(crate) fn render_png(field: &Field, width: u32, height: u32) -> Result<Vec<u8>> {
    let rgb = render_rgb(field, width, height)?;
    encode_png(&rgb, width, height)
}

/// PNG bytes of an RGB image.
pub(crate) fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Best);
    let mut w = enc.write_header()?;
    w.write_image_data(rgb)?;
    w.finish()?;
    Ok(out)
}

/// Draws everything but the cells; returns the pixel area the cells go in.
fn draw_frame(field: &Field, l: &Layout, buf: &mut [u8]) -> Result<(Range<i32>, Range<i32>)> {
    let root = BitMapBackend::with_buffer(buf, (l.width, l.height)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let title_style = (FAMILY, l.title_font()).into_font().color(&BLACK);
    let text_style = (FAMILY, l.text_font()).into_font().color(&BLACK);
    let sub_style = (FAMILY, l.text_font())
        .into_font()
        .color(&RGBColor(70, 70, 70));
    let body = root
        .titled(&field.title, title_style.clone())
        .map_err(draw_err)?;
    let body = if field.subtitle.is_empty() {
        body
    } else {
        body.titled(&field.subtitle, sub_style).map_err(draw_err)?
    };
    let (map_side, bar_side) = body.split_horizontally(l.width - l.colour_bar_band());

    // The map's axes.
    let (x0, x1) = field.x.extent();
    let (y0, y1) = field.y.extent();
    let mut chart = ChartBuilder::on(&map_side)
        .margin(l.margin())
        .x_label_area_size(l.x_label_area())
        .y_label_area_size(l.y_label_area())
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(draw_err)?;
    let many = l.scale >= 0.8;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(if many { 9 } else { 5 })
        .y_labels(if many { 10 } else { 5 })
        .x_label_formatter(&|v| tick_label(field.x.shown(*v), x1 - x0))
        .y_label_formatter(&|v| tick_label(field.y.shown(*v), y1 - y0))
        .x_desc(field.x.label.as_str())
        .y_desc(field.y.label.as_str())
        .label_style(text_style.clone())
        .axis_desc_style(text_style.clone())
        .draw()
        .map_err(draw_err)?;
    let map_area = chart.plotting_area().get_pixel_range();

    // The colour bar, as tall as the map, with the units beside it.
    let (lo, hi) = field.colour_range();
    let map_y = &map_area.1;
    let body_top = body.get_base_pixel().1;
    let bar_top = (map_y.start - body_top).max(0) as u32;
    let body_h = body.dim_in_pixel().1 as i32;
    let bar_bottom = (body_top + body_h - map_y.end).max(0) as u32;
    let mut bar = ChartBuilder::on(&bar_side)
        .margin_top(bar_top)
        .margin_bottom(bar_bottom)
        .margin_left(l.px(6.0))
        .margin_right(l.px(12.0))
        .right_y_label_area_size(l.text_font() * 5)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(draw_err)?;
    let steps = 256;
    bar.draw_series((0..steps).map(|i| {
        let a = lo + (hi - lo) * i as f64 / steps as f64;
        let b = lo + (hi - lo) * (i + 1) as f64 / steps as f64;
        let [r, g, bl] = viridis((i as f64 + 0.5) / steps as f64);
        Rectangle::new([(0.0, a), (1.0, b)], RGBColor(r, g, bl).filled())
    }))
    .map_err(draw_err)?;
    let bar_ticks = |v: &f64| tick_label(*v, hi - lo);
    let mut bar_mesh = bar.configure_mesh();
    bar_mesh
        .disable_mesh()
        .disable_x_axis()
        .y_labels(if many { 8 } else { 5 })
        .y_label_formatter(&bar_ticks)
        .label_style(text_style.clone())
        .axis_desc_style(text_style.clone());
    if let Some(units) = field.units.as_deref().filter(|u| !u.is_empty()) {
        bar_mesh.y_desc(units);
    }
    bar_mesh.draw().map_err(draw_err)?;
    let (bx, by) = bar.plotting_area().get_pixel_range();
    root.draw(&Rectangle::new(
        [(bx.start, by.start), (bx.end, by.end)],
        BLACK.stroke_width(1),
    ))
    .map_err(draw_err)?;

    // The NaN swatch under the colour bar.
    let nan = field.nan_cells();
    if nan > 0 {
        let side = l.text_font() as i32;
        let top = by.end + l.px(10.0) as i32;
        let (sx0, sx1) = (bx.start, bx.start + side);
        let [r, g, b] = NAN_RGB;
        root.draw(&Rectangle::new(
            [(sx0, top), (sx1, top + side)],
            RGBColor(r, g, b).filled(),
        ))
        .map_err(draw_err)?;
        root.draw(&Rectangle::new(
            [(sx0, top), (sx1, top + side)],
            BLACK.stroke_width(1),
        ))
        .map_err(draw_err)?;
        let label = if field.range.is_none() {
            "NaN (all)".to_string()
        } else {
            "NaN".to_string()
        };
        root.draw(&Text::new(
            label,
            (sx1 + l.px(5.0) as i32, top),
            text_style.clone(),
        ))
        .map_err(draw_err)?;
    }
    root.present().map_err(draw_err)?;
    Ok(map_area)
}

/// Paints each pixel of `area` with the colour of the cell it shows: columns along `x` from
/// low to high, rows along `y` from high (top) to low, so a descending latitude is drawn
/// north up.
fn paint_cells(field: &Field, buf: &mut [u8], width: u32, area: (Range<i32>, Range<i32>)) {
    let (xr, yr) = area;
    let (pw, ph) = (xr.len(), yr.len());
    if pw == 0 || ph == 0 {
        return;
    }
    let cols = field.x.cells_of_pixels(pw);
    let rows = field.y.cells_of_pixels(ph);
    let (lo, hi) = field.colour_range();
    for (py, &row) in rows.iter().rev().enumerate() {
        let y = yr.start as usize + py;
        for (px, &col) in cols.iter().enumerate() {
            let v = field.values[[row, col]];
            let rgb = if v.is_nan() {
                NAN_RGB
            } else {
                viridis((v - lo) / (hi - lo))
            };
            let at = (y * width as usize + xr.start as usize + px) * 3;
            buf[at..at + 3].copy_from_slice(&rgb);
        }
    }
    frame(buf, width, &xr, &yr);
}

/// A one-pixel dark frame just outside `xr` × `yr` (where it fits in the picture).
fn frame(buf: &mut [u8], width: u32, xr: &Range<i32>, yr: &Range<i32>) {
    let height = (buf.len() / 3 / width as usize) as i32;
    let width = width as i32;
    let mut put = |x: i32, y: i32| {
        if (0..width).contains(&x) && (0..height).contains(&y) {
            let at = (y as usize * width as usize + x as usize) * 3;
            buf[at..at + 3].copy_from_slice(&[40, 40, 40]);
        }
    };
    for x in xr.start - 1..=xr.end {
        put(x, yr.start - 1);
        put(x, yr.end);
    }
    for y in yr.start - 1..=yr.end {
        put(xr.start - 1, y);
        put(xr.end, y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::field::MapAxis;

    #[test]
    fn tick_labels_read_well() {
        assert_eq!(tick_label(250.0, 60.0), "250");
        assert_eq!(tick_label(0.2, 1.0), "0.2");
        assert_eq!(tick_label(0.25, 0.1), "0.25");
        assert_eq!(tick_label(-0.0, 10.0), "0");
        assert_eq!(tick_label(1.5e7, 1e7), "1.50e7");
        assert_eq!(tick_label(2e-5, 1e-5), "2.00e-5");
    }

    #[test]
    fn cells_fill_the_map_area_in_their_colours() {
        // Rows: lat 10 (north) then -10 (south); the south-west cell is NaN.
        let values = ndarray::arr2(&[[1.0, 2.0], [f64::NAN, 3.0]]);
        let field = Field {
            values,
            y: MapAxis::new("lat", None, Some(vec![10.0, -10.0]), 2),
            x: MapAxis::new("lon", None, Some(vec![0.0, 10.0]), 2),
            title: "t".into(),
            subtitle: String::new(),
            units: Some("K".into()),
            range: Some((1.0, 3.0)),
        };
        let (w, h) = (400, 300);
        let rgb = render_rgb(&field, w, h).unwrap();
        let at = |x: usize, y: usize| {
            let i = (y * w as usize + x) * 3;
            [rgb[i], rgb[i + 1], rgb[i + 2]]
        };
        let layout = Layout::new(w, h);
        let mut bytes = vec![255u8; (w * h * 3) as usize];
        let (xr, yr) = draw_frame(&field, &layout, &mut bytes).unwrap();
        let (xm, ym) = (
            (xr.start + xr.end) as usize / 2,
            (yr.start + yr.end) as usize / 2,
        );
        let (x_w, x_e) = (xr.start as usize + 2, xr.end as usize - 3);
        let (y_n, y_s) = (yr.start as usize + 2, yr.end as usize - 3);
        assert_eq!(at(x_w, y_n), viridis(0.0), "north-west: 1, the lowest");
        assert_eq!(at(x_e, y_n), viridis(0.5), "north-east: 2");
        assert_eq!(at(x_w, y_s), NAN_RGB, "south-west: NaN");
        assert_eq!(at(x_e, y_s), viridis(1.0), "south-east: 3, the highest");
        assert_ne!(at(xm - 3, ym - 3), at(xm + 3, ym + 3));
        assert!(!super::super::viridis::VIRIDIS.contains(&NAN_RGB));
        let png = encode_png(&rgb, w, h).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
