//! Tests: pause (to be written).
