//! The undo journal: what taking back the last [`SearchParams::reorg_depth`] blocks needs, so a
//! reorg (a `removed: true` log, a head whose parent is not the block seen at its height) puts
//! every table back as it was at the end of the block before the fork (docs/engine.md,
//! "Reorgs").
//!
//! Kept per block, before a log changes anything:
//! - a pool's scalar state the first time a block touches it ([`PoolImage`]: V2 reserves;
//!   price, tick, liquidity; fee and quoted fee; the last applied position; staleness);
//! - each tick a Mint or Burn changes, as it was before (absent if the change initialized it);
//! - an Algebra pool's fee model the first time a block touches it ([`ModelImage`]: its volume,
//!   newest write's block, a write waiting for its time, and the one timepoint record the
//!   block's write overwrites, never the ring);
//! - each hold of a route in flight that the block ended (released, expired, or replaced by a
//!   route of a later block);
//! - per block, the engine's clock before it (newest block time, base fee, newest block and
//!   head), and the hash a head or the logs gave it.
//!
//! Storage is preallocated at build time in fixed-capacity queues; nothing is allocated after.
//! When a queue is full the oldest block is given up early (counted in
//! `EngineStats::reorg_journal_full`).
//!
//! [`SearchParams::reorg_depth`]: crate::SearchParams::reorg_depth

use std::collections::VecDeque;

use crate::engine::{EngineStats, Held};
use crate::fee_model::ModelImage;
use crate::pools::{PoolId, PoolImage, Pools, Staleness};

/// Default [`SearchParams::reorg_depth`](crate::SearchParams::reorg_depth): blocks the journal
/// can undo. Polygon PoS reorgs are mostly 1–10 blocks deep; a few past ones were deeper than
/// 100, which this depth answers by marking the pools stale instead.
pub const DEFAULT_REORG_DEPTH: u64 = 64;

/// Largest depth honoured; more is clamped (the journal's storage grows with the depth).
pub const MAX_REORG_DEPTH: u64 = 1024;

/// Pool images room is kept for, per block of depth (at most one per pool and block; a busier
/// block borrows room from quieter ones, and a journal out of room gives up its oldest block).
const POOLS_PER_BLOCK: usize = 256;
/// Tick before-images per block of depth (two per Mint or Burn).
const TICKS_PER_BLOCK: usize = 32;
/// Fee model images per block of depth (at most one per modelled pool and block).
const MODELS_PER_BLOCK: usize = 64;
/// Ended holds per block of depth (a pool's hold ends at most twice a block: an older hold by
/// the block's first frame or log of it, then one of the block's own routes replaced by a
/// later block's; replacements within a block are not kept).
const HOLDS_PER_BLOCK: usize = 64;

/// No block.
const NONE: u64 = u64::MAX;
const ZERO_HASH: [u8; 32] = [0; 32];

/// The 32-bit tag of a block hash that a log frame carries in
/// [`FeedFrame::block_tag`](crate::FeedFrame::block_tag): its first four bytes, big-endian.
pub fn block_tag(hash: &[u8; 32]) -> u32 {
    u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]])
}

/// A queue that never grows past the capacity it was built with.
#[derive(Debug)]
struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T> Ring<T> {
    fn new(cap: usize) -> Self {
        Self {
            items: VecDeque::with_capacity(cap),
            cap,
        }
    }

    fn is_full(&self) -> bool {
        self.items.len() >= self.cap
    }
}

/// An entry of the block it was recorded for.
#[derive(Clone, Copy, Debug)]
struct Entry<T> {
    block: u64,
    item: T,
}

