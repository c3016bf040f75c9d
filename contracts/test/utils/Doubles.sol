// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

// Test doubles for the funding, guard and invariant tests of the executor. None of them is
// protocol code and none stands in for a protocol in a test of the happy path: those run against
// the real npm bytecode (Uniswap V2 / Pancake pairs, Uniswap V3 and Algebra pools, the Balancer V2
// Vault, the Aave V3 Pool). Each double stands for a lender, pool or token that misbehaves in a
// way the real bytecode never does, to show what the executor refuses.

interface IDoubleToken {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// Calls `target` with `data` and re-throws its revert unchanged, so a test sees the executor's
/// own error through the double.
function callOrBubble(address target, bytes memory data) {
    (bool ok, bytes memory ret) = target.call(data);
    if (!ok) {
        assembly {
            revert(add(ret, 0x20), mload(ret))
        }
    }
}

/// Test double: a lender of every shape the executor borrows from, misbehaving as `mode` says.
/// It answers the Balancer V2 Vault's `flashLoan`, the Aave V3 Pool's `flashLoanSimple`, and a
/// route's first hop asked for a flash swap, both as a Uniswap V2 pair (`swap(uint,uint,address,
/// bytes)`, calling `uniswapV2Call`) and as a Uniswap V3 pool (`swap(address,bool,int256,uint160,
/// bytes)`, calling `uniswapV3SwapCallback`). When it lends it sends real tokens it holds, charges
/// no fee, and does not check that it was repaid (the executor's own checks are under test).
contract FakeLender {
    enum Mode {
        Silent, // returns without calling back
        Honest, // lends, then calls back once with exactly what it was handed
        Unpaid, // calls back as Honest but never sends the loan or the swap's output
        OtherPayload, // calls back with the payload's last byte changed
        Twice, // lends, then calls back twice with what it was handed
        OtherInitiator, // Aave shape: names itself, not the borrower, as the initiator
        OtherSender, // V2 shape: `uniswapV2Call`'s sender is this contract, not the borrower
        WrongKind // calls the Aave callback from `flashLoan` and the Balancer one from the others
    }

    address public immutable token0;
    address public immutable token1;
    Mode public mode;

    constructor(address t0, address t1) {
        (token0, token1) = (t0, t1);
    }

    function setMode(Mode m) external {
        mode = m;
    }

    /// Balancer V2 Vault shape.
    function flashLoan(address recipient, address[] calldata tokens, uint256[] calldata amounts, bytes calldata data)
        external
    {
        if (mode == Mode.Silent) return;
        if (mode != Mode.Unpaid) pay(tokens[0], recipient, amounts[0]);
        if (mode == Mode.WrongKind) {
            callOrBubble(recipient, aaveCallback(tokens[0], amounts[0], recipient, data));
            return;
        }
        bytes memory cb = abi.encodeWithSignature(
            "receiveFlashLoan(address[],uint256[],uint256[],bytes)", tokens, amounts, new uint256[](1), payload(data)
        );
        callOrBubble(recipient, cb);
        if (mode == Mode.Twice) callOrBubble(recipient, cb);
    }

    /// Aave V3 Pool shape. Pulls back what the borrower approved when it lent.
    function flashLoanSimple(address receiver, address asset, uint256 amount, bytes calldata data, uint16) external {
        if (mode == Mode.Silent) return;
        if (mode != Mode.Unpaid) pay(asset, receiver, amount);
        if (mode == Mode.WrongKind) {
            callOrBubble(receiver, balancerCallback(asset, amount, data));
            return;
        }
        address initiator = mode == Mode.OtherInitiator ? address(this) : msg.sender;
        bytes memory cb = abi.encodeWithSignature(
            "executeOperation(address,uint256,uint256,address,bytes)", asset, amount, 0, initiator, payload(data)
        );
        callOrBubble(receiver, cb);
        if (mode == Mode.Twice) callOrBubble(receiver, cb);
        if (mode != Mode.Unpaid) {
            require(IDoubleToken(asset).transferFrom(receiver, address(this), amount), "FakeLender: pull");
        }
    }

    /// Uniswap V2 pair shape, as a route's first hop asked for a flash swap.
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external {
        if (mode == Mode.Silent) return;
        if (mode != Mode.Unpaid) {
            pay(amount0Out > 0 ? token0 : token1, to, amount0Out > 0 ? amount0Out : amount1Out);
        }
        if (mode == Mode.WrongKind) {
            callOrBubble(to, balancerCallback(token0, amount0Out + amount1Out, data));
            return;
        }
        address sender = mode == Mode.OtherSender ? address(this) : msg.sender;
        bytes memory cb = abi.encodeWithSignature(
            "uniswapV2Call(address,uint256,uint256,bytes)", sender, amount0Out, amount1Out, payload(data)
        );
        callOrBubble(to, cb);
        if (mode == Mode.Twice) callOrBubble(to, cb);
    }

    /// Uniswap V3 pool shape, as a route's first hop asked for a flash swap: reports paying one
    /// unit of output (a hop declaring 1 passes the executor's HopShort check) and, unless Silent,
    /// asks for the whole input in its callback.
    function swap(address, bool zeroForOne, int256 amountSpecified, uint160, bytes calldata data)
        external
        returns (int256 amount0, int256 amount1)
    {
        (amount0, amount1) = zeroForOne ? (amountSpecified, int256(-1)) : (int256(-1), amountSpecified);
        if (mode == Mode.Silent) return (amount0, amount1);
        (int256 d0, int256 d1) = zeroForOne ? (amountSpecified, int256(0)) : (int256(0), amountSpecified);
        callOrBubble(
            msg.sender, abi.encodeWithSignature("uniswapV3SwapCallback(int256,int256,bytes)", d0, d1, payload(data))
        );
    }

    function pay(address token, address to, uint256 amount) internal {
        require(IDoubleToken(token).transfer(to, amount), "FakeLender: lend");
    }

    /// The payload to hand back: as received, or with its last byte changed.
    function payload(bytes calldata data) internal view returns (bytes memory p) {
        p = data;
        if (mode == Mode.OtherPayload && p.length > 0) p[p.length - 1] = bytes1(uint8(p[p.length - 1]) ^ 1);
    }

    function aaveCallback(address asset, uint256 amount, address initiator, bytes calldata data)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSignature(
            "executeOperation(address,uint256,uint256,address,bytes)", asset, amount, 0, initiator, data
        );
    }

