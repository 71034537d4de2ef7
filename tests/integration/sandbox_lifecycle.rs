//! Tests: sandbox_lifecycle (to be written).
