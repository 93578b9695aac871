//! `epchip bench --scaling`: how the cost of training grows with the network and the batch. On each
//! profile: hidden widths 100, 500, 2,000 and 8,000 (one hidden layer), one to three hidden layers
//! of 500, and batches 1, 20, 50 and 200 on 784-500-10 (batch 50 elsewhere); written to
//! `scaling.csv` with log–log plots of the cost per example against the synapse count
//! (`scaling.svg`) and against the useful work per example (`scaling_work.svg`).

use std::path::Path;

use ep_runtime::{NetworkShape, NeuronModel};

use super::child::{Amount, measure_in_child};
use super::measure::Measurement;
use super::plot::{Labels, Marker, PALETTE, Series, log_log_svg};
use super::roofline::{matmul_roofline, stored_synapses, synapses, useful_flops_per_example};
use super::table::{print_header, print_row};
use super::workload::{T1, T2, Workload, profile_label};

/// Hidden widths of the width sweep.
const WIDTHS: [usize; 4] = [100, 500, 2000, 8000];
/// Hidden layers of the depth sweep (of width 500).
const DEPTHS: [usize; 3] = [1, 2, 3];
/// Batches of the batch sweep.
const BATCHES: [usize; 4] = [1, 20, 50, 200];
/// Batch of the width and depth sweeps.
const SWEEP_BATCH: usize = 50;
/// Training seconds each measurement times at least (epochs repeat until then).
const MIN_SECONDS: f64 = 1.0;
/// Test digits evaluated per measurement (the scaling table reports no evaluation time).
const EVAL_EXAMPLES: usize = 100;

/// The columns of scaling.csv.
pub const CSV_HEADER: &str = "profile,layers,hidden_layers,widest_hidden,batch,synapses,stored_synapses,\
useful_mflop_per_example,examples,epochs,repeat,examples_per_s,us_per_example,us_per_example_per_msynapse,\
useful_gflop_s,roofline_gflop_s,roofline_share,peak_rss_mib";

/// The networks and batches of the grid, without repeats: `(layers, batch)`.
pub fn grid() -> Vec<(Vec<usize>, usize)> {
    let mut grid: Vec<(Vec<usize>, usize)> = Vec::new();
    let mut add = |layers: Vec<usize>, batch: usize| {
        if !grid.iter().any(|(l, b)| *l == layers && *b == batch) {
            grid.push((layers, batch));
        }
    };
    for w in WIDTHS {
        add(vec![784, w, 10], SWEEP_BATCH);
    }
    for d in DEPTHS {
        let mut layers = vec![784];
        layers.extend(std::iter::repeat_n(500, d));
        layers.push(10);
        add(layers, SWEEP_BATCH);
    }
    for b in BATCHES {
        add(vec![784, 500, 10], b);
    }
    grid
}

/// Training examples per epoch of a workload: about [`MIN_SECONDS`] at an optimistic rate (epochs
/// repeat when it goes faster), whole batches, at least two batches, at most `available`.
fn examples_for(sizes: &[usize], batch: usize, available: usize) -> usize {
    // Optimistic useful rates: the ideal profile's at batch 50 in docs/performance.md, and its
    // online rate at batch 1.
    let rate = if batch == 1 { 10e9 } else { 60e9 };
    let wanted = (MIN_SECONDS * rate / useful_flops_per_example(sizes)).ceil() as usize;
    let batches = wanted.div_ceil(batch).max(2);
    (batches * batch).min(available / batch * batch).max(batch.min(available))
}

/// One measured workload of the grid.
struct Row {
    workload: Workload,
    measurement: Measurement,
    roofline: f64,
    repeat: usize,
}

impl Row {
    /// Whether `other` measured the same network at the same batch (on any profile).
    fn same_shapes(&self, other: &Row) -> bool {
        self.workload.batch == other.workload.batch && self.workload.shape == other.workload.shape
    }

