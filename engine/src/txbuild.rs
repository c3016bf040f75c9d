//! The signer stage's work: opportunity → executor calldata → signed transaction (EIP-1559 or
//! legacy EIP-155, from a prepared [`TxTemplate`]), written straight into a [`TxFrame`]. No
//! allocation: calldata goes to a fixed buffer owned by the builder, the envelope into the
//! frame. Signatures use a precomputed nonce coupon when one is waiting and RFC 6979 when not.

use alloy_primitives::Address;
use polyarb_signer::{CouponStats, Coupons, NonceTracker, Signer, TxFields, TxTemplate, TxType};

use crate::{
    clock::Clock,
    submission::{AccountControl, Control},
};
use polyarb_core::{
    CALLDATA_MAX, OpportunityFrame, TX_KIND_CANCEL, TX_KIND_ROUTE, TX_MAX, TxFrame, encode_run,
};

/// Gas of a plain transfer: what a cancel costs.
pub const CANCEL_GAS: u64 = 21_000;

/// Free nonces the builder keeps without allocating (one per refused transaction waiting to be
/// reused; the submission machine bounds how many can exist).
const FREE_PREALLOCATED: usize = 64;

/// Why an opportunity did not become a transaction. `Copy` so it rides in a report frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxBuildError {
    /// The route could not be encoded (too many hops, zero hops).
    Route,
    /// Signing failed (the envelope did not fit the frame, or the key rejected the digest).
    Sign,
    /// A risk limit or the kill switch refused it (docs/risk.md).
    Risk(crate::risk::Trip),
}

impl std::fmt::Display for TxBuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Route => f.write_str("route does not encode as an executor call"),
            Self::Sign => f.write_str("transaction could not be signed into a frame"),
            Self::Risk(t) => write!(f, "{t}"),
        }
    }
}

impl std::error::Error for TxBuildError {}

impl TxBuildError {
    /// A short label: the risk limit's key, or `route` / `sign` (metrics labels).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::Sign => "sign",
            Self::Risk(t) => t.key(),
        }
    }
}

/// What [`TxBuilder::on_control`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlOutcome {
    /// A refused nonce is free for the next transaction.
    Reused,
    /// The nonce counter moved past nonces used elsewhere.
    Skipped,
    /// A cancel is in the frame: a fill of a free nonce (`fill`) or a replacement.
    Signed {
        /// Fill (true) or replacement (false).
        fill: bool,
    },
    /// A fill for a nonce a transaction took meanwhile: nothing to do.
    AlreadyUsed,
}

/// Fee settings the builder bids with.
#[derive(Debug, Clone, Copy)]
pub struct FeeBid {
    /// Priority fee, wei per gas.
    pub tip_wei: u128,
    /// `maxFeePerGas = base_fee · this + tip`.
    pub max_fee_multiplier: u32,
    /// Gas limit = the opportunity's gas budget plus this many percent.
    pub limit_headroom_pct: u32,
}

/// A fee saturated into a [`TxFrame`] field.
fn fee_field(wei: u128) -> u64 {
    u64::try_from(wei).unwrap_or(u64::MAX)
}

impl FeeBid {
    /// The transaction gas limit for a route budgeted `budget` gas units.
    pub fn gas_limit(&self, budget: u32) -> u64 {
        u64::from(budget) * (100 + u64::from(self.limit_headroom_pct)) / 100
    }
}

/// One sending account: its key, its cancel template (a transfer to itself) and its own nonce
/// sequence.
#[derive(Debug)]
struct Account {
    signer: Signer,
    cancel: TxTemplate,
    nonces: NonceTracker,
    /// Nonces handed back by the submission machine (refused, so unused), ascending: the next
    /// transactions take them before new ones, so no gap stays behind a refusal.
    free: Vec<u64>,
}

impl Account {
    /// Next nonce to be used: the lowest free one, else the next new one.
    fn next_nonce(&self) -> u64 {
        self.free.first().copied().unwrap_or(self.nonces.peek())
    }

    fn reuse_nonce(&mut self, nonce: u64) {
        if nonce >= self.nonces.peek() {
            return;
        }
        if let Err(at) = self.free.binary_search(&nonce) {
            self.free.insert(at, nonce);
        }
    }

    fn skip_to(&mut self, next: u64) {
        self.free.retain(|&n| n >= next);
        if next > self.nonces.peek() {
            self.nonces.reset(next);
        }
    }

