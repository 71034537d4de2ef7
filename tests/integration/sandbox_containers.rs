//! Tests: sandbox_containers (to be written).
