//! The side-by-side table: one row per figure, Berth, distribution and their ratio.

use crate::servers::Kind;

/// Which direction is good for a figure, so the table can say who won.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

struct Row {
    figure: String,
    unit: &'static str,
    better: Better,
    berth: Option<f64>,
    distribution: Option<f64>,
}

#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
    /// Figures of the machine itself rather than of a server: (figure, unit, value).
    machine: Vec<(String, &'static str, f64)>,
}

impl Table {
    pub fn record(
        &mut self,
        figure: &str,
        unit: &'static str,
        kind: Kind,
        value: f64,
        better: Better,
    ) {
        self.put(figure, unit, kind, better, |_| value);
        eprintln!("  {figure} [{kind:?}]: {value:.2} {unit}");
    }

    /// A figure of the machine, not of either server (the ceilings uploads are measured
    /// against); rendered in a table of its own.
    pub fn machine(&mut self, figure: &str, unit: &'static str, value: f64) {
        self.machine.push((figure.to_owned(), unit, value));
        eprintln!("  {figure} [machine]: {value:.2} {unit}");
    }

    /// Adds `value` to the figure (for totals over several rounds).
    pub fn accumulate(
        &mut self,
        figure: &str,
        unit: &'static str,
        kind: Kind,
        value: f64,
        better: Better,
    ) {
        self.put(figure, unit, kind, better, |old| old.unwrap_or(0.0) + value);
    }

    fn put(
        &mut self,
        figure: &str,
        unit: &'static str,
        kind: Kind,
        better: Better,
        value: impl FnOnce(Option<f64>) -> f64,
    ) {
        let index = match self.rows.iter().position(|r| r.figure == figure) {
            Some(i) => i,
            None => {
                self.rows.push(Row {
                    figure: figure.to_owned(),
                    unit,
                    better,
                    berth: None,
                    distribution: None,
                });
                self.rows.len() - 1
            }
        };
        let row = &mut self.rows[index];
        let slot = match kind {
            Kind::Berth => &mut row.berth,
            Kind::Distribution => &mut row.distribution,
        };
        *slot = Some(value(*slot));
    }

    /// A Markdown table; the ratio is Berth/distribution, with the winner named.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.machine.is_empty() {
            out.push_str("| machine | unit | value |\n|---|---|---:|\n");
            for (figure, unit, value) in &self.machine {
                out.push_str(&format!("| {figure} | {unit} | {value:.2} |\n"));
            }
            out.push('\n');
        }
        out.push_str(
            "| figure | unit | Berth | distribution | Berth/distribution | better |\n|---|---|---:|---:|---:|---|\n",
        );
        for row in &self.rows {
            let fmt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
            let (ratio, verdict) = match (row.berth, row.distribution) {
                (Some(b), Some(d)) if d > 0.0 => {
                    let ratio = b / d;
                    let berth_wins = match row.better {
                        Better::Higher => ratio >= 1.0,
                        Better::Lower => ratio <= 1.0,
                    };
                    (
                        format!("{ratio:.2}"),
                        if berth_wins { "Berth" } else { "distribution" },
                    )
                }
                _ => ("-".to_owned(), "-"),
            };
            let direction = match row.better {
                Better::Higher => "higher",
                Better::Lower => "lower",
            };
            out.push_str(&format!(
                "| {} | {} ({direction} is better) | {} | {} | {ratio} | {verdict} |\n",
                row.figure,
                row.unit,
                fmt(row.berth),
                fmt(row.distribution)
            ));
        }
        out
    }
}
