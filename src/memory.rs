//! Process-wide allocator settings, applied by `main` before the runtime starts any
//! thread. Not part of the data flow, but it decides how much of the data flow's
//! freed memory the process keeps resident.
//!
//! glibc's malloc gives threads that contend for the heap their own arenas (up to eight
//! per core) and keeps freed memory in each of them. Polls decode pages and build
//! series on every worker thread, so with one arena per thread the freed memory of a
//! large tenant's polls stays resident in several places: on the benchmark's large
//! tenant (100,000 sessions, 13,500 series) the steady RSS was about 29 MiB with the
//! default arenas and 23–24 MiB with one (see `BENCHMARKS.md`). Scrapes do not allocate
//! bodies (they share prepared bytes), so one arena costs little contention.

/// The malloc arena limit set when `MALLOC_ARENA_MAX` is not in the environment.
pub const DEFAULT_MALLOC_ARENAS: i32 = 1;

/// Limits glibc's malloc arenas to [`DEFAULT_MALLOC_ARENAS`] unless the operator set
/// `MALLOC_ARENA_MAX` (which glibc reads itself). Call it before starting threads.
/// Does nothing on other C libraries.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes a malloc tunable. It is called before the
        // runtime starts any thread, and M_ARENA_MAX takes any positive count.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, DEFAULT_MALLOC_ARENAS);
        }
    }
}
