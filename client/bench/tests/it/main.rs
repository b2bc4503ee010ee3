//! Integration tests of the benchmark crate that need no network: the report's files.

mod report;