impl<T> Ring<Entry<T>> {
    /// Drops entries of blocks before `floor` from the front (older ones behind a newer entry,
    /// possible only with logs delivered out of block order, go when they reach it; they are
    /// never undone).
    fn trim(&mut self, floor: u64) {
        while self.items.front().is_some_and(|e| e.block < floor) {
            self.items.pop_front();
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct TickEntry {
    id: PoolId,
    tick: i32,
    before: Option<(i128, u128)>,
}

#[derive(Clone, Copy, Debug)]
struct ModelEntry {
    id: PoolId,
    image: ModelImage,
}

#[derive(Clone, Copy, Debug)]
struct HoldEntry {
    id: PoolId,
    held: Held,
}

/// The engine's own state a block moves, as it was before the block's first frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Clock {
    /// Newest block time, seconds.
    pub(crate) now: u32,
    /// Base fee, wei per gas.
    pub(crate) base_fee: u128,
    pub(crate) newest_block: u64,
    pub(crate) newest_head: u64,
}

/// One block the journal can undo.
#[derive(Clone, Copy, Debug)]
struct Mark {
    number: u64,
    /// From its head (zero: no head with a hash seen).
    hash: [u8; 32],
    /// [`block_tag`] of its hash, from its head or its logs (0: unknown).
    tag: u32,
    /// A log of it came without a block hash.
    untagged: bool,
    before: Clock,
}

/// What a frame of the chain says about the blocks the journal holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Nothing against them.
    Same,
    /// The block at this height is another one than the journal's: undo from it.
    Replaced(u64),
    /// A head's parent is not the block the journal holds at its height: undo from there. Where
    /// the fork is further back is unknown.
    ForkUnknown(u64),
}

/// What to do with a removed log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Removal {
    /// Undo from its block.
    Undo(u64),
    /// Its block was undone already: what the journal holds at that height is the new chain's.
    AlreadyUndone,
    /// Its block is older than the journal reaches.
    Beyond,
}

/// What an undo did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Undone {
    pub(crate) blocks: u64,
    pub(crate) entries: u64,
    /// The engine's clock before the oldest block undone, if the journal had seen it.
    pub(crate) clock: Option<Clock>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Journal {
    /// Blocks it can undo (0: off).
    depth: u64,
    /// Every change of a block at or after this one is kept; removed logs of older blocks
    /// fall back to marking their pools stale.
    floor: u64,
    marks: Ring<Mark>,
    pools: Ring<Entry<PoolImage>>,
    ticks: Ring<Entry<TickEntry>>,
    models: Ring<Entry<ModelEntry>>,
    holds: Ring<Entry<HoldEntry>>,
    /// Per pool: the block of its newest image ([`NONE`]: none kept).
    imaged: Vec<u64>,
    /// Per pool: the newest block a log without a block hash came for after that block's head
    /// ([`NONE`]: none). A log of a reorg's new chain that the head did not show yet looks the
    /// same (and may even have been skipped as older than the pool's position), so a reorg
    /// found by a head leaves such a pool stale.
    suspect: Vec<u64>,
    /// The oldest block undone since the last head: removed logs of it or after are of blocks
    /// already undone.
    recent_undo: Option<u64>,
    /// The pools the last undo changed, in order of their first change among the undone
    /// blocks (capacity: every pool), and which pools are among them.
    changed: Vec<PoolId>,
    in_changed: Vec<bool>,
    /// The suspect pools of the blocks the last undo took back (see `suspect`).
    doubtful: Vec<PoolId>,
    /// Since the last head: the oldest block of a removed log older than the journal reaches
    /// ([`NONE`]: none), and the pools such logs marked (capacity: every pool). The fork is at
    /// or before that block, whatever order the removed logs come in, so each of these pools
    /// is moved back before the oldest one (`Journal::note_beyond`).
    beyond_low: u64,
    beyond: Vec<PoolId>,
    in_beyond: Vec<bool>,
}