    /// Whether `nonce` is free now; if so it is taken (the caller signs with it).
    fn take_free(&mut self, nonce: u64) -> bool {
        match self.free.binary_search(&nonce) {
            Ok(at) => {
                self.free.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// Marks the nonce [`Account::next_nonce`] returned as used.
    fn consume(&mut self, nonce: u64) {
        if !self.take_free(nonce) {
            self.nonces.next();
        }
    }
}

/// Most sending accounts: [`TxFrame::account`] is a byte, and each account is one more nonce
/// sequence for the submission machine to settle.
pub const MAX_ACCOUNTS: usize = 16;

/// Builds and signs executor transactions, from one or more sending accounts.
///
/// Routes go to the accounts in turn, so a burst of opportunities is spread over several
/// nonce sequences instead of queueing behind one; an account with a refused nonce to fill
/// goes first, so no gap stays open longer than the next route.
#[derive(Debug)]
pub struct TxBuilder {
    accounts: Vec<Account>,
    /// The account the next route goes to when none has a nonce to fill.
    turn: usize,
    coupons: Coupons,
    /// Calls to the executor.
    route: TxTemplate,
    /// Base fee of the newest opportunity, wei per gas: what a cancel bids on.
    last_base_fee: u128,
    fees: FeeBid,
    calldata: [u8; CALLDATA_MAX],
    /// Risk limits and the kill switch, asked before each route is signed.
    gate: Option<crate::risk::RiskGate>,
}

impl TxBuilder {
    /// A builder signing `kind` transactions with `signer` for `chain_id`, starting at nonce
    /// `first_nonce` (the node's pending count), calling `executor`, with nonces from
    /// `coupons` while it has some.
    pub fn new(
        signer: Signer,
        chain_id: u64,
        first_nonce: u64,
        executor: Address,
        fees: FeeBid,
        kind: TxType,
        coupons: Coupons,
    ) -> Self {
        Self::with_accounts(
            vec![(signer, first_nonce)],
            chain_id,
            executor,
            fees,
            kind,
            coupons,
        )
    }

    /// As [`TxBuilder::new`] with several accounts, each with its first nonce; at most
    /// [`MAX_ACCOUNTS`] (more are ignored) and at least one (the caller's to check).
    pub fn with_accounts(
        accounts: Vec<(Signer, u64)>,
        chain_id: u64,
        executor: Address,
        fees: FeeBid,
        kind: TxType,
        coupons: Coupons,
    ) -> Self {
        let accounts = accounts
            .into_iter()
            .take(MAX_ACCOUNTS)
            .map(|(signer, first_nonce)| Account {
                cancel: TxTemplate::new(kind, chain_id, signer.address()),
                signer,
                nonces: NonceTracker::new(first_nonce),
                free: Vec::with_capacity(FREE_PREALLOCATED),
            })
            .collect();
        Self {
            accounts,
            turn: 0,
            coupons,
            route: TxTemplate::new(kind, chain_id, executor),
            last_base_fee: 0,
            fees,
            calldata: [0; CALLDATA_MAX],
            gate: None,
        }
    }

    /// Routes must pass `gate` before they are signed.
    pub fn set_risk(&mut self, gate: crate::risk::RiskGate) {
        self.gate = Some(gate);
    }

    /// How the signatures so far were made.
    pub fn coupon_stats(&self) -> CouponStats {
        self.coupons.stats()
    }

    /// Next nonce account `account` uses: its lowest free one, else its next new one. `None`
    /// for an account that does not exist.
    pub fn next_nonce(&self, account: u8) -> Option<u64> {
        self.accounts
            .get(usize::from(account))
            .map(Account::next_nonce)
    }

    /// Account `account`'s nonces handed back and not used again yet, ascending.
    pub fn free_nonces(&self, account: u8) -> &[u64] {
        self.accounts
            .get(usize::from(account))
            .map_or(&[], |a| a.free.as_slice())
    }

    /// The account the next route goes to: the first with a nonce to fill, else the next in
    /// turn.
    fn pick(&mut self) -> usize {
        if let Some(k) = self.accounts.iter().position(|a| !a.free.is_empty()) {
            return k;
        }
        let k = self.turn % self.accounts.len().max(1);
        self.turn = k + 1;
        k
    }

    /// Signs a cancel with `nonce` from account `account`: a zero-value transfer to itself,
    /// 21,000 gas, bidding the newest base fee times the multiplier plus the tip, and at least
    /// `min_fees` (max fee, tip; wei per gas) when it replaces a pooled transaction. With
    /// `fill` the nonce must still be free (else nothing is signed: a route took it,
    /// `Ok(false)`) and is taken. An account that does not exist signs nothing (`Ok(false)`).
    pub fn build_cancel(
        &mut self,
        account: u8,
        nonce: u64,
        fill: bool,
        min_fees: (u64, u64),
        clock: &dyn Clock,
        out: &mut TxFrame,
    ) -> Result<bool, TxBuildError> {
        let Some(acct) = self.accounts.get_mut(usize::from(account)) else {
            return Ok(false);
        };
        if fill && acct.free.binary_search(&nonce).is_err() {
            return Ok(false);
        }
        let tip = self.fees.tip_wei.max(u128::from(min_fees.1));
        let max_fee = self
            .last_base_fee
            .saturating_mul(u128::from(self.fees.max_fee_multiplier))
            .saturating_add(tip)
            .max(u128::from(min_fees.0));
        let fields = TxFields {
            nonce,
            max_priority_fee_per_gas: tip,
            max_fee_per_gas: max_fee,
            gas_limit: CANCEL_GAS,
            input: &[],
        };
        let signed = acct
            .cancel
            .sign(
                &fields,
                &acct.signer,
                &mut self.coupons,
                &mut out.raw[..TX_MAX],
            )
            .map_err(|_| TxBuildError::Sign)?;
        if fill {
            acct.take_free(nonce);
        }
        out.account = account;
        out.nonce = nonce;
        out.kind = TX_KIND_CANCEL;
        out.max_fee_wei = fee_field(max_fee);
        out.tip_wei = fee_field(tip);
        out.len = signed.len as u32;
        let now = clock.now_ns();
        out.recv_ns = now;
        out.seq = u64::MAX;
        out.signed_ns = now;
        Ok(true)
    }

    /// Applies a control message from an account's submission machine. A fill or a
    /// replacement signs a cancel into `out` ([`ControlOutcome::Signed`]) for the caller to
    /// send.
    pub fn on_control(
        &mut self,
        c: AccountControl,
        clock: &dyn Clock,
        out: &mut TxFrame,
    ) -> Result<ControlOutcome, TxBuildError> {
        let account = c.account;
        let (nonce, fill, min_fees) = match c.control {
            Control::Reuse(n) => {
                if let Some(a) = self.accounts.get_mut(usize::from(account)) {
                    a.reuse_nonce(n);
                }
                return Ok(ControlOutcome::Reused);
            }
            Control::Skip(n) => {
                if let Some(a) = self.accounts.get_mut(usize::from(account)) {
                    a.skip_to(n);
                }
                return Ok(ControlOutcome::Skipped);
            }
            Control::Fill(n) => (n, true, (0, 0)),
            Control::Replace {
                nonce,
                min_max_fee,
                min_tip,
            } => (nonce, false, (min_max_fee, min_tip)),
        };
        Ok(
            if self.build_cancel(account, nonce, fill, min_fees, clock, out)? {
                ControlOutcome::Signed { fill }
            } else {
                ControlOutcome::AlreadyUsed
            },
        )
    }

    /// Encodes `opp` as an executor call with `minProfit = opp.profit` (the route pays exactly
    /// that or reverts), signs it from the account whose turn it is with that account's next
    /// nonce, and fills `out`. The nonce is used up only on success.
    pub fn build(
        &mut self,
        opp: &OpportunityFrame,
        clock: &dyn Clock,
        out: &mut TxFrame,
    ) -> Result<(), TxBuildError> {
        if let Some(gate) = &mut self.gate {
            // The gas windows count by minute: the detection stamp (same clock, microseconds
            // earlier) serves, with no second clock read.
            gate.check(opp, opp.detect_ns).map_err(TxBuildError::Risk)?;
        }
        let n = encode_run(opp, opp.profit, &mut self.calldata).map_err(|_| TxBuildError::Route)?;
        let tip = self.fees.tip_wei;
        self.last_base_fee = opp.base_fee;
        let k = self.pick();
        let Some(acct) = self.accounts.get_mut(k) else {
            return Err(TxBuildError::Sign);
        };
        let nonce = acct.next_nonce();
        let max_fee = opp
            .base_fee
            .saturating_mul(u128::from(self.fees.max_fee_multiplier))
            .saturating_add(tip);
        let fields = TxFields {
            nonce,
            max_priority_fee_per_gas: tip,
            max_fee_per_gas: max_fee,
            gas_limit: self.fees.gas_limit(opp.gas_budget),
            input: &self.calldata[..n],
        };
        let signed = self
            .route
            .sign(
                &fields,
                &acct.signer,
                &mut self.coupons,
                &mut out.raw[..TX_MAX],
            )
            .map_err(|_| TxBuildError::Sign)?;
        acct.consume(nonce);
        out.account = k as u8;
        out.nonce = nonce;
        out.kind = TX_KIND_ROUTE;
        out.max_fee_wei = fee_field(max_fee);
        out.tip_wei = fee_field(tip);
        out.len = signed.len as u32;
        out.recv_ns = opp.recv_ns;
        out.seq = opp.seq;
        out.signed_ns = clock.now_ns();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use polyarb_core::{Hop, OpportunityFrame, TxFrame};
    use polyarb_signer::coupon_ring;

    use super::*;
    use crate::clock::ManualClock;

    fn builder(accounts: u8) -> TxBuilder {
        let signers = (1..=accounts)
            .map(|k| {
                let signer = Signer::from_bytes(&[k; 32]).expect("key");
                (signer, 10 * u64::from(k))
            })
            .collect();
        TxBuilder::with_accounts(
            signers,
            137,
            Address::repeat_byte(0xee),
            FeeBid {
                tip_wei: 1,
                max_fee_multiplier: 2,
                limit_headroom_pct: 20,
            },
            TxType::Eip1559,
            coupon_ring(0).1,
        )
    }

    fn opportunity() -> OpportunityFrame {
        let mut o = OpportunityFrame::EMPTY;
        o.hop_count = 2;
        o.amount_in = 1_000;
        o.profit = 10;
        o.base_fee = 7;
        o.gas_budget = 200_000;
        o.hops[0] = Hop {
            amount_out: 500,
            pool: [0x11; 20],
            ..Hop::default()
        };
        o.hops[1] = Hop {
            amount_out: 1_010,
            pool: [0x22; 20],
            zero_for_one: 1,
            ..Hop::default()
        };
        o
    }

    /// (account, nonce) of each of `n` routes.
    fn routes(b: &mut TxBuilder, n: usize) -> Vec<(u8, u64)> {
        let clock = ManualClock::at(0);
        let mut out = TxFrame::EMPTY;
        (0..n)
            .map(|_| {
                b.build(&opportunity(), &clock, &mut out).expect("signs");
                (out.account, out.nonce)
            })
            .collect()
    }

    #[test]
    fn routes_take_turns_and_each_account_counts_its_own_nonces() {
        let mut b = builder(3);
        assert_eq!(
            routes(&mut b, 5),
            vec![(0, 10), (1, 20), (2, 30), (0, 11), (1, 21)]
        );
        assert_eq!(b.next_nonce(2), Some(31));
        assert_eq!(b.next_nonce(3), None);
    }

    #[test]
    fn a_refused_nonce_is_filled_first_and_controls_reach_their_account() {
        let mut b = builder(2);
        routes(&mut b, 4); // account 0: 10, 11; account 1: 20, 21
        let clock = ManualClock::at(0);
        let mut out = TxFrame::EMPTY;
        let reuse = AccountControl {
            account: 1,
            control: Control::Reuse(20),
        };
        assert_eq!(
            b.on_control(reuse, &clock, &mut out),
            Ok(ControlOutcome::Reused)
        );
        assert_eq!(b.free_nonces(1), &[20]);
        assert!(b.free_nonces(0).is_empty());
        // Account 1 has a gap to fill: it goes first, out of turn.
        assert_eq!(routes(&mut b, 2), vec![(1, 20), (0, 12)]);
        // A cancel for account 0 is signed by account 0, to itself.
        let replace = AccountControl {
            account: 0,
            control: Control::Replace {
                nonce: 12,
                min_max_fee: 100,
                min_tip: 50,
            },
        };
        assert_eq!(
            b.on_control(replace, &clock, &mut out),
            Ok(ControlOutcome::Signed { fill: false })
        );
        assert_eq!((out.account, out.nonce, out.kind), (0, 12, TX_KIND_CANCEL));
        // A control for an account that does not exist changes nothing.
        let stray = AccountControl {
            account: 9,
            control: Control::Fill(3),
        };
        assert_eq!(
            b.on_control(stray, &clock, &mut out),
            Ok(ControlOutcome::AlreadyUsed)
        );
        let skip = AccountControl {
            account: 0,
            control: Control::Skip(40),
        };
        b.on_control(skip, &clock, &mut out).expect("skips");
        assert_eq!((b.next_nonce(0), b.next_nonce(1)), (Some(40), Some(22)));
    }
}
