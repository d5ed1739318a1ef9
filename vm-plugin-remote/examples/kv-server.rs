//! The kv plugin (`examples/plugins/kv-native`), served over NATS:
//! `cargo run -p vm-plugin-remote --example kv-server -- nats://127.0.0.1:4222`,
//! then `vm run --cluster nats://127.0.0.1:4222 --remote-plugin kv@1 kv-guest.wasm`.
//! The same plugin code as in-process and as a shared library.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    let client = async_nats::connect(&url).await?;
    let server = vm_plugin_remote::serve(client, kv_native::plugin(), Default::default()).await?;
    println!("serving plugin:kv@1 on {url} as server {}", server.id());
    server.wait().await;
    Ok(())
}
