//! vmledger-hypervisor's integration tests. Those that start QEMU are `#[ignore]`d: run them with
//! `cargo test -p vmledger-hypervisor -- --ignored` (scripts/test does), after `scripts/install`
//! (qemu-system-x86, linux-image-cloud-amd64, busybox-static). They boot small guests made by
//! `fixtures/make-guest`, under KVM where it runs ordinary guests and TCG elsewhere.

mod guest;
mod link;
mod live;
mod qmp;
mod support;
