//! Every public error type fits Rust's error handling: `std::error::Error`,
//! `Send + Sync + 'static`, so `?` takes it into `anyhow::Error` or a
//! `Box<dyn Error + Send + Sync>`. (A compile-time property: this file does
//! not build when one does not.)

use vm_sdk::net::ReuniteError;
use vm_sdk::process::SpawnError;
use vm_sdk::request::RequestError;
use vm_sdk::{server, supervisor, DecodeError, Error, ReceiveError};

fn fits<E: std::error::Error + Send + Sync + 'static>() {}

#[test]
fn every_public_error_is_send_sync_and_an_error() {
    fits::<Error>();
    fits::<DecodeError>();
    fits::<ReceiveError>();
    fits::<RequestError>();
    fits::<ReuniteError>();
    fits::<SpawnError<String>>();
    fits::<supervisor::StartError>();
    // A server's start error is an error whatever its argument, even one
    // without `Debug`.
    struct Opaque;
    fits::<server::StartError<Opaque>>();
}

#[test]
fn question_mark_takes_them_into_anyhow_and_boxed_errors() {
    fn with_anyhow() -> anyhow::Result<()> {
        Err(RequestError::Timeout)?;
        Ok(())
    }
    fn boxed() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Err(ReceiveError::Timeout)?;
        Ok(())
    }
    assert_eq!(
        with_anyhow().unwrap_err().to_string(),
        "no reply arrived before the timeout"
    );
    assert_eq!(
        boxed().unwrap_err().to_string(),
        "no matching message arrived before the timeout"
    );
}
