//! Properties of generated samples, and the committed sample's agreement with the
//! generator.

// Helpers outside `#[test]` functions are test code too: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use obs_records::{RawRecord, Status};
use obs_samplegen::{
    generate, records, records_of_fleet, write_labels, write_records, AnomalyKind, GeneratorConfig,
    Label, Sample, Summary,
};
use std::collections::{HashMap, HashSet};

const SOURCES: [&str; 6] = [
    "sharepoint_graph",
    "Efficy",
    "zohobooks",
    "EasyProjects",
    "PowerBI",
    "zohoprojects",
];

fn bytes(samples: &[Sample]) -> (Vec<u8>, Vec<u8>) {
    let mut logs = Vec::new();
    let mut labels = Vec::new();
    write_records(&mut logs, samples).unwrap();
    write_labels(&mut labels, samples).unwrap();
    (logs, labels)
}

fn small(seed: u64) -> GeneratorConfig {
    GeneratorConfig {
        seed,
        hours: 6,
        ..GeneratorConfig::default()
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let first = bytes(&generate(&small(1)));
    assert_eq!(first, bytes(&generate(&small(1))));
    let other = bytes(&generate(&small(2)));
    assert_ne!(first.0, other.0);
    assert_ne!(first.1, other.1);
}

#[test]
fn committed_sample_is_what_the_default_config_generates() {
    let samples = generate(&GeneratorConfig::default());
    let (logs, labels) = bytes(&samples);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sample-data");
    let committed_logs = std::fs::read(format!("{dir}/logs.json")).unwrap();
    let committed_labels = std::fs::read(format!("{dir}/labels.json")).unwrap();
    // Compare lengths first: a mismatch then reads as a message, not 3 MB of bytes.
    assert_eq!(
        (committed_logs.len(), committed_labels.len()),
        (logs.len(), labels.len()),
        "sample-data/ drifted from the generator: rerun `cargo run -p obs-samplegen --bin sample-gen`"
    );
    assert!(committed_logs == logs, "sample-data/logs.json drifted");
    assert!(
        committed_labels == labels,
        "sample-data/labels.json drifted"
    );
    let readme = std::fs::read_to_string(format!("{dir}/README.md")).unwrap();
    let summary = Summary::of(&samples);
    let counts = format!(
        "{} records, {} failed, {} anomalous.",
        summary.records, summary.failed, summary.anomalous
    );
    assert!(
        readme.contains(&counts),
        "update sample-data/README.md: {counts}"
    );
    assert!(
        logs.len() < 3_000_000,
        "committed sample is {} bytes",
        logs.len()
    );
    assert!((2_000..=5_000).contains(&samples.len()));
}

#[test]
fn every_record_is_valid_and_round_trips() {
    for sample in generate(&GeneratorConfig::default()) {
        let bytes = sample.record.to_json_bytes();
        let parsed = RawRecord::parse(&bytes).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&bytes));
        });
        assert_eq!(parsed, sample.record);
        assert_eq!(parsed.to_json_bytes(), bytes);
    }
}

#[test]
fn records_are_internally_consistent() {
    for Sample { record: r, .. } in seeds().iter().flat_map(generate) {
        let micros = (r.end - r.start).num_microseconds().unwrap();
        assert_eq!(micros as f64 / 1e6, r.duration_seconds, "{r:?}");
        assert!(r.duration_seconds > 0.0);
        assert!(r.cpu_time_seconds <= r.duration_seconds, "{r:?}");
        assert_eq!(
            (r.cpu_time_seconds * 100.0).round() / 100.0,
            r.cpu_time_seconds
        );
        assert_eq!(r.memory_used_bytes % 4096, 0);
        let sequence = format!(
            "{}-{:02}-{:02}",
            r.sequence_date.format("%Y-%m-%d"),
            r.sequence_hour,
            r.sequence_minute
        );
        assert_eq!(r.sequence_id, sequence);
        let sequence_start = r
            .sequence_date
            .and_hms_opt(r.sequence_hour, r.sequence_minute, 0)
            .unwrap();
        assert!(r.start > sequence_start);
        assert_eq!(r.zone, "1-Raw");
        assert_eq!(
            r.parameters,
            "non affiché car différent de list ou dataframe"
        );
        let transformation = match r.source.as_str() {
            "sharepoint_graph" => "Graph_API_get_data",
            "Efficy" => "efficy_API_get_data",
            "zohobooks" | "zohoprojects" => "Zoho_API_get_data",
            "EasyProjects" => "EasyProjects_API_get_data",
            "PowerBI" => "PowerBI_API_get_data",
            other => panic!("unexpected source {other}"),
        };
        assert_eq!(r.transformation, transformation);
        match r.status {
            Status::Success => assert_eq!(r.description, "Tout roule, pas de stress!"),
            Status::Failed => assert_ne!(r.description, "Tout roule, pas de stress!"),
        }
    }
}

