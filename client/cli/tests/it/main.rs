//! Integration tests of the `vmledger` binary against a stand-in proxy (no Fabric network needed):
//! its output, its exit codes, and the destination agent. The end-to-end tests on a real network
//! are in `tests/e2e`.

mod agent;
mod apply;
mod cli;
mod config;
mod layers;
mod output;
