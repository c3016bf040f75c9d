//! Turning reports into words, off the hot path (main thread): the opportunities JSON-lines file
//! (`docs/formats.md`) and the end-of-run summary.

use std::{collections::HashMap, fmt::Write as _};

use alloy_primitives::Address;

use crate::pipeline::{FeedStats, Report, SignerStats};
use polyarb_core::{EngineStats, Funding, MarketSpec, PoolKind};

/// Names for addresses, built once from the market.
#[derive(Debug, Clone, Default)]
pub struct Names {
    tokens: HashMap<Address, (String, u8)>,
    pool_dex: HashMap<Address, String>,
}

impl Names {
    /// Indexes `market`'s tokens and pools.
    pub fn new(market: &MarketSpec) -> Self {
        let tokens = market
            .tokens
            .iter()
            .map(|t| (t.address, (t.symbol.clone(), t.decimals)))
            .collect();
        let pool_dex = market
            .pools
            .iter()
            .map(|p| {
                let dex = market
                    .dexes
                    .get(usize::from(p.dex))
                    .map_or("?", |d| d.name.as_str());
                (p.address, dex.to_owned())
            })
            .collect();
        Self { tokens, pool_dex }
    }

    /// Symbol of a token, or its address.
    pub fn symbol(&self, a: &Address) -> String {
        self.tokens
            .get(a)
            .map_or_else(|| a.to_string(), |(s, _)| s.clone())
    }

    /// Decimals of a token (18 if unknown).
    pub fn decimals(&self, a: &Address) -> u8 {
        self.tokens.get(a).map_or(18, |(_, d)| *d)
    }

    /// DEX name of a pool.
    pub fn dex(&self, pool: &Address) -> &str {
        self.pool_dex.get(pool).map_or("?", String::as_str)
    }
}

/// `raw` token units shown with `decimals` decimals, trailing zeros trimmed ("1.25").
pub fn units(raw: u128, decimals: u8) -> String {
    let d = u32::from(decimals.min(38));
    let scale = 10u128.pow(d);
    let (int, frac) = (raw / scale, raw % scale);
    if frac == 0 {
        return int.to_string();
    }
    let mut s = format!("{int}.{frac:0width$}", width = d as usize);
    while s.ends_with('0') {
        s.pop();
    }
    s
}

/// One opportunity as a JSON object on one line. Amounts are decimal strings of raw units
/// (JSON numbers lose precision past 2^53).
pub fn json_line(r: &Report, names: &Names) -> String {
    let o = &r.opp;
    let token_in = Address::from(o.token_in);
    let mut s = String::with_capacity(512);
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "{{\"seq\":{},\"block\":{},\"log_index\":{},\"token_in\":\"{}\",\"symbol\":\"{}\",\"amount_in\":\"{}\",\"funding\":\"{}\",\"premium\":\"{}\",\"profit\":\"{}\",\
         \"profit_native_wei\":\"{}\",\"gas_cost_native_wei\":\"{}\",\"base_fee_wei\":\"{}\",\"gas_budget\":{},\
         \"detect_ns\":{},\"hops\":[",
        o.seq,
        o.block_number,
        o.log_index,
        token_in,
        names.symbol(&token_in),
        o.amount_in,
        Funding::from_u8(o.funding).map_or("?", Funding::name),
        o.premium,
        o.profit,
        o.profit_native,
        o.gas_cost_native,
        o.base_fee,
        o.gas_budget,
        o.detect_ns.saturating_sub(o.recv_ns),
    );
    for (i, h) in o.hops().iter().enumerate() {
        let pool = Address::from(h.pool);
        let kind = PoolKind::from_u8(h.kind).map_or("?", PoolKind::name);
        let _ = write!(
            s,
            "{}{{\"pool\":\"{}\",\"kind\":\"{}\",\"dex\":\"{}\",\"zero_for_one\":{},\"amount_out\":\"{}\",\"ticks_crossed\":{}}}",
            if i == 0 { "" } else { "," },
            pool,
            kind,
            names.dex(&pool),
            h.zero_for_one == 1,
            h.amount_out,
            h.ticks_crossed
        );
    }
    s.push(']');
    match (&r.tx, &r.error) {
        (Some(tx), _) => {
            let _ = write!(
                s,
                ",\"tx_hash\":\"0x{}\",\"nonce\":{},\"tx_len\":{}",
                alloy_primitives::hex::encode(tx.hash),
                tx.nonce,
                tx.len
            );
        }
        (None, Some(e)) => {
            let _ = write!(s, ",\"error\":\"{e}\"");
        }
        (None, None) => {}
    }
    s.push('}');
    s
}

