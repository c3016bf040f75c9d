//! Keeping the flash lenders' offers fresh during a live run (`[funding] refresh_ms`).
//!
//! Every `refresh_ms` the live edge asks the node, with one `eth_call` per offer, for the
//! balance of the token the offer lends held by its holder (the Balancer Vault, or the Aave
//! reserve's aToken): what the lender can lend now. Each answer reaches the engine as a
//! `LenderOffer` frame. Sans-IO: the port sends the prepared requests and hands the answers in;
//! time comes in. Reading the chain's state (rather than following `Transfer` logs) needs no
//! reorg handling: the next reading replaces any answer of a block that did not last.

use std::collections::VecDeque;

use polyarb_core::LenderSpec;

use super::discovery::BALANCE_OF;

#[derive(Debug)]
struct Watched {
    token: [u8; 20],
    funding: u8,
    /// The request's `params`: `[{"to":"0x<token>","data":"0x70a08231<holder>"},"latest"]`.
    params: Vec<u8>,
}

/// What [`LenderWatch::answer`] made of a node's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Not one of its readings.
    NotOurs,
    /// A reading, waiting in [`LenderWatch::pop`].
    Reading,
    /// One of its readings that failed (an error, or not one word): counted, the offer stays.
    Failed,
}

/// The offers a live run re-reads, the readings in flight and the answers not yet taken.
#[derive(Debug)]
pub struct LenderWatch {
    watched: Vec<Watched>,
    every_ns: u64,
    due_ns: u64,
    /// (request id, offer index) of the readings in flight.
    pending: Vec<(u64, usize)>,
    offers: VecDeque<([u8; 20], u8, [u8; 32])>,
    /// Answers that were errors or not a 32-byte word.
    pub read_errors: u64,
    /// Readings handed on.
    pub readings: u64,
}

impl LenderWatch {
    /// Watches every offer of `lenders` that names its holder, every `every_ns` (0: never).
    pub fn new(lenders: &[LenderSpec], every_ns: u64) -> Self {
        let watched: Vec<Watched> = lenders
            .iter()
            .filter(|l| !l.holder.is_zero() && every_ns > 0)
            .map(|l| {
                let mut data = [0u8; 36];
                data[..4].copy_from_slice(&BALANCE_OF);
                data[16..].copy_from_slice(l.holder.as_slice());
                let params = format!(
                    "[{{\"to\":\"0x{}\",\"data\":\"0x{}\"}},\"latest\"]",
                    alloy_primitives::hex::encode(l.token),
                    alloy_primitives::hex::encode(data)
                );
                Watched {
                    token: l.token.into_array(),
                    funding: l.funding as u8,
                    params: params.into_bytes(),
                }
            })
            .collect();
        let n = watched.len();
        Self {
            watched,
            every_ns,
            due_ns: 0,
            pending: Vec::with_capacity(n),
            offers: VecDeque::with_capacity(n),
            read_errors: 0,
            readings: 0,
        }
    }

    /// How many offers it watches.
    pub fn len(&self) -> usize {
        self.watched.len()
    }

    /// Whether it watches none.
    pub fn is_empty(&self) -> bool {
        self.watched.is_empty()
    }

    /// Whether a round of readings is due at `now_ns`; if so, starts it: readings still in
    /// flight are forgotten (their answers, if they come, are not ours any more) and the next
    /// round is due `every_ns` later. Then send [`LenderWatch::params`] for each offer and
    /// report each id with [`LenderWatch::sent`].
    pub fn start_round(&mut self, now_ns: u64) -> bool {
        if self.watched.is_empty() || now_ns < self.due_ns {
            return false;
        }
        self.pending.clear();
        self.due_ns = now_ns.saturating_add(self.every_ns);
        true
    }

    /// The `eth_call` params of offer `k`.
    pub fn params(&self, k: usize) -> &[u8] {
        self.watched.get(k).map_or(&[], |w| &w.params)
    }

    /// Offer `k`'s reading went out as request `id`.
    pub fn sent(&mut self, k: usize, id: u64) {
        if self.pending.len() < self.pending.capacity() {
            self.pending.push((id, k));
        }
    }

