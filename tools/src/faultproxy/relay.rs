//! What the faults do, without sockets or the clock: which queued fault a message uses up, and
//! the server to client queue that delays, holds back and stalls. The session (session.rs)
//! feeds it events with the time and writes what it hands back.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use super::{Fault, inspect::ServerMsg};

/// Injected faults not used up yet, in injection order.
#[derive(Debug, Default)]
pub(crate) struct Armed {
    queue: Vec<Fault>,
}

/// What to do with a client request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestAction {
    Forward,
    /// Forward it and drop the response ([`Fault::LoseAnswer`]).
    ForwardLoseAnswer,
    /// Answer with the null-id parse error ([`Fault::NullIdError`]).
    AnswerNullId,
    /// Answer with an error carrying the request's id ([`Fault::Reject`]).
    Reject(String),
}

/// What the queued faults do to one server to client data message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ServerEffects {
    /// [`Fault::OneByteSegments`].
    pub(crate) one_byte: bool,
    /// [`Fault::Delay`].
    pub(crate) delay: Option<Duration>,
    /// [`Fault::DuplicateLogs`].
    pub(crate) duplicate: bool,
    /// [`Fault::DelayHeads`].
    pub(crate) hold: Option<Duration>,
}

impl Armed {
    /// Queues a fault; one that could never apply (a count of 0) is dropped.
    pub(crate) fn push(&mut self, fault: Fault) {
        if fault.remaining() != Some(0) {
            self.queue.push(fault);
        }
    }

    /// What is still queued, counts as they are now.
    pub(crate) fn pending(&self) -> Vec<Fault> {
        self.queue.clone()
    }

    /// Takes the oldest queued fault that acts at once on a session (drop, stall, garbage,
    /// protocol violation).
    pub(crate) fn take_instant(&mut self) -> Option<Fault> {
        let i = self.queue.iter().position(|f| f.remaining().is_none())?;
        Some(self.queue.remove(i))
    }

    /// Uses up one count of the oldest queued fault `matches` accepts; returns it as it was.
    fn use_one(&mut self, matches: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let i = self.queue.iter().position(matches)?;
        let used = self.queue[i].clone();
        if let Some(n) = self.queue[i].remaining_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.queue.remove(i);
            }
        }
        Some(used)
    }

    /// Decides a request of `method`. Only one request fault applies to a request: the oldest
    /// that names its method.
    pub(crate) fn on_request(&mut self, method: &str) -> RequestAction {
        let used = self.use_one(|f| match f {
            Fault::LoseAnswer { method: m, .. }
            | Fault::NullIdError { method: m, .. }
            | Fault::Reject { method: m, .. } => m == method,
            _ => false,
        });
        match used {
            Some(Fault::LoseAnswer { .. }) => RequestAction::ForwardLoseAnswer,
            Some(Fault::NullIdError { .. }) => RequestAction::AnswerNullId,
            Some(Fault::Reject { message, .. }) => RequestAction::Reject(message),
            _ => RequestAction::Forward,
        }
    }

    /// Decides a server to client data message of class `msg`. Faults of different kinds stack
    /// (a log can be both duplicated and delayed); each uses up one count.
    pub(crate) fn on_server(&mut self, msg: &ServerMsg) -> ServerEffects {
        let one_byte = self
            .use_one(|f| matches!(f, Fault::OneByteSegments { .. }))
            .is_some();
        let delay = match self.use_one(|f| matches!(f, Fault::Delay { .. })) {
            Some(Fault::Delay { by, .. }) => Some(by),
            _ => None,
        };
        let duplicate = *msg == ServerMsg::Log
            && self
                .use_one(|f| matches!(f, Fault::DuplicateLogs { .. }))
                .is_some();
        let hold = match msg {
            ServerMsg::Head => match self.use_one(|f| matches!(f, Fault::DelayHeads { .. })) {
                Some(Fault::DelayHeads { by, .. }) => Some(by),
                _ => None,
            },
            _ => None,
        };
        ServerEffects {
            one_byte,
            delay,
            duplicate,
            hold,
        }
    }
}

/// What an [`Out`] is, for the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutKind {
    /// A data message from upstream.
    Message,
    /// A control frame from upstream.
    Control,
    /// Made up by the proxy (a duplicate, an injected answer, garbage).
    Injected,
    /// The frame that breaks RFC 6455; the session closes after it.
    Violation,
}

/// Bytes to write to the client at `at` or later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Out {
    pub(crate) at: Instant,
    pub(crate) bytes: Vec<u8>,
    /// One byte per write ([`Fault::OneByteSegments`]).
    pub(crate) one_byte: bool,
    pub(crate) kind: OutKind,
}

/// More than this many bytes waiting for the client ends the session (a stall or hold longer
/// than the test meant, or a client that does not read).
pub(crate) const MAX_QUEUED: usize = 128 << 20;

/// The queue waiting for the client is over [`MAX_QUEUED`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

/// The server to client queue. Order is kept (a delayed message holds back the ones behind it,
/// as latency would) except for held heads, which leave on their own time, and a stall holds
/// everything.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    fifo: VecDeque<Out>,
    held: Vec<Out>,
    stalled_until: Option<Instant>,
    bytes: usize,
}

impl Outbox {
    fn add(&mut self, out: &Out) -> Result<(), Overflow> {
        self.bytes += out.bytes.len();
        if self.bytes > MAX_QUEUED {
            return Err(Overflow);
        }
        Ok(())
    }

    /// Queues in order.
    pub(crate) fn push(&mut self, out: Out) -> Result<(), Overflow> {
        self.add(&out)?;
        self.fifo.push_back(out);
        Ok(())
    }

