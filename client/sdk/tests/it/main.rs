//! Integration tests of the SDK against a stand-in proxy (no Fabric network needed). The end-to-end
//! tests on a real network are in `tests/e2e`.

mod agent;
mod errors;
mod events;
mod gateway;
mod live;
mod relay;
mod workflow;
