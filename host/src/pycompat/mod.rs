//! The one home of Python/Feast byte compatibility: code whose output must match, byte for
//! byte, what Feast's Python feature server answers.
//!
//! * [`float_repr`]: Python's `repr()` of a float and `str()` of an int;
//! * [`json_scan`]: CPython's `json.loads` on a request body (encoding detection, and the
//!   `json` module's error messages and character offsets);
//! * [`pydantic`]: pydantic v2's lax-mode validation and its 422 error details.
//!
//! The behaviour matched is FastAPI 0.165 + pydantic 2.14 on CPython 3.11 (the same `json`
//! scanner as the CPython 3.12 of Feast's image); the expected outputs in the tests of
//! `http::models` were checked against that stack.

pub mod float_repr;
pub mod json_scan;
pub mod pydantic;