    /// Queues outside the order: leaves at `out.at` whatever is ahead of it.
    pub(crate) fn hold(&mut self, out: Out) -> Result<(), Overflow> {
        self.add(&out)?;
        self.held.push(out);
        Ok(())
    }

    /// Nothing leaves before `until` (a later stall end wins over an earlier one).
    pub(crate) fn stall(&mut self, until: Instant) {
        self.stalled_until = Some(self.stalled_until.map_or(until, |t| t.max(until)));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.fifo.is_empty() && self.held.is_empty()
    }

    /// When the next item may leave.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let fifo = self.fifo.front().map(|o| o.at);
        let held = self.held.iter().map(|o| o.at).min();
        let due = match (fifo, held) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(self.stalled_until.map_or(due, |s| s.max(due)))
    }

    /// The next item due at `now`: the earlier of the queue's front and the earliest held item
    /// (the queue's front on a tie).
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Out> {
        if self.stalled_until.is_some_and(|s| now < s) {
            return None;
        }
        self.stalled_until = None;
        let fifo = self.fifo.front().map(|o| o.at).filter(|&at| at <= now);
        let held = self
            .held
            .iter()
            .enumerate()
            .filter(|(_, o)| o.at <= now)
            .min_by_key(|(_, o)| o.at)
            .map(|(i, o)| (i, o.at));
        let out = match (fifo, held) {
            (Some(f), Some((i, h))) if h < f => self.held.remove(i),
            (Some(_), _) => self.fifo.pop_front()?,
            (None, Some((i, _))) => self.held.remove(i),
            (None, None) => return None,
        };
        self.bytes -= out.bytes.len();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn counts_are_used_up_in_injection_order() {
        let mut armed = Armed::default();
        armed.push(Fault::Reject {
            method: "eth_call".into(),
            n: 1,
            message: "no".into(),
        });
        armed.push(Fault::LoseAnswer {
            method: "eth_call".into(),
            n: 2,
        });
        armed.push(Fault::DuplicateLogs { n: 0 });
        armed.push(Fault::Garbage);
        assert_eq!(armed.on_request("eth_chainId"), RequestAction::Forward);
        assert_eq!(
            armed.on_request("eth_call"),
            RequestAction::Reject("no".into())
        );
        assert_eq!(
            armed.on_request("eth_call"),
            RequestAction::ForwardLoseAnswer
        );
        assert_eq!(
            armed.pending(),
            vec![
                Fault::LoseAnswer {
                    method: "eth_call".into(),
                    n: 1
                },
                Fault::Garbage
            ]
        );
        assert_eq!(armed.take_instant(), Some(Fault::Garbage));
        assert_eq!(armed.take_instant(), None);
        assert_eq!(
            armed.on_request("eth_call"),
            RequestAction::ForwardLoseAnswer
        );
        assert_eq!(armed.on_request("eth_call"), RequestAction::Forward);
        assert!(armed.pending().is_empty());
    }

    #[test]
    fn server_faults_stack_and_pick_their_class() {
        let mut armed = Armed::default();
        armed.push(Fault::DuplicateLogs { n: 1 });
        armed.push(Fault::DelayHeads { by: ms(30), n: 1 });
        armed.push(Fault::Delay {
            by: ms(5),
            messages: 1,
        });
        // A response uses the delay only.
        let response = ServerMsg::Response {
            id: serde_json::json!(1),
        };
        assert_eq!(
            armed.on_server(&response),
            ServerEffects {
                delay: Some(ms(5)),
                ..ServerEffects::default()
            }
        );
        assert_eq!(
            armed.on_server(&ServerMsg::Head),
            ServerEffects {
                hold: Some(ms(30)),
                ..ServerEffects::default()
            }
        );
        assert_eq!(
            armed.on_server(&ServerMsg::Log),
            ServerEffects {
                duplicate: true,
                ..ServerEffects::default()
            }
        );
        assert_eq!(armed.on_server(&ServerMsg::Log), ServerEffects::default());
    }

    fn out(at: Instant, tag: u8) -> Out {
        Out {
            at,
            bytes: vec![tag],
            one_byte: false,
            kind: OutKind::Message,
        }
    }

    fn drain(outbox: &mut Outbox, now: Instant) -> Vec<u8> {
        std::iter::from_fn(|| outbox.pop_due(now))
            .map(|o| o.bytes[0])
            .collect()
    }

    #[test]
    fn delays_keep_order_holds_do_not_stalls_hold_all() {
        let t0 = Instant::now();
        let mut outbox = Outbox::default();
        // 1 is delayed 10 ms; 2 behind it waits too; 3 is a head held 5 ms, 4 is a log after it.
        outbox.push(out(t0 + ms(10), 1)).unwrap();
        outbox.push(out(t0, 2)).unwrap();
        outbox.hold(out(t0 + ms(5), 3)).unwrap();
        outbox.push(out(t0, 4)).unwrap();
        assert_eq!(outbox.next_due(), Some(t0 + ms(5)));
        assert_eq!(drain(&mut outbox, t0), Vec::<u8>::new());
        assert_eq!(drain(&mut outbox, t0 + ms(5)), vec![3]);
        assert_eq!(drain(&mut outbox, t0 + ms(10)), vec![1, 2, 4]);
        assert!(outbox.is_empty());

        outbox.push(out(t0, 5)).unwrap();
        outbox.stall(t0 + ms(20));
        outbox.stall(t0 + ms(15));
        assert_eq!(outbox.next_due(), Some(t0 + ms(20)));
        assert_eq!(drain(&mut outbox, t0 + ms(19)), Vec::<u8>::new());
        assert_eq!(drain(&mut outbox, t0 + ms(20)), vec![5]);
        assert_eq!(outbox.bytes, 0);
    }
}
