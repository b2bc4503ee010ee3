//! Integration tests of the SDK, the CLI and the destination agent against a stand-in proxy (no
//! Fabric network needed). The end-to-end tests on a real network are in `tests/e2e`.

mod agent;
mod cli;
mod errors;
mod events;
mod gateway;
mod sample;
mod stand_in;
