//! Reading a service's `/metrics` (the Prometheus text format): the few counters and
//! histograms the pipeline page shows, and a histogram's mean and p99.

use serde::Serialize;

/// One sample line: `name{label="value",...} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The samples of `text`; comments and lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let (series, value) = line.trim().rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, labels(rest.strip_suffix('}')?)?),
        None => (series, Vec::new()),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y"` (values escaped as the format says: `\"`, `\\`, `\n`).
fn labels(mut text: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    while !text.is_empty() {
        let (name, rest) = text.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((name.trim_start_matches(',').to_owned(), value));
        text = rest[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

/// The sum of the samples named `name` whose labels satisfy `select`.
pub fn total(samples: &[Sample], name: &str, select: impl Fn(&Sample) -> bool) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && select(s))
        .map(|s| s.value)
        .sum()
}

/// How long something took, from a histogram of seconds.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Timing {
    /// What was timed, in words.
    pub measure: &'static str,
    pub count: u64,
    pub average_seconds: f64,
    /// Interpolated within the histogram's buckets.
    pub p99_seconds: f64,
}

/// The mean and p99 of the histogram `name` over the series whose labels satisfy
/// `select` (their buckets added up); `None` before its first observation.
pub fn timing(
    samples: &[Sample],
    name: &str,
    measure: &'static str,
    select: impl Fn(&Sample) -> bool,
) -> Option<Timing> {
    let count = total(samples, &format!("{name}_count"), &select);
    if count <= 0.0 {
        return None;
    }
    let sum = total(samples, &format!("{name}_sum"), &select);
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for sample in samples
        .iter()
        .filter(|s| s.name == format!("{name}_bucket") && select(s))
    {
        let bound = match sample.label("le") {
            Some("+Inf") => f64::INFINITY,
            Some(le) => match le.parse() {
                Ok(bound) => bound,
                Err(_) => continue,
            },
            None => continue,
        };
        match buckets.iter_mut().find(|(b, _)| *b == bound) {
            Some((_, n)) => *n += sample.value,
            None => buckets.push((bound, sample.value)),
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Some(Timing {
        measure,
        count: count as u64,
        average_seconds: sum / count,
        p99_seconds: quantile(&buckets, count, 0.99),
    })
}

/// The `q` quantile of cumulative `buckets` (upper bound, count) holding `count`
/// observations, interpolated linearly within its bucket (Prometheus'
/// `histogram_quantile`); the highest finite bound when it falls in the `+Inf` bucket.
fn quantile(buckets: &[(f64, f64)], count: f64, q: f64) -> f64 {
    let rank = q * count;
    let mut lower = (0.0, 0.0);
    for &(bound, cumulative) in buckets {
        if cumulative >= rank {
            if bound.is_infinite() {
                return lower.0;
            }
            let share = (rank - lower.1) / (cumulative - lower.1).max(f64::MIN_POSITIVE);
            return lower.0 + (bound - lower.0) * share;
        }
        lower = (bound, cumulative);
    }
    lower.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP stage_end_to_end_latency_seconds Time from ingestion.
# TYPE stage_end_to_end_latency_seconds histogram
stage_end_to_end_latency_seconds_bucket{input="runs",le="0.1"} 50
stage_end_to_end_latency_seconds_bucket{input="runs",le="0.2"} 90
stage_end_to_end_latency_seconds_bucket{input="runs",le="1"} 100
stage_end_to_end_latency_seconds_bucket{input="runs",le="+Inf"} 100
stage_end_to_end_latency_seconds_sum{input="runs"} 12.5
stage_end_to_end_latency_seconds_count{input="runs"} 100
stage_end_to_end_latency_seconds_count{input="log_events"} 0
errors_total{error_type="unreadable_standardized_record",stage="processing"} 3
errors_total{error_type="say \"hi\", \\ bye",stage="receiving"} 1
processing_runs_total{source="zoho",status="SUCCESS"} 7
processing_runs_total{source="efficy",status="FAILED"} 2
process_open_fds 12
"#;

    #[test]
    fn parses_names_labels_and_values() {
        let samples = parse(TEXT);
        assert_eq!(samples.len(), 12);
        assert_eq!(
            samples[8].label("error_type"),
            Some("say \"hi\", \\ bye"),
            "escaped quotes, backslashes and commas in a value"
        );
        assert_eq!(samples[8].label("stage"), Some("receiving"));
        assert_eq!(samples[11].name, "process_open_fds");
        assert_eq!(samples[11].value, 12.0);
        assert_eq!(total(&samples, "processing_runs_total", |_| true), 9.0);
        assert_eq!(
            total(&samples, "errors_total", |s| s.label("error_type")
                == Some("unreadable_standardized_record")),
            3.0
        );
        assert!(parse("garbage\nname{unclosed=\"x} 1\n").is_empty());
    }

    #[test]
    fn timing_is_the_mean_and_the_interpolated_p99() {
        let samples = parse(TEXT);
        let timing = timing(
            &samples,
            "stage_end_to_end_latency_seconds",
            "ingested → committed",
            |s| s.label("input") == Some("runs"),
        )
        .unwrap();
        assert_eq!(timing.count, 100);
        assert_eq!(timing.average_seconds, 0.125);
        // Rank 99 lies in (0.2, 1]: 0.2 + 0.8 × (99 − 90) / (100 − 90).
        assert!((timing.p99_seconds - 0.92).abs() < 1e-9, "{timing:?}");
        let none = super::timing(&samples, "stage_end_to_end_latency_seconds", "", |s| {
            s.label("input") == Some("log_events")
        });
        assert_eq!(none, None, "no observation yet");
    }

    #[test]
    fn series_of_one_histogram_add_up_and_the_inf_bucket_gives_the_highest_bound() {
        let text = r#"h_bucket{route="/a",le="1"} 1
h_bucket{route="/a",le="+Inf"} 2
h_bucket{route="/b",le="1"} 0
h_bucket{route="/b",le="+Inf"} 2
h_sum{route="/a"} 10
h_sum{route="/b"} 30
h_count{route="/a"} 2
h_count{route="/b"} 2
"#;
        let timing = timing(&parse(text), "h", "request", |_| true).unwrap();
        assert_eq!((timing.count, timing.average_seconds), (4, 10.0));
        assert_eq!(timing.p99_seconds, 1.0);
    }
}