#[test]
fn ids_are_unique_and_objects_stable() {
    let config = GeneratorConfig {
        companies: 12,
        hours: 3,
        ..GeneratorConfig::default()
    };
    for samples in [generate(&GeneratorConfig::default()), generate(&config)] {
        let ids: HashSet<String> = samples.iter().map(|s| s.record.record_id()).collect();
        assert_eq!(ids.len(), samples.len());
        // One object id per (company, source, object) and one object per id.
        let mut by_object: HashMap<(String, String, String), i64> = HashMap::new();
        let mut by_id: HashMap<(String, i64), (String, String)> = HashMap::new();
        for r in samples.iter().map(|s| &s.record) {
            let object = (r.company.clone(), r.source.clone(), r.object_type.clone());
            assert_eq!(*by_object.entry(object).or_insert(r.object_id), r.object_id);
            let named = (r.source.clone(), r.object_type.clone());
            assert_eq!(
                by_id
                    .entry((r.company.clone(), r.object_id))
                    .or_insert(named.clone()),
                &named
            );
        }
    }
}

#[test]
fn every_object_runs_every_hour_in_order() {
    let config = GeneratorConfig::default();
    let samples = generate(&config);
    let mut runs: HashMap<&str, Vec<&RawRecord>> = HashMap::new();
    for s in &samples {
        runs.entry(&s.label.series_key).or_default().push(&s.record);
    }
    for (series, runs) in runs {
        assert_eq!(runs.len(), config.hours, "{series}");
        assert!(
            runs.windows(2)
                .all(|w| w[0].sequence_id < w[1].sequence_id && w[0].start < w[1].start),
            "{series} out of order"
        );
    }
}

#[test]
fn the_field_sources_and_company_appear() {
    let samples = generate(&GeneratorConfig::default());
    let sources: HashSet<&str> = samples.iter().map(|s| s.record.source.as_str()).collect();
    assert_eq!(sources, SOURCES.into_iter().collect());
    let companies: HashSet<&str> = samples.iter().map(|s| s.record.company.as_str()).collect();
    assert_eq!(companies.len(), GeneratorConfig::default().companies);
    assert!(companies.contains("akonovia"));
    assert!(samples
        .iter()
        .any(|s| s.record.sequence_id == "2025-09-05-16-45" && s.record.company == "akonovia"));
}

#[test]
fn labels_match_their_records() {
    for Sample { record, label } in generate(&GeneratorConfig::default()) {
        assert_eq!(label.record_id, record.record_id());
        assert_eq!(label.series_key, record.series_key());
        assert_eq!(label.anomalous, !label.kinds.is_empty());
        assert_eq!(
            label.kinds.contains(&AnomalyKind::Failure),
            record.status == Status::Failed
        );
        assert_eq!(
            label.kinds.contains(&AnomalyKind::NegativeMemory),
            record.memory_used_bytes < 0
        );
        if label.kinds.contains(&AnomalyKind::MemorySpike) {
            assert!(record.memory_used_bytes > 100 * 1024 * 1024);
        }
    }
}

#[test]
fn labels_file_lines_deserialize_in_record_order() {
    let samples = generate(&small(9));
    let (logs, labels) = bytes(&samples);
    let logs: Vec<&[u8]> = logs
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let labels: Vec<Label> = labels
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(logs.len(), labels.len());
    for (line, label) in logs.iter().zip(&labels) {
        assert_eq!(RawRecord::parse(line).unwrap().record_id(), label.record_id);
    }
}

/// The default seed and a few others: properties must not hinge on one lucky draw.
fn seeds() -> [GeneratorConfig; 4] {
    [0, 1, 2, 3].map(|seed| GeneratorConfig {
        seed: if seed == 0 {
            GeneratorConfig::default().seed
        } else {
            seed
        },
        ..GeneratorConfig::default()
    })
}

