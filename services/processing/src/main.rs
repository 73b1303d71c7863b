#![warn(clippy::unwrap_used, clippy::expect_used)]

/// jemalloc serves every allocation of the process, librdkafka's included (its `malloc`
/// replaces glibc's). Processing keeps a large live heap (detectors, the analytics view)
/// while librdkafka's threads allocate and free fetch and decompression buffers of
/// hundreds of kilobytes beside it; glibc kept 35–45 MB of those freed buffers resident
/// until the load ended, jemalloc with the options below gives them back within a quarter
/// of a second (README, "Benchmarks").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main`: one arena (per-thread caches stay; one arena per
/// core keeps more partly used pages), freed pages returned to the system after 250 ms
/// instead of 10 s by a background thread, also at rest. Returning them at once cost
/// page faults and TLB shootdowns in librdkafka's threads on every fetch
/// (docs/benchmarks.md, "Allocators"). `MALLOC_CONF` in the environment overrides them.
// A C string for jemalloc: `&u8` is a thin pointer to its first byte, as `const char *`.
#[allow(unsafe_code)]
#[export_name = "malloc_conf"]
static MALLOC_CONF: &u8 =
    &b"narenas:1,dirty_decay_ms:250,muzzy_decay_ms:0,background_thread:true\0"[0];

#[tokio::main]
async fn main() -> std::process::ExitCode {
    obs_service::service_main::<processing::ProcessingConfig, _, _>(
        processing::SERVICE,
        obs_service::Heap::ReturnsFreedPages,
        processing::run,
    )
    .await
}
