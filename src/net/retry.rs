//! The one rule for sending a request again, used by every attempt loop (the
//! Railway GraphQL client, the Fly Machines client).
//!
//! Three layers, each with its own job and bound, so that their product is known:
//! 1. **Transport** (this rule): a request is sent again only when that is harmless — a read
//!    after no answer, 408 or 5xx; any request after 429 (refused before it was processed).
//!    At most [`MAX_ATTEMPTS`] sends per call, plus up to [`MAX_RATE_LIMITED`] 429 answers.
//! 2. **Observe before repeating** (the platforms): a write whose outcome is unknown (no
//!    answer, 408, 5xx) is never re-sent by the transport; the platform looks (machines by
//!    metadata, services by name) and writes again only when the look says it did not happen,
//!    at most `WRITE_TRIES` (4) writes per step.
//! 3. **Executor** (`apply`): a step that failed transiently is re-run (and so observes again)
//!    at most [`STEP_RUNS`] (4) times in all.
//!
//! So one write reaches the server at most [`WRITE_TRIES`] × [`STEP_RUNS`] = 16 times in a
//! deploy, each after a look that found it missing; a read at most 6 × 4 = 24 times.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// Sends of one call the transport may make (the first one included).
pub const MAX_ATTEMPTS: u32 = 6;
/// 429 answers one call may get before it gives up (they do not count as attempts: the server
/// refused them before processing).
pub const MAX_RATE_LIMITED: u32 = 12;
/// Writes of one step whose outcome stays unknown, each after a look found nothing.
pub const WRITE_TRIES: u32 = 4;
/// Runs of one step by the executor (the first included).
pub const STEP_RUNS: u32 = 4;

/// The most times one write can reach the server in one deploy.
pub const fn write_sends_bound() -> u32 {
    WRITE_TRIES * STEP_RUNS
}

/// Is repeating this request harmless if the first one was applied?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads: sent again after no answer, 408, 429 and 5xx.
    Safe,
    /// Writes: sent again only after 429. After no answer, 408 or 5xx the outcome is unknown:
    /// the caller observes before writing again.
    Unsafe,
}

/// What one attempt came back with, as far as repeating it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// An HTTP status.
    Answered(u16),
    /// No answer (connection failed, timed out, body lost).
    NoAnswer,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Hand the answer to the caller.
    Return,
    /// Refused before processing: wait as told and send again (any request).
    RateLimited,
    /// Failed in a way that makes sending again harmless: back off and send again.
    Again,
    /// A write that may or may not have happened: never send again here; the caller looks.
    Unknown,
}

impl Next {
    /// The words that end an error message for this outcome.
    pub fn suffix(self) -> &'static str {
        match self {
            Next::Unknown => " (the outcome is unknown)",
            _ => "",
        }
    }
}

/// The rule: what follows an attempt of a request of kind `idem`.
pub fn next(idem: Idempotency, attempt: Attempt) -> Next {
    let failed = match attempt {
        Attempt::Answered(429) => return Next::RateLimited,
        Attempt::Answered(408 | 500..=599) | Attempt::NoAnswer => true,
        Attempt::Answered(_) => false,
    };
    match (failed, idem) {
        (false, _) => Next::Return,
        (true, Idempotency::Safe) => Next::Again,
        (true, Idempotency::Unsafe) => Next::Unknown,
    }
}

/// May a call that has been sent `sent` times (429s not counted) be sent again?
pub fn may_send_again(sent: u32) -> bool {
    sent < MAX_ATTEMPTS
}

/// The wait after a 429 without `Retry-After`: doubling from half a second, capped at 16 s.
pub fn rate_limited_wait(limited: u32, after: Option<Duration>) -> Duration {
    after.unwrap_or_else(|| Duration::from_millis(500u64 << limited.clamp(1, 5)))
}