#[test]
fn failure_and_anomaly_shares_are_sane() {
    for config in seeds() {
        shares_are_sane(&generate(&config));
    }
}

fn shares_are_sane(samples: &[Sample]) {
    let n = samples.len() as f64;
    let share = |kind: AnomalyKind| {
        samples
            .iter()
            .filter(|s| s.label.kinds.contains(&kind))
            .count() as f64
            / n
    };
    let failed = share(AnomalyKind::Failure);
    assert!((0.005..0.06).contains(&failed), "failed {failed}");
    let negative = share(AnomalyKind::NegativeMemory);
    assert!(
        (0.003..0.04).contains(&negative),
        "negative memory {negative}"
    );
    for kind in [
        AnomalyKind::SlowRun,
        AnomalyKind::MemorySpike,
        AnomalyKind::CpuSpike,
    ] {
        let s = share(kind);
        assert!(s > 0.0 && s < 0.03, "{kind:?} {s}");
    }
    let summary = Summary::of(samples);
    let anomalous = summary.anomalous as f64 / n;
    assert!((0.02..0.15).contains(&anomalous), "anomalous {anomalous}");
    // Failures come with real-looking error texts, the field's KeyError among them.
    let texts: HashSet<&str> = samples
        .iter()
        .filter(|s| s.record.status == Status::Failed)
        .map(|s| s.record.description.as_str())
        .collect();
    assert!(texts.contains("'id'"));
    assert!(texts.iter().any(|t| t.contains("Read timed out")));
}

#[test]
fn injected_anomalies_stand_out_from_their_own_series() {
    for config in seeds() {
        anomalies_stand_out(&generate(&config));
    }
}

fn anomalies_stand_out(samples: &[Sample]) {
    let mut normal: HashMap<&str, (Vec<f64>, Vec<f64>)> = HashMap::new();
    for s in samples.iter().filter(|s| !s.label.anomalous) {
        let entry = normal.entry(&s.label.series_key).or_default();
        entry.0.push(s.record.duration_seconds);
        entry.1.push(s.record.cpu_time_seconds);
    }
    for s in samples.iter().filter(|s| s.label.anomalous) {
        let Some((durations, cpus)) = normal.get_mut(s.label.series_key.as_str()) else {
            continue;
        };
        if s.label.kinds.contains(&AnomalyKind::SlowRun) {
            let baseline = median(durations);
            assert!(s.record.duration_seconds > 5.0 * baseline, "{s:?}");
        }
        if s.label.kinds.contains(&AnomalyKind::CpuSpike) {
            let baseline = median(cpus).max(0.01);
            assert!(s.record.cpu_time_seconds > 3.0 * baseline, "{s:?}");
        }
    }
}

#[test]
fn records_gives_n_valid_records_extending_generate() {
    let many: Vec<RawRecord> = records(5, 10_000).collect();
    assert_eq!(many.len(), 10_000);
    let ids: HashSet<String> = many.iter().map(RawRecord::record_id).collect();
    assert_eq!(ids.len(), many.len());
    let generated = generate(&small(5));
    assert_eq!(
        many[..generated.len()],
        generated.into_iter().map(|s| s.record).collect::<Vec<_>>()[..]
    );
    assert!(many
        .iter()
        .all(|r| RawRecord::parse(&r.to_json_bytes()).as_ref() == Ok(r)));
}

#[test]
fn a_larger_fleet_runs_more_series_and_the_default_one_is_records() {
    let series = |records: &[RawRecord]| {
        records
            .iter()
            .map(RawRecord::series_key)
            .collect::<HashSet<_>>()
            .len()
    };
    let default: Vec<RawRecord> = records(1, 20_000).collect();
    assert_eq!(records_of_fleet(1, 4, 20_000).collect::<Vec<_>>(), default);
    // The counts `make bench-e2e` states for BENCH_COMPANIES.
    assert_eq!(series(&default), 92);
    let larger: Vec<RawRecord> = records_of_fleet(1, 11, 20_000).collect();
    assert_eq!(series(&larger), 189);
}

#[test]
fn empty_fleets_generate_nothing() {
    let none = GeneratorConfig {
        companies: 0,
        ..GeneratorConfig::default()
    };
    assert!(generate(&none).is_empty());
    let no_objects = GeneratorConfig {
        objects_per_source: 0,
        ..GeneratorConfig::default()
    };
    assert!(generate(&no_objects).is_empty());
}