    /// The CSV line, with `roofline` as the matrix products' FLOP/s.
    fn csv(&self, roofline: f64) -> String {
        let sizes = self.workload.shape.sizes();
        let m = &self.measurement;
        let rate = m.rate(0);
        let useful = useful_flops_per_example(sizes);
        let us = 1e6 / rate;
        format!(
            "{},{},{},{},{},{},{},{:.3},{},{},{},{:.1},{:.2},{:.3},{:.3},{:.3},{:.4},{}",
            profile_label(&self.workload.profile),
            self.workload.shape,
            sizes.len() - 2,
            sizes[1..sizes.len() - 1].iter().max().copied().unwrap_or(0),
            self.workload.batch,
            synapses(sizes),
            stored_synapses(sizes),
            useful * 1e-6,
            m.examples,
            super::measure::median(&m.epochs[0].iter().map(|&e| e as f64).collect::<Vec<_>>()),
            self.repeat,
            rate,
            us,
            us / (synapses(sizes) as f64 * 1e-6),
            rate * useful * 1e-9,
            roofline * 1e-9,
            rate * useful / roofline,
            m.peak_kib.map_or_else(|| "".to_string(), |k| format!("{:.0}", k as f64 / 1024.0)),
        )
    }
}

/// Settings of a scaling run.
#[derive(Debug, Clone)]
pub struct ScalingRun<'a> {
    /// Profiles to measure.
    pub profiles: &'a [String],
    /// Neuron model.
    pub neuron: NeuronModel,
    /// Worker threads.
    pub threads: usize,
    /// Measurements per workload.
    pub repeat: usize,
    /// Fixed training examples per workload (`None`: chosen per workload, see [`examples_for`]).
    pub examples: Option<usize>,
    /// Training examples available.
    pub available: usize,
    /// Output directory.
    pub out: &'a Path,
}

/// Measures the grid on every profile, printing rows as they finish and rewriting scaling.csv
/// after each, then draws scaling.svg.
pub fn run(s: &ScalingRun) -> anyhow::Result<()> {
    std::fs::create_dir_all(s.out)?;
    println!(
        "scaling: mnist10k, {} neurons, T1 = {T1}, T2 = {T2}, threads = {}, median of {}; each workload in its own \
         process (peak RSS), its roofline measured just before it in this process (scaling.csv: the \
         fastest of the roofline measurements of the same network and batch)",
        s.neuron, s.threads, s.repeat
    );
    print_header(&[s.threads], EVAL_EXAMPLES);
    let mut workloads = Vec::new();
    for profile in s.profiles {
        for (layers, batch) in grid() {
            let workload = Workload {
                profile: profile.clone(),
                shape: NetworkShape::new(layers)?,
                batch,
                neuron: s.neuron,
            };
            workload.check_fits()?;
            workloads.push(workload);
        }
    }
    let mut rows: Vec<Row> = Vec::new();
    for workload in workloads {
        let (layers, batch) = (workload.shape.sizes().to_vec(), workload.batch);
        let examples = s.examples.unwrap_or_else(|| examples_for(&layers, batch, s.available));
        let amount = Amount {
            examples,
            eval_examples: EVAL_EXAMPLES.min(examples),
            repeat: s.repeat,
            min_seconds: if s.examples.is_some() { 0.0 } else { MIN_SECONDS },
        };
        let roofline = matmul_roofline(&layers, batch);
        let measurement = measure_in_child(&workload, &[s.threads], &amount)?;
        print_row(&workload, &measurement, roofline, None);
        rows.push(Row { workload, measurement, roofline, repeat: s.repeat });
        write_csv(&s.out.join("scaling.csv"), &rows)?;
    }
    std::fs::write(s.out.join("scaling.svg"), plot(&rows, XAxis::Synapses))?;
    std::fs::write(s.out.join("scaling_work.svg"), plot(&rows, XAxis::Work))?;
    println!(
        "wrote scaling.csv, scaling.svg (cost against synapses) and scaling_work.svg (against useful work) to {}",
        s.out.display()
    );
    Ok(())
}

