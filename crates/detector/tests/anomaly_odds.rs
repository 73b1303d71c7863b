//! Isolation Forest acceptance on the ODDS data sets, trained in batch as in Liu, Ting &
//! Zhou (2008): 100 trees, 256-point subsamples, every point scored. The published ROC-AUCs
//! are 1.00 (shuttle) and 0.86 (mammography).

use obs_detector::anomaly::{roc_auc, DetectorConfig, IsolationForest, LabelledPoints};

fn auc(name: &str) -> f64 {
    let path = format!(
        "{}/../../tests/fixtures/odds/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let points = LabelledPoints::parse_odds(&text).unwrap();
    let seed = DetectorConfig::default().seed;
    let forest = IsolationForest::fit(&points.rows, points.dims, 100, 256, seed).unwrap();
    let scores: Vec<f64> = points
        .rows
        .chunks(points.dims)
        .map(|p| forest.score(p).unwrap())
        .collect();
    roc_auc(&scores, &points.outlier).unwrap()
}

#[test]
fn shuttle_roc_auc_is_at_least_0_99() {
    let auc = auc("shuttle.csv");
    assert!(auc >= 0.99, "shuttle ROC-AUC {auc:.4}");
}

#[test]
fn mammography_roc_auc_is_at_least_0_85() {
    let auc = auc("mammography.csv");
    assert!(auc >= 0.85, "mammography ROC-AUC {auc:.4}");
}
