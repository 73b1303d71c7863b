//! The labelled corpus the classifier learns from: one example per line,
//! `label<TAB>message`, blank lines and `#` comments skipped (see `corpus/README.md`).

use crate::error::SeverityError;
use obs_records::LogSeverity;

/// The corpus shipped with the crate, compiled in so the services need no file.
pub const SHIPPED_CORPUS: &str = include_str!("../corpus/severity.tsv");

/// Every this-many-th example (the 5th, 10th...) is held out of training for evaluation:
/// deterministic, and spread over every class since the corpus is grouped by class.
pub const HELD_OUT_EVERY: usize = 5;

/// One labelled message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Example<'a> {
    pub severity: LogSeverity,
    pub message: &'a str,
}

/// The examples of a corpus, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corpus<'a> {
    pub examples: Vec<Example<'a>>,
}

impl<'a> Corpus<'a> {
    /// Reads `label<TAB>message` lines; the label is one of the five severities.
    pub fn parse(text: &'a str) -> Result<Corpus<'a>, SeverityError> {
        let mut examples = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_number = index + 1;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let problem = |problem: String| SeverityError::CorpusLine {
                line: line_number,
                problem,
            };
            let (label, message) = line
                .split_once('\t')
                .ok_or_else(|| problem("expected label<TAB>message".into()))?;
            let severity = LogSeverity::from_label(label)
                .ok_or_else(|| problem(format!("unknown label {label:?}")))?;
            if message.trim().is_empty() {
                return Err(problem("empty message".into()));
            }
            examples.push(Example { severity, message });
        }
        if examples.is_empty() {
            return Err(SeverityError::EmptyCorpus);
        }
        Ok(Corpus { examples })
    }

    /// The shipped corpus.
    pub fn shipped() -> Result<Corpus<'static>, SeverityError> {
        Corpus::parse(SHIPPED_CORPUS)
    }

    /// `(training, held out)`: every [`HELD_OUT_EVERY`]-th example is held out.
    pub fn split(&self) -> (Vec<Example<'a>>, Vec<Example<'a>>) {
        let (held_out, training): (Vec<_>, Vec<_>) = self
            .examples
            .iter()
            .enumerate()
            .partition(|(index, _)| (index + 1) % HELD_OUT_EVERY == 0);
        let examples =
            |pairs: Vec<(usize, &Example<'a>)>| pairs.into_iter().map(|(_, e)| *e).collect();
        (examples(training), examples(held_out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_corpus_has_every_class_in_both_parts() {
        let corpus = Corpus::shipped().unwrap();
        assert!(corpus.examples.len() >= 500, "{}", corpus.examples.len());
        let (training, held_out) = corpus.split();
        assert_eq!(training.len() + held_out.len(), corpus.examples.len());
        assert_eq!(held_out.len(), corpus.examples.len() / HELD_OUT_EVERY);
        for severity in LogSeverity::ALL {
            let count = |part: &[Example]| part.iter().filter(|e| e.severity == severity).count();
            assert!(count(&training) >= 60, "{severity}: {}", count(&training));
            assert!(count(&held_out) >= 15, "{severity}: {}", count(&held_out));
        }
    }

    #[test]
    fn bad_lines_are_named() {
        let error = Corpus::parse("info\tok\n\n# note\nloud\tx\n").unwrap_err();
        assert_eq!(
            error,
            SeverityError::CorpusLine {
                line: 4,
                problem: "unknown label \"loud\"".into()
            }
        );
        assert!(matches!(
            Corpus::parse("info only\n"),
            Err(SeverityError::CorpusLine { line: 1, .. })
        ));
        assert!(matches!(
            Corpus::parse("info\t  \n"),
            Err(SeverityError::CorpusLine { line: 1, .. })
        ));
        assert_eq!(Corpus::parse("\n# x\n"), Err(SeverityError::EmptyCorpus));
    }
}
