//! Measuring detectors against labelled data: ROC-AUC, and the ODDS data sets the
//! Isolation Forest is accepted on. Pure: callers read the files.

use super::error::DetectorError;

/// Points with a 0/1 outlier label, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPoints {
    pub dims: usize,
    pub rows: Vec<f64>,
    pub outlier: Vec<bool>,
}

impl LabelledPoints {
    /// Parses an ODDS CSV: `#` comment lines, then per line the features and a 0/1 label.
    pub fn parse_odds(text: &str) -> Result<Self, DetectorError> {
        let mut points = LabelledPoints {
            dims: 0,
            rows: Vec::new(),
            outlier: Vec::new(),
        };
        for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let problem = |problem: String| DetectorError::Parse {
                line: number,
                problem,
            };
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let Some((label, features)) = fields.split_last() else {
                continue;
            };
            if points.outlier.is_empty() {
                points.dims = features.len();
            }
            if features.is_empty() || features.len() != points.dims {
                return Err(problem(format!(
                    "{} features, expected {}",
                    features.len(),
                    points.dims.max(1)
                )));
            }
            for field in features {
                let value: f64 = field
                    .parse()
                    .map_err(|_| problem(format!("{field:?} is not a number")))?;
                if !value.is_finite() {
                    return Err(problem(format!("{field:?} is not finite")));
                }
                points.rows.push(value);
            }
            points.outlier.push(match *label {
                "0" | "0.0" => false,
                "1" | "1.0" => true,
                other => return Err(problem(format!("label {other:?} is not 0 or 1"))),
            });
        }
        if points.outlier.is_empty() {
            return Err(DetectorError::Parse {
                line: text.lines().count(),
                problem: "no data lines".to_owned(),
            });
        }
        Ok(points)
    }
}

/// Area under the ROC curve of `scores` (higher = more anomalous) for `positive` labels:
/// the probability that a random positive outscores a random negative, ties counting
/// half (Mann–Whitney U). `None` unless both classes are present and the lengths match.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    if scores.len() != positive.len() {
        return None;
    }
    let positives = positive.iter().filter(|p| **p).count();
    let negatives = positive.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + end) as f64 / 2.0 + 1.0;
        let tied_positives = order[start..=end].iter().filter(|&&i| positive[i]).count();
        rank_sum += average_rank * tied_positives as f64;
        start = end + 1;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand() {
        assert_eq!(roc_auc(&[0.1, 0.2, 0.9], &[false, false, true]), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.2, 0.1], &[false, false, true]), Some(0.0));
        assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        // pairs (pos, neg): (0.8, 0.3) win, (0.8, 0.9) lose, (0.4, 0.3) win, (0.4, 0.9) lose
        assert_eq!(
            roc_auc(&[0.8, 0.3, 0.4, 0.9], &[true, false, true, false]),
            Some(0.5)
        );
        assert_eq!(roc_auc(&[0.1], &[true]), None);
    }

    #[test]
    fn odds_files_parse_and_bad_lines_say_where() {
        let points = LabelledPoints::parse_odds("# c\n1,2,0\n3.5,-4,1\n").unwrap();
        assert_eq!(points.dims, 2);
        assert_eq!(points.rows, [1.0, 2.0, 3.5, -4.0]);
        assert_eq!(points.outlier, [false, true]);
        let err = LabelledPoints::parse_odds("1,2,0\n1,x,0\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: \"x\" is not a number");
        let err = LabelledPoints::parse_odds("1,2,0\n1,0\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: 1 features, expected 2");
        assert!(LabelledPoints::parse_odds("1,2,7\n").is_err());
        assert!(LabelledPoints::parse_odds("# only comments\n").is_err());
    }
}
