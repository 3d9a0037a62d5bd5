//! Step 11 on the typed path: a decision that may still need its replay check. [`Pdp::decide`]
//! answers a [`Pending`]; it becomes a [`Decision`] — the only thing a host enforces — when the
//! host has recorded its use-once entries in its replay store and says what the store answered
//! ([`Pending::settle`]), or at once when there is nothing to record
//! ([`Pending::into_decision`]). So an allow whose proof was never recorded cannot be read as an
//! allow by mistake: the type has no `is_allow`.
//!
//! ```compile_fail
//! fn read_before_settling(p: policy_core::Pending) -> bool {
//!     p.is_allow() // no such method: settle first
//! }
//! ```
//!
//! [`Pdp::decide`]: crate::Pdp::decide

use crate::decision::Decision;
use crate::reason::{Code, Reason};
use crate::use_once::UseOnce;
use alloc::{boxed::Box, format, string::String, vec::Vec};

/// A decision whose use-once entries the host has yet to record.
#[derive(Debug, Clone)]
#[must_use = "a pending decision is not an answer until it is settled"]
pub struct Pending {
    // Boxed so that `into_decision`'s `Err(Pending)` stays a pointer wide.
    decision: Box<Decision>,
}

/// What the host's replay store answered when it recorded a pending decision's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayOutcome {
    /// Every entry was new and is now recorded.
    Recorded,
    /// These store keys (`jti`s as [`UseOnce::jti`] names them) were already present.
    Replayed(Vec<String>),
    /// The store could not answer: fail closed.
    StoreUnavailable,
}

impl Pending {
    pub(crate) fn new(decision: Decision) -> Pending {
        Pending {
            decision: Box::new(decision),
        }
    }

    /// The entries to record, each until its `exp`; empty on a deny.
    #[must_use]
    pub fn use_once(&self) -> &[UseOnce] {
        &self.decision.use_once
    }

    /// The decision's id, to key the host's own bookkeeping before it settles.
    #[must_use]
    pub fn decision_id(&self) -> &str {
        &self.decision.decision_id
    }

    /// The decision document as the module ABI answers it, before replay: hosts that settle
    /// through [`crate::Pdp::apply_replay_json`] send it back with their store's answer.
    #[must_use]
    pub fn to_unsettled_json(&self) -> Vec<u8> {
        self.decision.to_json()
    }

    /// Settles the replay check: an allow one of whose entries was already used becomes a
    /// `replay.detected` deny, and any allow becomes `replay.store_unavailable` when the store
    /// could not answer. A deny stays as it is.
    pub fn settle(self, outcome: &ReplayOutcome) -> Decision {
        let mut decision = *self.decision;
        if !decision.allow {
            return decision;
        }
        let reason = match outcome {
            ReplayOutcome::Recorded => return decision,
            ReplayOutcome::StoreUnavailable => Reason::new(
                Code::ReplayStoreUnavailable,
                "the replay store could not be reached",
            ),
            ReplayOutcome::Replayed(keys) => {
                match keys
                    .iter()
                    .find(|k| decision.use_once.iter().any(|u| &u.jti == *k))
                {
                    Some(jti) => {
                        Reason::new(Code::ReplayDetected, format!("{jti} was already used"))
                    }
                    None => return decision,
                }
            }
        };
        decision.force_deny(reason);
        decision
    }

    /// The decision, when it has nothing to record (every deny, and an allow without use-once
    /// credentials); otherwise the pending decision back, to be settled.
    ///
    /// # Errors
    /// The pending decision itself, when it has entries to record.
    pub fn into_decision(self) -> Result<Decision, Pending> {
        if self.decision.use_once.is_empty() {
            Ok(*self.decision)
        } else {
            Err(self)
        }
    }
}
