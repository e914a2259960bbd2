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
//! The allocator is chosen here, in the library, so that the binary, the tests and the
//! benchmarks all measure the same one.

/// Every Rust allocation of the process goes through mimalloc (C libraries linked in
/// keep the C library's malloc).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
