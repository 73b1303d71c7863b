//! Why a classifier could not be built.

/// A corpus that cannot be read, or a model smartcore refused to fit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeverityError {
    /// A corpus line that is not `label<TAB>message` with a known label.
    #[error("corpus line {line}: {problem}")]
    CorpusLine { line: usize, problem: String },
    /// No example to learn from.
    #[error("the corpus has no example")]
    EmptyCorpus,
    /// smartcore's fit failed.
    #[error("training failed: {0}")]
    Training(String),
}