    function balancerCallback(address token, uint256 amount, bytes calldata data) internal pure returns (bytes memory) {
        address[] memory tokens = new address[](1);
        tokens[0] = token;
        uint256[] memory amounts = new uint256[](1);
        amounts[0] = amount;
        return abi.encodeWithSignature(
            "receiveFlashLoan(address[],uint256[],uint256[],bytes)", tokens, amounts, new uint256[](1), data
        );
    }
}

/// Test double: a contract posing as a Uniswap V3 pool (token0, token1, swap) in a route's later
/// hop, with whatever token claims it was built with. In `swap` it first makes the call it was
/// given, if any (to the executor or to a lender, re-throwing its revert), then asks the caller
/// for the whole input through `uniswapV3SwapCallback`, pays nothing, and reports paying one unit
/// of output (so a hop declaring 1 passes the executor's HopShort check and the route reaches the
/// executor's balance checks).
contract PosingPool {
    address public immutable token0;
    address public immutable token1;
    address public target;
    bytes public forged;

    constructor(address t0, address t1) {
        (token0, token1) = (t0, t1);
    }

    /// Makes `swap` call `target_` with `data` first.
    function forge(address target_, bytes calldata data) external {
        (target, forged) = (target_, data);
    }

    function swap(address, bool zeroForOne, int256 amountSpecified, uint160, bytes calldata)
        external
        returns (int256 amount0, int256 amount1)
    {
        if (target != address(0)) callOrBubble(target, forged);
        (int256 d0, int256 d1) = zeroForOne ? (amountSpecified, int256(0)) : (int256(0), amountSpecified);
        callOrBubble(msg.sender, abi.encodeWithSignature("uniswapV3SwapCallback(int256,int256,bytes)", d0, d1, ""));
        (amount0, amount1) = zeroForOne ? (amountSpecified, int256(-1)) : (int256(-1), amountSpecified);
    }
}

/// Test double: a contract posing as a pool whose `token0()` answers `claimFirst` until its `swap`
/// has run once and `claimThen` afterwards; `token1()` is always `out`. It is both hops of a two-hop
/// route, asked once before its first swap (when the executor lists the tokens it guards) and
/// again after it (when the executor pays the second hop's input):
///   V3 shape: hop 1 (input token1 = the start token) asks for nothing and reports an output of
///     `claim`; hop 2 (zeroForOne, input token0) asks for its whole input through
///     `uniswapV3SwapCallback`, pays nothing and reports one unit of output.
///   V2 shape: as the flash-swap lender (hop 1, non-empty data) it calls `uniswapV2Call` paying
///     nothing; as hop 2 (empty data) it pays the asked output of `out` from its own balance,
///     funded by the test, so the start token does not fall.
contract TwoFacedPool {
    address public immutable claimFirst;
    address public immutable claimThen;
    address public immutable out;
    uint256 public immutable claim;
    bool public swapped;

    constructor(address claimFirst_, address claimThen_, address out_, uint256 claim_) {
        (claimFirst, claimThen, out, claim) = (claimFirst_, claimThen_, out_, claim_);
    }

    function token0() external view returns (address) {
        return swapped ? claimThen : claimFirst;
    }

    function token1() external view returns (address) {
        return out;
    }

    function swap(address, bool zeroForOne, int256 amountSpecified, uint160, bytes calldata)
        external
        returns (int256 amount0, int256 amount1)
    {
        if (!swapped) {
            swapped = true;
            // casting to 'int256' is safe because the claim is a test constant below 2^255
            // forge-lint: disable-next-line(unsafe-typecast)
            return zeroForOne ? (int256(0), -int256(claim)) : (-int256(claim), int256(0));
        }
        callOrBubble(
            msg.sender, abi.encodeWithSignature("uniswapV3SwapCallback(int256,int256,bytes)", amountSpecified, 0, "")
        );
        return (amountSpecified, -1);
    }

    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external {
        if (data.length > 0) {
            swapped = true;
            callOrBubble(
                to,
                abi.encodeWithSignature(
                    "uniswapV2Call(address,uint256,uint256,bytes)", msg.sender, amount0Out, amount1Out, data
                )
            );
            return;
        }
        require(IDoubleToken(out).transfer(to, amount0Out + amount1Out), "TwoFacedPool: pay");
    }
}

/// Test double: a fee-on-transfer ERC20 (as some deflationary tokens are): every transfer burns
/// 1 % of the amount, so the recipient gets 99 %. Only what V2 pairs and the executor call.
contract FeeOnTransferToken {
    uint256 public constant FEE_PERCENT = 1;
    mapping(address => uint256) public balanceOf;

    constructor(uint256 supply) {
        balanceOf[msg.sender] = supply;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        require(balanceOf[msg.sender] >= amount, "FeeOnTransferToken: balance");
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount - amount * FEE_PERCENT / 100;
        return true;
    }
}