impl Journal {
    /// A journal for `depth` blocks (clamped to [`MAX_REORG_DEPTH`]; 0 is off) of `pools`
    /// pools, `modelled` of them with a fee model; `first` is the first block whose changes it
    /// sees whole. Allocates all its storage now.
    pub(crate) fn new(depth: u64, pools: usize, modelled: usize, first: u64) -> Self {
        let depth = depth.min(MAX_REORG_DEPTH);
        let d = usize::try_from(depth).unwrap_or(0);
        let on = usize::from(depth > 0);
        Self {
            depth,
            floor: first,
            marks: Ring::new(on * (d + 1)),
            pools: Ring::new(d * pools.clamp(on, POOLS_PER_BLOCK)),
            ticks: Ring::new(d * TICKS_PER_BLOCK),
            models: Ring::new(d * modelled.min(MODELS_PER_BLOCK)),
            holds: Ring::new(d * (2 * pools).clamp(on, HOLDS_PER_BLOCK)),
            imaged: vec![NONE; on * pools],
            suspect: vec![NONE; on * pools],
            recent_undo: None,
            changed: Vec::with_capacity(on * pools),
            in_changed: vec![false; on * pools],
            doubtful: Vec::with_capacity(on * pools),
            beyond_low: NONE,
            // Kept with the journal off too: every removed log is beyond it then.
            beyond: Vec::with_capacity(pools),
            in_beyond: vec![false; pools],
        }
    }

    /// Whether it keeps anything.
    pub(crate) fn is_on(&self) -> bool {
        self.depth > 0
    }

    /// The oldest block it can undo.
    pub(crate) fn floor(&self) -> u64 {
        self.floor
    }

    /// The newest block at or before `block` whose hash (from its head) or hash tag (from its
    /// logs) the journal knows: `(number, hash or zeros, tag)`.
    pub(crate) fn newest_known(&self, block: u64) -> Option<(u64, [u8; 32], u32)> {
        self.marks
            .items
            .iter()
            .rev()
            .filter(|m| m.number <= block && (m.hash != ZERO_HASH || m.tag != 0))
            .map(|m| (m.number, m.hash, m.tag))
            .next()
    }

    fn mark(&self, block: u64) -> Option<&Mark> {
        self.marks.items.iter().rev().find(|m| m.number == block)
    }

    /// A frame of the chain at `block`: a log with block hash tag `tag` (0: unknown), or a head
    /// with `head = (hash, parent hash)` (zeros: unknown). Whether it shows that the journal
    /// holds blocks of another chain.
    pub(crate) fn check(
        &self,
        block: u64,
        tag: u32,
        head: Option<(&[u8; 32], &[u8; 32])>,
    ) -> Check {
        if !self.is_on() {
            return Check::Same;
        }
        // A block seen through logs without a hash may hold the new chain's logs under the old
        // block's head (a reorg whose removed logs came first): trust a hash compared against
        // it only while no removed log has undone anything since the last head.
        let trusted = |m: &Mark| !m.untagged || self.recent_undo.is_none();
        let mut found = Check::Same;
        if let Some(m) = self.mark(block) {
            let by_hash = head.is_some_and(|(h, _)| {
                *h != ZERO_HASH && m.hash != ZERO_HASH && m.hash != *h && trusted(m)
            });
            let by_tag = tag != 0 && m.tag != 0 && m.tag != tag && (head.is_none() || trusted(m));
            if by_hash || by_tag {
                found = Check::Replaced(block);
            }
        }
        if let Some((_, parent)) = head
            && *parent != ZERO_HASH
            && let Some(m) = block.checked_sub(1).and_then(|b| self.mark(b))
        {
            let differs = if m.hash != ZERO_HASH {
                m.hash != *parent
            } else {
                m.tag != 0 && m.tag != block_tag(parent)
            };
            if differs && trusted(m) {
                found = Check::ForkUnknown(m.number);
            }
        }
        found
    }

    /// A head was seen: removed logs from now on belong to a new reorg.
    pub(crate) fn head_seen(&mut self) {
        self.recent_undo = None;
        self.beyond_low = NONE;
        for &p in &self.beyond {
            if let Some(f) = self.in_beyond.get_mut(p as usize) {
                *f = false;
            }
        }
        self.beyond.clear();
    }