/// Layer 2 in one place: `write`; while its outcome is unknown (a transient error), pause, then
/// `look` — `Some` means the write did happen (or its effect is there) and ends the loop —
/// and write again, at most [`WRITE_TRIES`] writes. A write that is harmless to repeat passes
/// a look that always answers `None`.
pub async fn converge<T, W, WF, L, LF>(mut write: W, mut look: L) -> Result<T>
where
    W: FnMut() -> WF,
    WF: Future<Output = Result<T>>,
    L: FnMut() -> LF,
    LF: Future<Output = Result<Option<T>>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match write().await {
            Err(e) if e.is_transient() && attempt < WRITE_TRIES => {
                tokio::time::sleep(super::backoff::backoff(attempt, None)).await;
                if let Some(done) = look().await? {
                    return Ok(done);
                }
            }
            done => return done,
        }
    }
}

/// A look for writes that are harmless to repeat.
pub async fn no_look<T>() -> Result<Option<T>> {
    Ok(None)
}

/// An unknown outcome as an error, for a write whose answer says "maybe" (not a transport error).
pub fn unknown(what: &str) -> Error {
    Error::transient(format!("{what}{}", Next::Unknown.suffix()), None)
}

/// `s` cut to at most `n` bytes (at a character boundary), saying how long it was.
pub fn shorten(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_is_repeated_after_any_failure_and_a_write_only_after_429() {
        for status in [408, 500, 502, 503, 504] {
            assert_eq!(
                next(Idempotency::Safe, Attempt::Answered(status)),
                Next::Again
            );
            assert_eq!(
                next(Idempotency::Unsafe, Attempt::Answered(status)),
                Next::Unknown
            );
        }
        assert_eq!(next(Idempotency::Safe, Attempt::NoAnswer), Next::Again);
        assert_eq!(next(Idempotency::Unsafe, Attempt::NoAnswer), Next::Unknown);
        for idem in [Idempotency::Safe, Idempotency::Unsafe] {
            assert_eq!(next(idem, Attempt::Answered(429)), Next::RateLimited);
            for status in [200, 201, 400, 401, 404, 409, 422] {
                assert_eq!(next(idem, Attempt::Answered(status)), Next::Return);
            }
        }
    }

    #[test]
    fn a_call_is_sent_at_most_max_attempts_times() {
        let sends = (1..)
            .take_while(|&n| n == 1 || may_send_again(n - 1))
            .count();
        assert_eq!(sends as u32, MAX_ATTEMPTS);
    }

    #[test]
    fn one_write_reaches_the_server_at_most_sixteen_times_per_deploy() {
        // The transport never re-sends a write (only 429s, which were not processed).
        for status in [408, 500, 503] {
            assert_ne!(
                next(Idempotency::Unsafe, Attempt::Answered(status)),
                Next::Again
            );
        }
        assert_eq!(write_sends_bound(), 16);
    }

    #[test]
    fn only_an_unknown_outcome_says_so() {
        assert_eq!(Next::Unknown.suffix(), " (the outcome is unknown)");
        assert_eq!(Next::Again.suffix(), "");
    }

    fn flaky(fails: u32) -> impl FnMut() -> std::future::Ready<Result<u32>> {
        let mut calls = 0;
        move || {
            calls += 1;
            std::future::ready(if calls <= fails {
                Err(unknown("write"))
            } else {
                Ok(calls)
            })
        }
    }

    #[tokio::test]
    async fn a_write_with_an_unknown_outcome_is_repeated_at_most_write_tries_times() {
        assert_eq!(converge(flaky(2), no_look).await.unwrap(), 3);
        let writes = std::cell::Cell::new(0);
        let err = converge(
            || {
                writes.set(writes.get() + 1);
                std::future::ready(Err::<u32, _>(unknown("write")))
            },
            no_look,
        )
        .await
        .unwrap_err();
        assert!(err.is_transient(), "{}", err.message);
        assert_eq!(writes.get(), WRITE_TRIES);
    }

    #[tokio::test]
    async fn a_look_that_finds_the_write_done_ends_the_loop_without_writing_again() {
        let mut writes = 0;
        let got = converge(
            || {
                writes += 1;
                std::future::ready(Err::<u32, _>(unknown("create")))
            },
            || std::future::ready(Ok(Some(7))),
        )
        .await
        .unwrap();
        assert_eq!((got, writes), (7, 1));
    }

    #[test]
    fn shortening_keeps_characters_whole() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("ééé", 3), "é… (6 bytes)");
    }
}
