//! Pure decisions, with the clock passed in and no system call: what to do next and how to
//! report it. Unit-tested without a host; the verbs in `pod` and `container` carry them out.

pub mod stop;
