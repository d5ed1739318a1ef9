//! `native-hash [GUEST.wasm]`: runs the guest (by default the example's own,
//! as `cargo xtask build-guests` builds it) on a VM with the in-process
//! hashing plugin.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let guest = std::env::args().nth(1).map_or_else(
        || {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../../target/guests/wasm32-wasip1/release/hash-guest.wasm")
        },
        std::path::PathBuf::from,
    );
    match native_hash::run(&guest).await {
        Ok(outcome) => ExitCode::from(outcome.status.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("native-hash: {e}");
            ExitCode::from(2)
        }
    }
}
