//! The severity of an application log event read from its text, for events that came
//! without a usable `level`.
//!
//! A multinomial naive Bayes classifier (smartcore) over hashed words (`features`), trained at start-up from the labelled corpus shipped in `corpus/`
//! (`corpus`): training takes milliseconds, so there is no model file to ship, version
//! or load. `evaluation` scores a model on the corpus's held-out part (`make eval`).
//!
//! [`SeverityModel`] implements [`obs_records::SeverityClassifier`], which
//! `obs_records::standardize_log_event` takes.

#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod corpus;
mod error;
pub mod evaluation;
pub mod features;
mod model;

pub use corpus::{Corpus, Example, HELD_OUT_EVERY};
pub use error::SeverityError;
pub use evaluation::{evaluate, ClassScores, Evaluation};
pub use model::SeverityModel;
