//! Kernel primitives, with no policy: starting a process (the only `fork`), naming a process
//! so that a recycled PID is never signalled, a pod's namespaces, mounts, cgroups and
//! pseudo-terminals. Nothing here knows what a
//! pod or a container is for; the layers above decide.

pub mod cgroup;
pub mod mount;
pub mod namespace;
pub mod process;
pub mod pty;
pub(crate) mod spawn;
