//! The side-by-side table: one row per figure, a column per server kind measured, and the
//! ratio of every Berth kind to every distribution kind.

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
    /// One value per kind, in the order of `Kind::ALL`.
    values: [Option<f64>; Kind::ALL.len()],
}

fn column(kind: Kind) -> usize {
    Kind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("every kind has a column")
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
        eprintln!("  {figure} [{}]: {value:.2} {unit}", kind.label());
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
                    values: [None; Kind::ALL.len()],
                });
                self.rows.len() - 1
            }
        };
        let row = &mut self.rows[index];
        let slot = &mut row.values[column(kind)];
        *slot = Some(value(*slot));
    }

    /// A Markdown table over the kinds measured; each ratio is a Berth kind over a
    /// distribution kind, and the winner is the best value of the row.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.machine.is_empty() {
            out.push_str("| machine | unit | value |\n|---|---|---:|\n");
            for (figure, unit, value) in &self.machine {
                out.push_str(&format!("| {figure} | {unit} | {value:.2} |\n"));
            }
            out.push('\n');
        }
        let kinds: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|&k| self.rows.iter().any(|r| r.values[column(k)].is_some()))
            .collect();
        let mut pairs: Vec<(Kind, Kind)> = kinds
            .iter()
            .filter(|k| k.is_berth())
            .flat_map(|&b| kinds.iter().filter(|k| !k.is_berth()).map(move |&d| (b, d)))
            .collect();
        // What watching costs: Berth with metrics and the access log over Berth without.
        for observed in [Kind::BerthObserved, Kind::BerthObservedBatched] {
            if kinds.contains(&observed) && kinds.contains(&Kind::Berth) {
                pairs.push((observed, Kind::Berth));
            }
        }
        out.push_str("| figure | unit |");
        for kind in &kinds {
            out.push_str(&format!(" {} |", kind.label()));
        }
        for (b, d) in &pairs {
            out.push_str(&format!(" {}/{} |", b.label(), d.label()));
        }
        out.push_str(" better |\n|---|---|");
        out.push_str(&"---:|".repeat(kinds.len() + pairs.len()));
        out.push_str("---|\n");
        for row in &self.rows {
            let value = |k: Kind| row.values[column(k)];
            let fmt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
            let direction = match row.better {
                Better::Higher => "higher",
                Better::Lower => "lower",
            };
            out.push_str(&format!(
                "| {} | {} ({direction} is better) |",
                row.figure, row.unit
            ));
            for &kind in &kinds {
                out.push_str(&format!(" {} |", fmt(value(kind))));
            }
            for &(b, d) in &pairs {
                let ratio = match (value(b), value(d)) {
                    (Some(b), Some(d)) if d > 0.0 => format!("{:.2}", b / d),
                    _ => "-".to_owned(),
                };
                out.push_str(&format!(" {ratio} |"));
            }
            let measured: Vec<(Kind, f64)> = kinds
                .iter()
                .filter_map(|&k| value(k).map(|v| (k, v)))
                .collect();
            let best = measured.iter().copied().reduce(|a, b| {
                let b_wins = match row.better {
                    Better::Higher => b.1 > a.1,
                    Better::Lower => b.1 < a.1,
                };
                if b_wins {
                    b
                } else {
                    a
                }
            });
            let verdict = match best {
                Some((kind, _)) if measured.len() > 1 => kind.label(),
                _ => "-",
            };
            out.push_str(&format!(" {verdict} |\n"));
        }
        out
    }
}
