//! The answer of a view a service rebuilds from Kafka (analytics, logs, incidents): while
//! the view is still reading what was published before start, the answer is partial and
//! says so, `"view_caught_up": false` in the body and `x-view-caught-up: false` in the
//! headers — never silently.

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// The header that says whether an answer of a view is complete.
pub const VIEW_CAUGHT_UP: &str = "x-view-caught-up";

/// An answer of a view, with whether the view had caught up when it was given: the
/// answer's fields and `view_caught_up`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ViewAnswer<T> {
    #[serde(flatten)]
    answer: T,
    /// `false` while the view is still reading what was published before start: the
    /// answer is partial.
    view_caught_up: bool,
}

impl<T: Serialize> ViewAnswer<T> {
    /// `caught_up` must be read before `answer` is computed: a view that caught up
    /// meanwhile only makes the flag err on the side of "partial".
    pub fn new(caught_up: bool, answer: T) -> Self {
        ViewAnswer {
            answer,
            view_caught_up: caught_up,
        }
    }
}

impl<T: Serialize> IntoResponse for ViewAnswer<T> {
    fn into_response(self) -> Response {
        let flag = HeaderValue::from_static(if self.view_caught_up { "true" } else { "false" });
        ([(VIEW_CAUGHT_UP, flag)], Json(self)).into_response()
    }
}
