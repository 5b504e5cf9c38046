//! `GET /metrics`, parsed as the Prometheus text format, and sums over label subsets.

use prometheus_parse::{Scrape, Value};

use crate::support::http::Registry;

/// One scrape of a server's metrics.
pub struct Metrics(Scrape);

impl Metrics {
    /// Scrapes `registry`'s server; asserts 200 and the Prometheus text content type.
    pub async fn of(registry: &Registry) -> Metrics {
        let response = registry
            .http
            .get(registry.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), 200, "GET /metrics");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = response.text().await.expect("metrics text");
        let lines = text.lines().map(|l| Ok::<_, std::io::Error>(l.to_owned()));
        Metrics(Scrape::parse(lines).expect("Prometheus text format"))
    }

    /// The sum of `name`'s samples whose labels include every pair of `labels` (0 when none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                Value::Histogram(_) | Value::Summary(_) => 0.0,
            })
            .sum()
    }

    /// Whether any sample of `name` carries the label `label`.
    pub fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter_map(|s| s.labels.get(label).map(str::to_owned))
            .collect()
    }
}

/// `after - before` of `name` over `labels`.
pub fn delta(before: &Metrics, after: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    after.sum(name, labels) - before.sum(name, labels)
}
