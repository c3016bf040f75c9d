//! The socket thread → housekeeping thread handoff: one preallocated byte ring (`rtrb`), carrying
//! frames `recv_ns:u64 len:u32 payload[len]` back to back (native-endian: they never leave the
//! process). A payload too large for the ring to hold comfortably travels boxed through a small
//! side ring instead, its frame in the byte ring keeping its place in the order.
//!
//! Not the fixed-size `#[repr(C, align(64))]` frames of the pipeline (STYLE.md): payloads range
//! from a few bytes to megabytes, and a byte ring needs no slot size chosen and wastes no room.

use rtrb::{Consumer, Producer, RingBuffer};

/// Bytes of a frame before its payload: `recv_ns`, `len`.
const FRAME_HEAD: usize = 8 + 4;
/// `len` of a frame whose payload is the next item of the side ring.
const BOXED: u32 = u32::MAX;
/// Boxed payloads that may wait at once. They are rare (a payload over a quarter of the ring,
/// 4 MiB by default, where the node's notifications are about a kilobyte), so a few suffice.
const SIDE_SLOTS: usize = 4;

/// The socket thread's end.
#[derive(Debug)]
pub(crate) struct Sender {
    ring: Producer<u8>,
    side: Producer<Box<[u8]>>,
    /// Largest payload copied into the byte ring; larger ones are boxed.
    inline_max: usize,
}

/// The housekeeping thread's end.
#[derive(Debug)]
pub(crate) struct Receiver {
    ring: Consumer<u8>,
    side: Consumer<Box<[u8]>>,
    /// A frame that wraps around the end of the ring is copied here to hand out one slice.
    /// Preallocated to the largest inline frame.
    scratch: Vec<u8>,
}

/// What [`Sender::try_send`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrySend {
    /// Queued.
    Queued,
    /// No room now; nothing was queued.
    Full,
    /// The housekeeping thread is gone; nothing was queued.
    Closed,
}

/// A ring of `ring_bytes` (at least 64) with both ends. Every page of the ring is written once
/// here, so the socket thread takes no page faults on it later.
pub(crate) fn channel(ring_bytes: usize) -> (Sender, Receiver) {
    let (mut ring, mut rx) = RingBuffer::<u8>::new(ring_bytes);
    let zeros = [0u8; 4096];
    let mut left = ring_bytes;
    while left > 0 {
        let n = left.min(zeros.len());
        if ring.push_entire_slice(&zeros[..n]).is_ok()
            && let Ok(chunk) = rx.read_chunk(n)
        {
            chunk.commit_all();
        }
        left -= n;
    }
    let (side, side_rx) = RingBuffer::new(SIDE_SLOTS);
    let inline_max = (ring_bytes / 4).saturating_sub(FRAME_HEAD);
    (
        Sender {
            ring,
            side,
            inline_max,
        },
        Receiver {
            ring: rx,
            side: side_rx,
            scratch: Vec::with_capacity(FRAME_HEAD + inline_max),
        },
    )
}

impl Sender {
    /// Queues one payload if there is room now. No allocation unless the payload is boxed (over
    /// a quarter of the ring), no syscall, no wait.
    pub(crate) fn try_send(&mut self, recv_ns: u64, payload: &[u8]) -> TrySend {
        if self.ring.is_abandoned() {
            return TrySend::Closed;
        }
        let mut head = [0u8; FRAME_HEAD];
        head[..8].copy_from_slice(&recv_ns.to_ne_bytes());
        if payload.len() <= self.inline_max {
            if self.ring.slots() < FRAME_HEAD + payload.len() {
                return TrySend::Full;
            }
            head[8..].copy_from_slice(&(payload.len() as u32).to_ne_bytes());
            // Both fit (checked above, and only this end adds); the receiver waits for the whole
            // frame before it takes it.
            let queued = self.ring.push_entire_slice(&head).is_ok()
                && self.ring.push_entire_slice(payload).is_ok();
            debug_assert!(queued, "room was checked");
        } else {
            if self.ring.slots() < FRAME_HEAD || self.side.slots() == 0 {
                return TrySend::Full;
            }
            head[8..].copy_from_slice(&BOXED.to_ne_bytes());
            // The box before its frame: the receiver finds it once it sees the frame.
            let queued = self.side.push(payload.into()).is_ok()
                && self.ring.push_entire_slice(&head).is_ok();
            debug_assert!(queued, "room was checked");
        }
        TrySend::Queued
    }

