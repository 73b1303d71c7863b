//! The processing binary runs on jemalloc with the options its `main` exports (README,
//! "Design notes"): jemalloc's `confirm_conf` makes it say, at its first allocation, which
//! options it read from where. An invalid config key makes the binary exit at once, after
//! jemalloc has started.

use std::process::Command;

#[test]
fn processing_runs_on_jemalloc_with_its_built_in_options() {
    let output = Command::new(env!("CARGO_BIN_EXE_processing"))
        .env("MALLOC_CONF", "confirm_conf:true")
        .env("OBS_STAGE__BATCH_MAX_RECORDS", "not-a-number")
        .output()
        .expect("running the processing binary");
    assert_eq!(output.status.code(), Some(2), "exits on the invalid key");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "malloc_conf #2 (string pointed to by the global variable malloc_conf): \
             \"narenas:1,dirty_decay_ms:250,muzzy_decay_ms:0,background_thread:true\""
        ),
        "jemalloc reads processing's options: {stderr}"
    );
    for option in [
        "narenas:1",
        "dirty_decay_ms:250",
        "muzzy_decay_ms:0",
        "background_thread:true",
    ] {
        assert!(
            stderr.contains(&format!("-- Set conf value: {option}")),
            "{option} applied: {stderr}"
        );
    }
}
