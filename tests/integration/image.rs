//! Tests: image (to be written).
