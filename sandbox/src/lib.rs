//! Pod sandboxes on a Linux host.