    /// A removed log of pool `id` in `block`, older than the journal reaches: notes the pool and
    /// returns the oldest such block since the last head (where the pools must go back to:
    /// the fork is at or before it), and whether this log lowered it (then every pool noted
    /// before must go back further too: [`Journal::beyond_pools`]).
    pub(crate) fn note_beyond(&mut self, id: PoolId, block: u64) -> (u64, bool) {
        if let Some(f) = self.in_beyond.get_mut(id as usize)
            && !*f
        {
            *f = true;
            self.beyond.push(id);
        }
        let lowered = self.beyond_low == NONE || block < self.beyond_low;
        if lowered {
            self.beyond_low = block;
        }
        (self.beyond_low, lowered)
    }

    /// The pools [`Journal::note_beyond`] noted since the last head.
    pub(crate) fn beyond_pools(&self) -> &[PoolId] {
        &self.beyond
    }

    /// A removed log of `block` whose block hash tag is `tag` (0: unknown).
    pub(crate) fn removed(&self, block: u64, tag: u32) -> Removal {
        if !self.is_on() || block < self.floor {
            return Removal::Beyond;
        }
        if tag != 0
            && let Some(m) = self.mark(block)
            && m.tag != 0
        {
            return if m.tag == tag {
                Removal::Undo(block)
            } else {
                Removal::AlreadyUndone
            };
        }
        match self.recent_undo {
            Some(u) if block >= u => Removal::AlreadyUndone,
            _ => Removal::Undo(block),
        }
    }

    /// A removed log older than the journal: where to undo from first (everything the journal
    /// holds is of the old chain too), unless that was undone since the last head.
    pub(crate) fn beyond_undo_from(&self) -> Option<u64> {
        if !self.is_on() {
            return None;
        }
        match self.recent_undo {
            Some(u) if u <= self.floor => None,
            _ => Some(self.floor),
        }
    }

    /// Opens `block` before a frame of the chain is applied: its mark (with the engine's
    /// `clock` before it), the hash or tag the frame gives it, and the blocks that fall past
    /// the depth.
    pub(crate) fn begin(
        &mut self,
        block: u64,
        tag: u32,
        hash: Option<&[u8; 32]>,
        clock: Clock,
        stats: &mut EngineStats,
    ) {
        if !self.is_on() || block < self.floor {
            return;
        }
        let newest = self.marks.items.back().map(|m| m.number);
        let at = match newest {
            Some(n) if block <= n => {
                match self.marks.items.iter().rposition(|m| m.number <= block) {
                    Some(i) if self.marks.items[i].number == block => i,
                    // A block older than the newest one (logs out of block order): its clock
                    // before is the next block's.
                    other => {
                        let i = other.map_or(0, |i| i + 1);
                        let before = self.marks.items[i].before;
                        if self.marks.is_full() && !self.give_up_oldest(block, stats) {
                            return;
                        }
                        let i = self
                            .marks
                            .items
                            .iter()
                            .take_while(|m| m.number < block)
                            .count();
                        self.marks.items.insert(i, Mark::new(block, before));
                        i
                    }
                }
            }
            _ => {
                // A new newest block: the ones past the depth are final.
                let floor = block.saturating_sub(self.depth - 1);
                if floor > self.floor {
                    self.floor = floor;
                    self.trim();
                }
                if self.marks.is_full() && !self.give_up_oldest(block, stats) {
                    return;
                }
                self.marks.items.push_back(Mark::new(block, clock));
                self.marks.items.len() - 1
            }
        };
        let Some(m) = self.marks.items.get_mut(at) else {
            return;
        };
        if let Some(h) = hash
            && *h != ZERO_HASH
        {
            m.hash = *h;
        }
        if tag != 0 {
            if m.tag == 0 {
                m.tag = tag;
            }
        } else if hash.is_none() {
            m.untagged = true;
        }
    }

