//! What a runner found: how many cases ran on which host, and every case that disagreed.

use core::fmt;

/// The outcome of running one corpus on one host.
#[derive(Debug, Clone)]
pub struct Report {
    pub host: String,
    pub corpus: String,
    /// Cases run (skipped ones not counted).
    pub ran: usize,
    pub mismatches: Vec<Mismatch>,
}

/// One case that disagreed, by name.
#[derive(Debug, Clone)]
pub struct Mismatch {
    pub case: String,
    pub problem: String,
}

impl Report {
    pub fn new(host: &str, corpus: &str) -> Report {
        Report {
            host: host.to_owned(),
            corpus: corpus.to_owned(),
            ran: 0,
            mismatches: Vec::new(),
        }
    }

    pub fn is_ok(&self) -> bool {
        self.mismatches.is_empty()
    }

    pub(crate) fn mismatch(&mut self, case: &str, problem: String) {
        self.mismatches.push(Mismatch {
            case: case.to_owned(),
            problem,
        });
    }

    /// Panics, naming every mismatching case, unless all agreed and at least `at_least` ran;
    /// answers how many ran.
    pub fn assert_ok(&self, at_least: usize) -> usize {
        assert!(self.is_ok(), "{self}");
        assert!(
            self.ran >= at_least,
            "{} on {}: only {} cases ran, expected at least {at_least}",
            self.corpus,
            self.host,
            self.ran
        );
        self.ran
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {}: {} of {} cases differ",
            self.corpus,
            self.host,
            self.mismatches.len(),
            self.ran
        )?;
        for m in &self.mismatches {
            write!(f, "\n{}: {}", m.case, m.problem)?;
        }
        Ok(())
    }
}
