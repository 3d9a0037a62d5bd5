//! The one test kit every Mandate runner uses, in the manner of cedar's
//! `CedarTestImplementation`: the seeded [`World`], the vector files as typed data ([`Corpus`],
//! [`ReplayCorpus`]), and byte-oriented runner traits ([`Host`], [`ReplayHost`]) with one
//! runner each ([`run_corpus`], [`run_replay_corpus`]) that reports every mismatching case by
//! name. A host implements the trait over its own decide path; the kit never depends on a host
//! crate, and the traits are synchronous (an async host blocks on its own runtime).
//!
//! [`CoreHost`] is the reference implementation over `policy_core::Pdp`'s byte API.

mod core_host;
mod corpus;
mod host;
mod replacement;
mod replay;
mod report;

pub use crate::world::{self, NOW, World};
pub use core_host::CoreHost;
pub use corpus::{Case, Corpus, Entry, Expect, Replay, vectors_dir};
pub use host::{Host, run_corpus};
pub use replacement::{ReplaceCase, ReplaceCorpus, ReplaceHost, run_replace_corpus};
pub use replay::{
    Expected, RedisSet, RedisVectors, ReplayCase, ReplayCorpus, ReplayHost, Step, StoreConfig,
    UseOnce, run_replay_corpus,
};
pub use report::{Mismatch, Report};