fn write_csv(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let mut text = format!("{CSV_HEADER}\n");
    for r in rows {
        // The roofline is the machine's, whatever the profile: the fastest of its measurements
        // (one before each profile's workload) is the least disturbed by other processes.
        let best = rows.iter().filter(|o| o.same_shapes(r)).map(|o| o.roofline).fold(r.roofline, f64::max);
        text += &r.csv(best);
        text.push('\n');
    }
    std::fs::write(path, text)?;
    Ok(())
}

/// What the plots put on the horizontal axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum XAxis {
    /// Synapses of the forward projections.
    Synapses,
    /// Useful floating-point operations per example.
    Work,
}

impl XAxis {
    fn of(self, sizes: &[usize]) -> f64 {
        match self {
            XAxis::Synapses => synapses(sizes) as f64,
            XAxis::Work => useful_flops_per_example(sizes),
        }
    }
}

/// Cost per example (µs) at batch [`SWEEP_BATCH`] against `x`: per profile the width sweep
/// (circles) and the depth sweep (squares), and a dashed line of slope 1 through the first
/// profile's 784-500-10 point (cost proportional to `x`).
fn plot(rows: &[Row], x: XAxis) -> String {
    let mut series = Vec::new();
    let mut profiles: Vec<String> = Vec::new();
    for r in rows {
        let label = profile_label(&r.workload.profile);
        if !profiles.contains(&label) {
            profiles.push(label);
        }
    }
    let point = |r: &Row| (x.of(r.workload.shape.sizes()), 1e6 / r.measurement.rate(0));
    for (i, p) in profiles.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()].to_string();
        let of = |pred: &dyn Fn(&[usize]) -> bool| -> Vec<(f64, f64)> {
            let mut pts: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| {
                    profile_label(&r.workload.profile) == *p
                        && r.workload.batch == SWEEP_BATCH
                        && pred(r.workload.shape.sizes())
                })
                .map(point)
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            pts
        };
        series.push(Series {
            name: format!("{p}: 784-W-10"),
            color: color.clone(),
            dashed: false,
            marker: Some(Marker::Circle),
            points: of(&|s| s.len() == 3),
        });
        series.push(Series {
            name: format!("{p}: 784-500×d-10"),
            color,
            dashed: false,
            marker: Some(Marker::Square),
            points: of(&|s| s[1..s.len() - 1].iter().all(|&w| w == 500)),
        });
    }
    let base =
        rows.iter().find(|r| r.workload.batch == SWEEP_BATCH && r.workload.shape.sizes() == [784, 500, 10]);
    if let Some(b) = base {
        let (x0, y0) = point(b);
        let (lo, hi) = rows
            .iter()
            .map(|r| x.of(r.workload.shape.sizes()))
            .fold((f64::INFINITY, 0f64), |(lo, hi), s| (lo.min(s), hi.max(s)));
        series.push(Series {
            name: match x {
                XAxis::Synapses => "∝ synapses".into(),
                XAxis::Work => "∝ useful FLOP".into(),
            },
            color: "#7f7f7f".into(),
            dashed: true,
            marker: None,
            points: vec![(lo, y0 * lo / x0), (hi, y0 * hi / x0)],
        });
    }
    let (what, x_label) = match x {
        XAxis::Synapses => ("synapses", "synapses (forward projections)"),
        XAxis::Work => ("useful work", "useful FLOP per example (input drive, 40 steps, update)"),
    };
    log_log_svg(
        &Labels {
            title: format!(
                "Training cost per example against {what}, batch {SWEEP_BATCH} (T1 {T1} + T2 {T2})"
            ),
            x: x_label.into(),
            y: "µs per training example".into(),
        },
        &series,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_has_each_workload_once_and_examples_fill_batches() {
        let g = grid();
        assert_eq!(g.len(), 9);
        assert_eq!(g.iter().filter(|(l, _)| *l == [784, 500, 10]).count(), 4);
        for (layers, batch) in g {
            let n = examples_for(&layers, batch, 8004);
            assert!(n >= batch && n.is_multiple_of(batch) && n <= 8004, "{layers:?} {batch}: {n}");
        }
        assert_eq!(examples_for(&[784, 100, 10], 50, 8004), 8000);
        assert_eq!(CSV_HEADER.split(',').count(), 18);
    }
}
