//! The sender's nonce, counted locally so that signing never waits on the node.

/// Local nonce counter, seeded from `eth_getTransactionCount(sender, "pending")`.
///
/// Single-owner (`&mut self`): the signer thread is the only one that hands out nonces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonceTracker {
    next: u64,
}

impl NonceTracker {
    /// Starts at `next`, the account's transaction count as the node reports it.
    pub const fn new(next: u64) -> Self {
        Self { next }
    }

    /// Hands out the next nonce and moves past it.
    ///
    /// Stops at `u64::MAX` rather than wrapping to 0: EIP-2681 makes 2^64 − 1 an invalid nonce,
    /// so a saturated counter yields transactions nodes reject instead of reusing a nonce.
    #[allow(
        clippy::should_implement_trait,
        reason = "the counter never ends, so `Iterator::next`'s `Option` would only mislead"
    )]
    pub fn next(&mut self) -> u64 {
        let n = self.next;
        self.next = n.saturating_add(1);
        n
    }

    /// The nonce the next call to [`NonceTracker::next`] returns.
    pub const fn peek(&self) -> u64 {
        self.next
    }

    /// Re-seeds after the node disagrees (a dropped or replaced transaction, a restart).
    pub fn reset(&mut self, next: u64) {
        self.next = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_from_the_seed() {
        let mut n = NonceTracker::new(41);
        assert_eq!(n.peek(), 41);
        assert_eq!(n.next(), 41);
        assert_eq!(n.next(), 42);
        assert_eq!(n.peek(), 43);
    }

    #[test]
    fn reset_reseeds() {
        let mut n = NonceTracker::new(10);
        n.next();
        n.reset(3);
        assert_eq!(n.peek(), 3);
        assert_eq!(n.next(), 3);
        assert_eq!(n.peek(), 4);
    }

    #[test]
    fn saturates_instead_of_wrapping() {
        let mut n = NonceTracker::new(u64::MAX - 1);
        assert_eq!(n.next(), u64::MAX - 1);
        assert_eq!(n.next(), u64::MAX);
        assert_eq!(n.next(), u64::MAX);
        assert_eq!(n.peek(), u64::MAX);
    }
}
