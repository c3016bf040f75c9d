//! `encode_run` against alloy's packed encoding of the same call (`polyarb_tools::abi`).

use alloy_primitives::Address;
use polyarb_core::{
    CALLDATA_MAX, Engine, Funding, Hop, MAX_HOPS, MIN_HOPS, OpportunityFrame, RUN_SELECTOR,
    SearchParams, calldata_len, encode_run,
};
use polyarb_tools::abi::{IExecutor, RunPayload, run_calldata};
use proptest::prelude::*;

use alloy_sol_types::SolCall;

use crate::common::*;

/// The `hops` part as `docs/executor.md` specifies it, built independently of the engine.
fn packed_hops(opp: &OpportunityFrame) -> Vec<u8> {
    let mut v = Vec::new();
    for h in opp.hops() {
        v.extend_from_slice(&h.pool);
        // flags: bit 0 zeroForOne, bits 1-2 the pool kind (0 V2, 1 V3, 2 Algebra).
        v.push(h.zero_for_one | h.kind << 1);
        v.extend_from_slice(&h.amount_out.to_be_bytes());
    }
    v
}

#[test]
fn selector_matches_sol() {
    assert_eq!(RUN_SELECTOR, IExecutor::runCall::SELECTOR);
}

proptest! {
    #[test]
    fn calldata_is_byte_identical_to_alloys_packing(
        token in any::<[u8; 20]>(),
        amount_in in any::<u128>(),
        min_profit in any::<u128>(),
        funding in 0u8..4,
        hops in prop::collection::vec(
            (any::<[u8; 20]>(), any::<bool>(), 0u8..3, any::<u128>()),
            MIN_HOPS..=MAX_HOPS,
        ),
    ) {
        let mut opp = OpportunityFrame::EMPTY;
        opp.token_in = token;
        opp.amount_in = amount_in;
        opp.funding = funding;
        opp.hop_count = u8::try_from(hops.len()).unwrap();
        for (slot, (pool, zfo, kind, out)) in opp.hops.iter_mut().zip(&hops) {
            *slot = Hop {
                amount_out: *out,
                pool: *pool,
                zero_for_one: u8::from(*zfo),
                kind: *kind,
                ..Hop::default()
            };
        }
        let mut buf = [0x5Au8; CALLDATA_MAX];
        let len = encode_run(&opp, min_profit, &mut buf).unwrap();
        prop_assert_eq!(len, calldata_len(hops.len()));
        let alloy = run_calldata(funding, Address::from(token), amount_in, min_profit, &packed_hops(&opp));
        prop_assert_eq!(&buf[..len], &alloy[..]);
    }
}

#[test]
fn an_engine_opportunity_round_trips_through_decoding() {
    let (spec, mut model) = market(&[Q_MATIC_USDC_POOL, Q_WETH_MATIC_POOL, P_WETH_USDC_POOL]);
    let mut e = Engine::new(&spec, SearchParams::new(WMATIC, vec![USDC])).unwrap();
    let f = sync_model(
        &mut model,
        P_WETH_USDC,
        SNAPSHOT + 1,
        0,
        (WETH, 400 * units(18)),
        (USDC, 760_000 * units(6)),
    );
    let opp = e.on_frame(&f).first().copied().expect("an opportunity");
    let mut buf = [0u8; CALLDATA_MAX];
    let len = encode_run(&opp, opp.profit / 2, &mut buf).unwrap();
    let call = RunPayload::decode(&buf[..len]).unwrap();
    assert_eq!(call.funding, Funding::Capital as u8);
    assert_eq!(call.token_in, USDC);
    assert_eq!(call.amount_in, opp.amount_in);
    assert_eq!(call.min_profit, opp.profit / 2);
    assert_eq!(call.hops.len(), 3 * 37);
    for (chunk, h) in call.hops.chunks_exact(37).zip(opp.hops()) {
        assert_eq!(Address::from_slice(&chunk[..20]), Address::from(h.pool));
        assert_eq!(chunk[20], h.zero_for_one | h.kind << 1);
        assert_eq!(
            u128::from_be_bytes(chunk[21..].try_into().unwrap()),
            h.amount_out
        );
    }
}