/// A one-line human summary of an opportunity, for logs and the replay listing.
pub fn short_line(r: &Report, names: &Names) -> String {
    let o = &r.opp;
    let token_in = Address::from(o.token_in);
    let sym = names.symbol(&token_in);
    let dec = names.decimals(&token_in);
    let path: Vec<String> = o
        .hops()
        .iter()
        .map(|h| names.dex(&Address::from(h.pool)).to_owned())
        .collect();
    // Where the input came from, and what the lender charged (when it charged anything).
    let funding = match Funding::from_u8(o.funding) {
        Some(Funding::Capital) => "own capital".to_owned(),
        Some(Funding::FlashSwap) => "flash swap".to_owned(),
        Some(f) if o.premium > 0 => format!("{f} loan, premium {} {sym}", units(o.premium, dec)),
        Some(f) => format!("{f} loan"),
        None => "unknown funding".to_owned(),
    };
    format!(
        "#{:<4} block {:<6} {}-hop {:<28} in {} {} ({}) profit {} {} (net of gas {} native)",
        o.seq,
        o.block_number,
        o.hop_count,
        path.join(">"),
        units(o.amount_in, dec),
        sym,
        funding,
        units(o.profit, dec),
        sym,
        units(o.profit_native.saturating_sub(o.gas_cost_native), 18),
    )
}

/// Totals printed at the end of a run.
pub fn stage_summary(feed: &FeedStats, signer: &SignerStats) -> String {
    format!(
        "feed: {} payloads, {} frames, {} ignored, {} responses, {} decode errors, {} backpressure pauses, {} pool logs after their block's batch had ended\n\
         signer: {} opportunities, {} signed, {} build errors, {} reports dropped; nonces: {} reused after a refusal, {} skips, {} fills, {} replacements, {} cancel errors\n\
         signatures: {}\n\
         sent: {} written, {} not written",
        feed.payloads,
        feed.frames,
        feed.ignored,
        feed.responses,
        feed.decode_errors,
        feed.backpressure,
        feed.late_in_block,
        signer.opportunities,
        signer.signed,
        signer.build_errors,
        signer.reports_dropped,
        signer.nonces_reused,
        signer.nonce_skips,
        signer.fills,
        signer.replacements,
        signer.cancel_errors,
        coupon_summary(&signer.coupons),
        feed.submitted,
        feed.submit_errors,
    )
}

/// How the signatures were made, one line.
fn coupon_summary(c: &polyarb_signer::CouponStats) -> String {
    let mut line = format!(
        "{} with a precomputed nonce coupon, {} with RFC 6979 (no coupon waiting); {} coupons made, {} left unused (discarded at exit)",
        c.used, c.fallbacks, c.minted, c.waiting
    );
    if c.entropy_failed {
        line.push_str("; the OS random source FAILED, coupons stopped");
    }
    line
}

/// What became of the live run's transactions, two lines.
pub fn submit_summary(s: &crate::submission::SubmitStats) -> String {
    format!(
        "node: {} transactions accepted, {} refused (nonce reused), {} nonce too low, {} nonce held by another, {} confirmed mined; node's mined count {}\nsubmission: {} writes ({} rewrites), {} answers timed out, {} null-id errors, {} late answers, {} hash mismatches, {} fills and {} replacements asked, {} over capacity, {} nonce conflicts, {} unreadable counts, {} dropped as signed before a reconnect, {} mined ones taken back by reorgs ({} used nonces freed again, {} reorgs deeper than the window), {} rechecks of pooled ones",
        s.accepted,
        s.refused,
        s.nonce_too_low,
        s.occupied,
        s.confirmed,
        s.node_latest,
        s.writes,
        s.rewrites,
        s.answer_timeouts,
        s.null_id_errors,
        s.late_answers,
        s.hash_mismatches,
        s.fills_asked,
        s.replacements_asked,
        s.over_capacity,
        s.nonce_conflicts,
        s.bad_counts,
        s.dropped_stale,
        s.unmined_by_reorg,
        s.retaken,
        s.reorg_too_deep,
        s.rechecks,
    )
}