    fn trim(&mut self) {
        let floor = self.floor;
        while self.marks.items.front().is_some_and(|m| m.number < floor) {
            self.marks.items.pop_front();
        }
        self.pools.trim(floor);
        self.ticks.trim(floor);
        self.models.trim(floor);
        self.holds.trim(floor);
    }

    /// Out of room while recording `block`: gives up the oldest block if it is older, else
    /// `block` itself and everything before it (false: nothing of `block` is kept).
    fn give_up_oldest(&mut self, block: u64, stats: &mut EngineStats) -> bool {
        stats.reorg_journal_full += 1;
        let oldest = [
            self.marks.items.front().map(|m| m.number),
            self.pools.items.front().map(|e| e.block),
            self.ticks.items.front().map(|e| e.block),
            self.models.items.front().map(|e| e.block),
            self.holds.items.front().map(|e| e.block),
        ]
        .into_iter()
        .flatten()
        .min();
        match oldest {
            Some(o) if o < block => {
                self.floor = o + 1;
                self.trim();
                true
            }
            _ => {
                self.floor = block + 1;
                self.trim();
                // Entries of older blocks out of order, if any.
                self.pools.items.clear();
                self.ticks.items.clear();
                self.models.items.clear();
                self.holds.items.clear();
                false
            }
        }
    }

    /// Room for one more entry of `block` in the queue `full` says is full; false if `block`
    /// cannot be kept.
    fn room(&mut self, full: fn(&Self) -> bool, block: u64, stats: &mut EngineStats) -> bool {
        while full(self) {
            if !self.give_up_oldest(block, stats) {
                return false;
            }
        }
        block >= self.floor
    }

    /// A log of pool `id` of `block` with block hash tag `tag` came (applied or not): notes it
    /// if it has no tag and `block`'s head came first.
    pub(crate) fn note_log(&mut self, id: PoolId, block: u64, tag: u32) {
        if tag != 0 || !self.is_on() || block < self.floor {
            return;
        }
        let after_head = self.mark(block).is_some_and(|m| m.hash != ZERO_HASH);
        if let Some(s) = self.suspect.get_mut(id as usize)
            && after_head
            && (*s == NONE || *s < block)
        {
            *s = block;
        }
    }

    /// A log of `block` is about to change pool `id`: keeps the pool's state (and its fee
    /// model's) from before the block's first change of it.
    pub(crate) fn touch(&mut self, pools: &Pools, id: PoolId, block: u64, stats: &mut EngineStats) {
        if !self.is_on() || block < self.floor {
            return;
        }
        let Some(&seen) = self.imaged.get(id as usize) else {
            return;
        };
        if seen == block {
            return;
        }
        let Some(image) = pools.image(id) else {
            return;
        };
        if !self.room(|j| j.pools.is_full(), block, stats) {
            return;
        }
        self.pools.items.push_back(Entry { block, item: image });
        if let Some(image) = pools.model_image(id) {
            if !self.room(|j| j.models.is_full(), block, stats) {
                return;
            }
            self.models.items.push_back(Entry {
                block,
                item: ModelEntry { id, image },
            });
        }
        self.imaged[id as usize] = block;
    }

    /// A Mint or Burn of `block` changed `tick` of pool `id`, which was `before`.
    pub(crate) fn tick(
        &mut self,
        id: PoolId,
        block: u64,
        tick: i32,
        before: Option<(i128, u128)>,
        stats: &mut EngineStats,
    ) {
        if !self.is_on() || block < self.floor || !self.room(|j| j.ticks.is_full(), block, stats) {
            return;
        }
        self.ticks.items.push_back(Entry {
            block,
            item: TickEntry { id, tick, before },
        });
    }

    /// A frame of `block` ended pool `id`'s hold.
    pub(crate) fn hold(&mut self, id: PoolId, block: u64, held: Held, stats: &mut EngineStats) {
        if !self.is_on() || block < self.floor || !self.room(|j| j.holds.is_full(), block, stats) {
            return;
        }
        self.holds.items.push_back(Entry {
            block,
            item: HoldEntry { id, held },
        });
    }

