//! The process's memory allocator. Not part of the data flow, but it decides how much
//! CPU the data flow's allocations cost and how much of its freed memory stays
//! resident.
//!
//! The exporter allocates in two very different lifetimes at once: each poll decodes
//! pages and builds protobuf families that live for milliseconds, while the rendered
//! sample lines it keeps live until the slot's next poll. With glibc's malloc (even
//! limited to one arena), the short-lived blocks of thousands of polls a minute are
//! freed between the long-lived ones, and the heap fragments: at 1,000 targets
//! (`bench/run --many-targets`) glibc held 500 MB of heap for 176 MB in use, RSS stayed
//! at 440–480 MiB, and malloc's own bookkeeping (`_int_malloc`, `unlink_chunk`,
//! `malloc_consolidate`, `free`) took about 55 % of the exporter's CPU in `perf`, more
//! the larger the heap, which made the cost per target grow with the number of
//! targets. `malloc_trim(0)` gave 180 MiB back once, but RSS grew again by about 1 MiB
//! a second, and it did nothing for the CPU.
//!
//! mimalloc (its 2.x line, feature `v2`: the 3.x line held about 80 MiB more on the
//! same run) keeps small blocks in per-thread pages of one size class each, so freed
//! blocks are reused by the next blocks of the same size, and empty pages go back to
//! the system: at 1,000 targets the exporter used about 14 s of CPU a minute instead
//! of 27–30 s, and 293 MiB instead of 470–478 (see `BENCHMARKS.md`, "Many targets").
//! The cost: the peak right after the first polls is higher (about 600 MiB against
//! 480), and a small process starts from a higher floor (50 targets: 37 MiB, 25 with
//! glibc).
//!
//! Two settings change that trade-off, made by [`tune_allocator`] unless the operator
//! set the matching variable: memory freed is returned to the system at once (mimalloc's
//! purge delay 0 instead of 10 ms, which under thousands of polls a minute meant hardly
//! ever; `MIMALLOC_PURGE_DELAY`), and transparent huge pages are off for the process
//! (`prctl(PR_SET_THP_DISABLE)`; `MIMALLOC_ALLOW_THP`), since a 2 MiB page backing a
//! few touched kilobytes of an arena counts whole in the resident set. Measured
//! (`bench/run`, and the large single tenant polled every 2 s): the large tenant peaks
//! at 24–29 MiB instead of 32–49 (glibc: 20.6); 1,000 targets use 14.8 s of CPU a minute
//! at 226 MiB, peaking at 238 MiB instead of 606, the CPU unchanged.
//!
//! The allocator is chosen here, in the library, so that the binary, the tests and the
//! benchmarks all measure the same one.

/// Every Rust allocation of the process goes through mimalloc (C libraries linked in
/// keep the C library's malloc).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 2.x's `mi_option_t` (`mimalloc.h`).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed memory to the system at once and turns transparent huge pages off
/// (see the module documentation), each unless the operator set its `MIMALLOC_*`
/// variable. `main` calls it before the runtime starts any thread.
pub fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set only stores an option's value; it is called before any
        // other thread exists (mimalloc documents it as not thread safe), and the purge
        // delay takes any value from -1 up.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE only sets a flag of this process's memory map; the
        // unused arguments are 0 as prctl(2) requires. A failure (an old kernel) leaves
        // huge pages on, which costs memory, not correctness.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_memory_goes_back_at_once_and_huge_pages_are_off() {
        tune_allocator();
        // SAFETY: reading an option is a plain load.
        let purge = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(purge, 0);
        // The neighbour below purge_delay is eager_commit_delay, whose default is 1:
        // the index is not shifted by one.
        // SAFETY: as above.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(14) }, 1);
        #[cfg(target_os = "linux")]
        {
            // SAFETY: PR_GET_THP_DISABLE only reads the flag.
            let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
            assert_eq!(disabled, 1);
        }
    }
}