    /// An answer from the node, taken if it is one of its readings.
    pub fn answer(&mut self, id: Option<u64>, outcome: Result<&[u8], &[u8]>) -> Answer {
        let Some(at) = id.and_then(|id| self.pending.iter().position(|&(i, _)| i == id)) else {
            return Answer::NotOurs;
        };
        let (_, k) = self.pending.swap_remove(at);
        match (outcome.ok().and_then(word), self.watched.get(k)) {
            (Some(w), Some(o)) => {
                self.offers.push_back((o.token, o.funding, w));
                self.readings += 1;
                Answer::Reading
            }
            _ => {
                self.read_errors += 1;
                Answer::Failed
            }
        }
    }

    /// The next reading to hand to the engine.
    pub fn pop(&mut self) -> Option<([u8; 20], u8, [u8; 32])> {
        self.offers.pop_front()
    }
}

/// A JSON-RPC `result` holding one ABI word (`"0x" + 64 hex digits`), as bytes.
fn word(raw: &[u8]) -> Option<[u8; 32]> {
    let hex = raw
        .trim_ascii()
        .strip_prefix(b"\"0x")?
        .strip_suffix(b"\"")?;
    let mut out = [0u8; 32];
    alloy_primitives::hex::decode_to_slice(hex, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, U256};
    use polyarb_core::Funding;

    fn spec(holder: Address) -> LenderSpec {
        LenderSpec {
            funding: Funding::Aave,
            token: Address::repeat_byte(0x11),
            available: 5,
            fee: 5,
            holder,
        }
    }

    #[test]
    fn rounds_readings_and_errors() {
        let mut w = LenderWatch::new(
            &[spec(Address::repeat_byte(0xAA)), spec(Address::ZERO)],
            1_000,
        );
        assert_eq!(w.len(), 1, "an offer without its holder is not watched");
        let params = String::from_utf8(w.params(0).to_vec()).unwrap();
        assert_eq!(
            params,
            format!(
                "[{{\"to\":\"0x{}\",\"data\":\"0x70a08231{}{}\"}},\"latest\"]",
                "11".repeat(20),
                "00".repeat(12),
                "aa".repeat(20)
            )
        );
        assert!(w.start_round(0));
        assert!(!w.start_round(999), "not due yet");
        w.sent(0, 42);
        assert_eq!(w.answer(Some(41), Ok(b"\"0x00\"")), Answer::NotOurs);
        assert_eq!(w.answer(None, Err(b"{}")), Answer::NotOurs);
        let v = U256::from(123_456u64).to_be_bytes::<32>();
        let answer = format!("\"0x{}\"", alloy_primitives::hex::encode(v));
        assert_eq!(w.answer(Some(42), Ok(answer.as_bytes())), Answer::Reading);
        assert_eq!(w.pop(), Some(([0x11; 20], Funding::Aave as u8, v)));
        assert_eq!(w.pop(), None);
        assert_eq!(
            w.answer(Some(42), Ok(answer.as_bytes())),
            Answer::NotOurs,
            "answered once"
        );
        // Errors and answers that are not one word are counted, not handed on.
        assert!(w.start_round(1_000));
        w.sent(0, 43);
        assert_eq!(
            w.answer(Some(43), Err(b"{\"code\":-32000}")),
            Answer::Failed
        );
        assert!(w.start_round(2_000));
        w.sent(0, 44);
        assert_eq!(w.answer(Some(44), Ok(b"\"0x1234\"")), Answer::Failed);
        assert!(w.start_round(3_000));
        w.sent(0, 45);
        assert_eq!(w.answer(Some(45), Ok(b"null")), Answer::Failed);
        assert_eq!((w.read_errors, w.readings), (3, 1));
        assert_eq!(w.pop(), None);
        // A new round forgets the readings in flight.
        assert!(w.start_round(4_000));
        w.sent(0, 46);
        assert!(w.start_round(5_000));
        assert_eq!(w.answer(Some(46), Ok(answer.as_bytes())), Answer::NotOurs);
    }

    #[test]
    fn off_when_the_period_is_zero() {
        let mut w = LenderWatch::new(&[spec(Address::repeat_byte(0xAA))], 0);
        assert!(w.is_empty());
        assert!(!w.start_round(u64::MAX));
    }
}