    /// A removed log of pool `id` that the journal cannot undo: no image of the pool may bring
    /// back a state fresher than `stale`, a position after `at`, or its fee model.
    pub(crate) fn taint(&mut self, id: PoolId, stale: Staleness, at: (u64, u32)) {
        for e in self.pools.items.iter_mut().filter(|e| e.item.id == id) {
            e.item.taint(stale, at);
        }
        self.models.items.retain(|e| e.item.id != id);
    }

    /// Undoes every change of block `from` and later, newest first, so the pools are as they
    /// were at the end of block `from − 1` (or of the oldest block kept, if `from` is older);
    /// calls `hold` with each hold those blocks ended, newest first. The changed pools are in
    /// [`Journal::changed`], those whose chain was in doubt in [`Journal::doubtful`].
    pub(crate) fn undo(
        &mut self,
        from: u64,
        pools: &mut Pools,
        mut hold: impl FnMut(PoolId, Held),
    ) -> Undone {
        let from = from.max(self.floor);
        let mut out = Undone::default();
        for &p in &self.changed {
            if let Some(f) = self.in_changed.get_mut(p as usize) {
                *f = false;
            }
        }
        self.changed.clear();
        self.doubtful.clear();
        self.recent_undo = Some(self.recent_undo.map_or(from, |u| u.min(from)));
        if !self.is_on() {
            return out;
        }
        out.blocks = self.marks.items.iter().filter(|m| m.number >= from).count() as u64;
        out.clock = self
            .marks
            .items
            .iter()
            .find(|m| m.number >= from)
            .map(|m| m.before);
        // The changed pools in order of first change, then the images newest first.
        for e in self.pools.items.iter().filter(|e| e.block >= from) {
            let id = e.item.id;
            if let Some(f) = self.in_changed.get_mut(id as usize)
                && !*f
            {
                *f = true;
                self.changed.push(id);
            }
        }
        for (id, s) in (0..).zip(self.suspect.iter_mut()) {
            if *s != NONE && *s >= from {
                *s = NONE;
                self.doubtful.push(id);
            }
        }
        for e in self.pools.items.iter().rev().filter(|e| e.block >= from) {
            pools.restore_image(&e.item);
            if let Some(seen) = self.imaged.get_mut(e.item.id as usize) {
                *seen = NONE;
            }
            out.entries += 1;
        }
        self.pools.items.retain(|e| e.block < from);
        for e in self.ticks.items.iter().rev().filter(|e| e.block >= from) {
            let t = &e.item;
            pools.restore_tick(t.id, t.tick, t.before);
            out.entries += 1;
        }
        self.ticks.items.retain(|e| e.block < from);
        for e in self.models.items.iter().rev().filter(|e| e.block >= from) {
            pools.restore_model(e.item.id, &e.item.image);
            out.entries += 1;
        }
        self.models.items.retain(|e| e.block < from);
        for e in self.holds.items.iter().rev().filter(|e| e.block >= from) {
            hold(e.item.id, e.item.held);
            out.entries += 1;
        }
        self.holds.items.retain(|e| e.block < from);
        self.marks.items.retain(|m| m.number < from);
        out
    }

    /// The pools the last [`Journal::undo`] changed, in order of their first change.
    pub(crate) fn changed(&self) -> &[PoolId] {
        &self.changed
    }

    /// The pools a log without a block hash came for after its block's head, in the blocks the
    /// last undo took back: from a head's point of view, possibly logs of the new chain.
    pub(crate) fn doubtful(&self) -> &[PoolId] {
        &self.doubtful
    }
}

impl Mark {
    fn new(number: u64, before: Clock) -> Self {
        Self {
            number,
            hash: ZERO_HASH,
            tag: 0,
            untagged: false,
            before,
        }
    }
}