    /// Largest payload carried in the byte ring (larger ones are boxed, one allocation each).
    #[cfg(test)]
    pub(crate) fn inline_max(&self) -> usize {
        self.inline_max
    }
}

impl Receiver {
    /// Hands the next whole frame to `f` as (`recv_ns`, payload) and frees its room; `None` if
    /// no whole frame is queued.
    pub(crate) fn recv<R>(&mut self, f: impl FnOnce(u64, &[u8]) -> R) -> Option<R> {
        let mut head = [0u8; FRAME_HEAD];
        {
            let chunk = self.ring.read_chunk(FRAME_HEAD).ok()?;
            let (a, b) = chunk.as_slices();
            head[..a.len()].copy_from_slice(a);
            head[a.len()..].copy_from_slice(b);
            // Not committed: the frame is taken below, whole.
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(&head[..8]);
        let recv_ns = u64::from_ne_bytes(t);
        let len = u32::from_ne_bytes([head[8], head[9], head[10], head[11]]);
        if len == BOXED {
            // Pushed before its frame was committed, so it is there.
            let payload = self.side.pop().ok()?;
            let r = f(recv_ns, &payload);
            if let Ok(chunk) = self.ring.read_chunk(FRAME_HEAD) {
                chunk.commit_all();
            }
            return Some(r);
        }
        let n = FRAME_HEAD + len as usize;
        let chunk = self.ring.read_chunk(n).ok()?;
        let (a, b) = chunk.as_slices();
        let r = if b.is_empty() {
            f(recv_ns, &a[FRAME_HEAD..])
        } else {
            // Wraps around the end of the ring: once per lap.
            self.scratch.clear();
            self.scratch.extend_from_slice(a);
            self.scratch.extend_from_slice(b);
            f(recv_ns, &self.scratch[FRAME_HEAD..])
        };
        chunk.commit_all();
        Some(r)
    }

    /// Nothing queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(rx: &mut Receiver) -> Vec<(u64, Vec<u8>)> {
        let mut got = Vec::new();
        while let Some(()) = rx.recv(|t, p| got.push((t, p.to_vec()))) {}
        got
    }

    #[test]
    fn frames_come_out_in_order_across_wraps_and_boxes() {
        let (mut tx, mut rx) = channel(256);
        assert_eq!(tx.inline_max(), 64 - FRAME_HEAD);
        let mut sent = Vec::new();
        let mut got = Vec::new();
        // Sizes that wrap at every position of the ring, and some boxed ones among them.
        for i in 0..600u64 {
            let len = [0, 1, 7, 13, 52, 53, 200][(i % 7) as usize];
            let p: Vec<u8> = (0..len).map(|k| (i as u8).wrapping_add(k as u8)).collect();
            loop {
                match tx.try_send(i, &p) {
                    TrySend::Queued => break,
                    TrySend::Full => got.extend(drain(&mut rx)),
                    TrySend::Closed => panic!("closed"),
                }
            }
            sent.push((i, p));
        }
        got.extend(drain(&mut rx));
        assert!(rx.is_empty());
        assert_eq!(got, sent);
    }

    #[test]
    fn a_full_ring_queues_nothing_and_a_gone_receiver_is_seen() {
        let (mut tx, rx) = channel(64);
        assert_eq!(tx.inline_max(), 4);
        // Boxed: 12 bytes of the ring. Then inline frames of 16 until 4 bytes are left.
        assert_eq!(tx.try_send(1, &[7; 10]), TrySend::Queued);
        for t in 2..5 {
            assert_eq!(tx.try_send(t, &[7; 4]), TrySend::Queued);
        }
        assert_eq!(tx.try_send(5, &[7; 4]), TrySend::Full);
        assert_eq!(tx.try_send(6, &[7; 10]), TrySend::Full);
        drop(rx);
        assert_eq!(tx.try_send(5, &[]), TrySend::Closed);
    }
}