/// Nanoseconds since the Unix epoch as a UTC date and time, `2026-11-25 13:05:07 UTC`.
pub fn utc(unix_ns: u64) -> String {
    let secs = unix_ns / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian, 400-year eras of 146 097
    // days, years starting in March so the leap day ends the year).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// The engine's counters in words, four lines: what the logs did, what the Algebra fee models
/// did, what the search did, and what routes in flight held back.
pub fn engine_summary(e: &EngineStats) -> String {
    format!(
        "engine: {} frames ({} heads; pool logs: {} syncs, {} swaps, {} mints/burns, {} fee changes), \
         {} applied, {} unknown pool, {} already applied, {} removed by reorgs, {} rejected, \
         {} from too far past the newest head, \
         {} outside their tick window, {} refused by the tick tables, {} of other kinds\n\
         algebra fees: {} timepoint writes replayed with the pool's fee matching the model, \
         {} models lost (the pool left the search), {} times a pool's next fee was not known yet\n\
         search: {} cycles screened ({} with a stale pool), {} routes pruned by their bound, \
         {} sized, {} profitable, {} below gas and the minimum profit, {} worth sending ({} \
         proven optimal of {} with V2 hops only, {} stopping short of a tick to save its gas), {} opportunities \
         (funded by: {} own capital, {} flash swaps, {} Balancer loans, {} Aave loans), \
         {} searches ({} pool updates coalesced into a later one of the same batch, {} pools \
         left for the next batch)\n\
         in flight: {} pools held at the state a route leaves them in, {} released by a later \
         block's log, {} released as their transaction will not land, {} cut short as it was \
         mined, {} released as it reverted, {} kept through an earlier route's own log, {} \
         expired ({} words on routes that held nothing); {} cycles priced at a pending route's state, {} left out for a \
         pool a route from the same block holds\n\
         reorgs: {} undone ({} found by a block hash, {} with the fork point unknown), {} blocks \
         and {} journal entries taken back, {} holds released; {} removed logs beyond the \
         journal, {} pools left stale in doubt, {} times the journal gave up its oldest block",
        e.frames,
        e.heads,
        e.syncs,
        e.cl_swaps,
        e.positions,
        e.fees,
        e.applied,
        e.unknown_pool,
        e.stale_skipped,
        e.removed,
        e.rejected,
        e.future_logs,
        e.out_of_window,
        e.tick_errors,
        e.other,
        e.fee_checked,
        e.fee_models_lost,
        e.fee_unknown,
        e.screened,
        e.stale_cycles,
        e.pruned,
        e.sized,
        e.profitable,
        e.below_threshold,
        e.profitable.saturating_sub(e.below_threshold),
        e.sized_exact,
        e.worth_all_v2,
        e.short_of_ticks,
        e.opportunities,
        e.funded[Funding::Capital as usize],
        e.funded[Funding::FlashSwap as usize],
        e.funded[Funding::Balancer as usize],
        e.funded[Funding::Aave as usize],
        e.searches,
        e.coalesced,
        e.deferred,
        e.holds,
        e.holds_released,
        e.holds_dropped,
        e.holds_mined,
        e.holds_reverted,
        e.holds_stacked_kept,
        e.holds_expired,
        e.route_ends_unheld,
        e.in_flight_priced,
        e.same_block_held,
        e.reorgs,
        e.reorg_by_hash,
        e.reorg_fork_unknown,
        e.reorg_blocks,
        e.reorg_entries,
        e.holds_reorged,
        e.reorg_beyond_depth,
        e.reorg_doubtful,
        e.reorg_journal_full,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_match_known_instants() {
        // Anchors, each read off GNU `date -u -d @SECONDS`: the epoch, the leap day of a
        // 400-year leap year, the last day of February in a century year that is not a leap
        // year and the day after, the sample recording's timestamp, and the largest u64.
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400 * 1_000_000_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(
            utc(4_107_542_399 * 1_000_000_000),
            "2100-02-28 23:59:59 UTC"
        );
        assert_eq!(
            utc(4_107_542_400 * 1_000_000_000),
            "2100-03-01 00:00:00 UTC"
        );
        assert_eq!(utc(1_795_322_580_716_304_933), "2026-11-22 04:43:00 UTC");
        assert_eq!(utc(u64::MAX), "2554-07-21 23:34:33 UTC");
    }

    #[test]
    fn units_formats_and_trims() {
        assert_eq!(units(1_250_000, 6), "1.25");
        assert_eq!(units(5, 0), "5");
        assert_eq!(units(1, 18), "0.000000000000000001");
        assert_eq!(units(3 * 10u128.pow(18), 18), "3");
        assert_eq!(
            units(u128::MAX, 38),
            "3.40282366920938463463374607431768211455"
        );
    }
}

/// At most this many node messages are logged per [`LOG_WINDOW_NS`]; the rest are counted and
/// the count logged when the window ends, so a node that answers every transaction with an
/// error cannot flood the log.
const LOG_BURST: u32 = 10;
/// The rate limiter's window, ns.
const LOG_WINDOW_NS: u64 = 10_000_000_000;

/// Rate limiter for node-supplied text in the log.
#[derive(Debug, Default)]
pub struct LogLimit {
    window_start: u64,
    logged: u32,
    suppressed: u64,
}

impl LogLimit {
    /// Whether a message at `now` (ns) may be logged.
    pub fn allow(&mut self, now: u64) -> bool {
        if now.saturating_sub(self.window_start) >= LOG_WINDOW_NS {
            if self.suppressed > 0 {
                tracing::warn!(
                    suppressed = self.suppressed,
                    "messages not logged in the last 10 s (rate limit)"
                );
            }
            *self = Self {
                window_start: now,
                ..Self::default()
            };
        }
        if self.logged < LOG_BURST {
            self.logged += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}
