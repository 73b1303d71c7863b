//! The classifier: smartcore's multinomial naive Bayes over [`hashed_features`].
//!
//! smartcore fits the model from a dense matrix (examples × buckets); a message is then
//! scored from its few non-zero buckets with the fitted log-probabilities, which is what
//! smartcore's `predict` computes over the dense row, without building one.

use crate::corpus::{Corpus, Example};
use crate::error::SeverityError;
use crate::features::{hashed_features, DIMENSION};
use obs_records::{LogSeverity, SeverityClassifier};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::naive_bayes::multinomial::{MultinomialNB, MultinomialNBParameters};

/// Additive smoothing of the word counts; below 1 because most buckets of a class are
/// never seen in a corpus this size.
const ALPHA: f64 = 0.3;

type NaiveBayes = MultinomialNB<u8, u32, DenseMatrix<u8>, Vec<u32>>;

/// A trained severity classifier.
#[derive(Debug)]
pub struct SeverityModel {
    naive_bayes: NaiveBayes,
    /// The severity of each of the model's classes, in its class order.
    severities: Vec<LogSeverity>,
    /// Natural log of each class's prior (uniform: the corpus's class balance is not the
    /// world's).
    log_prior: f64,
}

impl SeverityModel {
    /// Trains on `examples`; every class present in them is a class of the model.
    pub fn train(examples: &[Example<'_>]) -> Result<SeverityModel, SeverityError> {
        if examples.is_empty() {
            return Err(SeverityError::EmptyCorpus);
        }
        let mut counts = vec![0u8; examples.len() * DIMENSION];
        let mut buckets = Vec::new();
        for (row, example) in examples.iter().enumerate() {
            buckets.clear();
            hashed_features(example.message, &mut buckets);
            for bucket in &buckets {
                let count = &mut counts[row * DIMENSION + bucket];
                *count = count.saturating_add(1);
            }
        }
        let x = DenseMatrix::new(examples.len(), DIMENSION, counts, false)
            .map_err(|e| SeverityError::Training(e.to_string()))?;
        let y: Vec<u32> = examples.iter().map(|e| class_number(e.severity)).collect();
        let mut present: Vec<u32> = y.clone();
        present.sort_unstable();
        present.dedup();
        let uniform = vec![1.0 / present.len() as f64; present.len()];
        let parameters = MultinomialNBParameters::default()
            .with_alpha(ALPHA)
            .with_priors(uniform);
        let naive_bayes = NaiveBayes::fit(&x, &y, parameters)
            .map_err(|e| SeverityError::Training(e.to_string()))?;
        let severities = naive_bayes
            .classes()
            .iter()
            .map(|&class| LogSeverity::ALL[class as usize])
            .collect();
        Ok(SeverityModel {
            naive_bayes,
            severities,
            log_prior: (1.0 / present.len() as f64).ln(),
        })
    }

    /// Trained on the whole shipped corpus: the model the services use.
    pub fn shipped() -> Result<SeverityModel, SeverityError> {
        SeverityModel::train(&Corpus::shipped()?.examples)
    }

    /// The most likely severity of `message` and its posterior probability. A message
    /// without a single word carries no evidence: it is `info` at the prior's probability.
    pub fn classify(&self, message: &str) -> (LogSeverity, f64) {
        let mut buckets = Vec::new();
        hashed_features(message, &mut buckets);
        let uninformed = 1.0 / self.severities.len() as f64;
        if buckets.is_empty() {
            return (LogSeverity::Info, uninformed);
        }
        let log_prob = self.naive_bayes.feature_log_prob();
        let scores: Vec<f64> = log_prob
            .iter()
            .map(|class| self.log_prior + buckets.iter().map(|&b| class[b]).sum::<f64>())
            .collect();
        let Some((best, best_score)) = scores
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            return (LogSeverity::Info, uninformed);
        };
        // Softmax relative to the best score, so the exponentials cannot overflow.
        let total: f64 = scores.iter().map(|s| (s - best_score).exp()).sum();
        (self.severities[best], (1.0 / total).clamp(0.0, 1.0))
    }
}

impl SeverityClassifier for SeverityModel {
    fn classify(&self, message: &str) -> (LogSeverity, f64) {
        SeverityModel::classify(self, message)
    }
}

/// A severity's class number: its index in [`LogSeverity::ALL`].
fn class_number(severity: LogSeverity) -> u32 {
    LogSeverity::ALL
        .iter()
        .position(|s| *s == severity)
        .unwrap_or_default() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn model() -> &'static SeverityModel {
        static MODEL: OnceLock<SeverityModel> = OnceLock::new();
        MODEL.get_or_init(|| SeverityModel::shipped().unwrap())
    }

    #[test]
    fn scores_as_smartcore_predicts() {
        let corpus = Corpus::shipped().unwrap();
        let (training, held_out) = corpus.split();
        let model = SeverityModel::train(&training).unwrap();
        let mut counts = vec![0u8; held_out.len() * DIMENSION];
        for (row, example) in held_out.iter().enumerate() {
            let mut buckets = Vec::new();
            hashed_features(example.message, &mut buckets);
            for bucket in buckets {
                counts[row * DIMENSION + bucket] += 1;
            }
        }
        let x = DenseMatrix::new(held_out.len(), DIMENSION, counts, false).unwrap();
        let predicted = model.naive_bayes.predict(&x).unwrap();
        for (example, class) in held_out.iter().zip(predicted) {
            let ours = model.classify(example.message).0;
            assert_eq!(
                ours,
                LogSeverity::ALL[class as usize],
                "{}",
                example.message
            );
        }
    }

    #[test]
    fn obvious_messages_are_classified() {
        let cases = [
            (
                "Connection refused: db-2:5432, query failed",
                LogSeverity::Error,
            ),
            (
                "FATAL: cluster down, out of memory, service killed",
                LogSeverity::Critical,
            ),
            (
                "Retrying request after timeout (attempt 2 of 5)",
                LogSeverity::Warning,
            ),
            (
                "Sync of object 88 completed successfully",
                LogSeverity::Info,
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(model().classify(message).0, expected, "{message}");
        }
    }

    #[test]
    fn wordless_text_is_info_at_the_prior() {
        for message in ["", "   ", "!!! --- ???"] {
            assert_eq!(model().classify(message), (LogSeverity::Info, 0.2));
        }
    }

    #[test]
    fn training_is_deterministic() {
        let again = SeverityModel::shipped().unwrap();
        for message in ["disk almost full", "user logged in", "panic: nil pointer"] {
            assert_eq!(again.classify(message), model().classify(message));
        }
    }

    #[test]
    fn nothing_to_learn_from_is_an_error() {
        assert_eq!(
            SeverityModel::train(&[]).unwrap_err(),
            SeverityError::EmptyCorpus
        );
    }

    proptest! {
        #[test]
        fn confidence_is_a_probability(message in "\\PC{0,200}") {
            let (_, confidence) = model().classify(&message);
            prop_assert!((0.0..=1.0).contains(&confidence), "{}", confidence);
            prop_assert!(confidence >= 0.2 - 1e-12, "never below the uninformed share");
        }
    }
}
