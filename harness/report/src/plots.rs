//! Plots of a run's measurements (commit latency, gossip propagation) as SVG with plotters: one
//! x position per case that measured something, p50/p90/p99 as marked series, max as a faint line.

use plotters::prelude::*;

/// One plotted point group: a case label and its (p50, p90, p99, max) in ms.
pub type Percentiles = (String, [f64; 4]);

/// Renders a percentile plot; `None` when there is nothing to plot.
pub fn percentile_plot(title: &str, points: &[Percentiles]) -> Result<Option<String>, String> {
    if points.is_empty() {
        return Ok(None);
    }
    let width = (points.len() as u32 * 14 + 160).clamp(480, 1400);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let ymax = points.iter().map(|(_, p)| p[3].max(p[2])).fold(0.0f64, f64::max).max(1.0) * 1.1;
        let n = points.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0.0f64..ymax)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .y_desc("ms")
            .x_desc("case (see table)")
            .x_labels(n.min(20))
            .x_label_formatter(&|x| format!("{}", x.round() as i64 + 1))
            .draw()
            .map_err(|e| e.to_string())?;
        let series: [(&str, usize, RGBColor); 4] = [("p50", 0, RGBColor(31, 95, 191)), ("p90", 1, RGBColor(42, 138, 58)), ("p99", 2, RGBColor(198, 40, 40)), ("max", 3, RGBColor(170, 170, 170))];
        for (name, idx, color) in series {
            let data: Vec<(f64, f64)> = points.iter().enumerate().map(|(i, (_, p))| (i as f64, p[idx])).collect();
            chart
                .draw_series(LineSeries::new(data.clone(), color.stroke_width(1)))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            chart.draw_series(data.into_iter().map(|(x, y)| Circle::new((x, y), 3, color.filled()))).map_err(|e| e.to_string())?;
        }
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw().map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(Some(svg))
}
