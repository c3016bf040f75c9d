//! Starts a throw-away anvil node and kills it on drop.

use std::{
    fmt,
    io::Read,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, address};

use crate::{
    paths::{MissingError, Toolchain},
    rpc::{Rpc, RpcError},
};

/// Anvil's first dev accounts (mnemonic "test test test test test test test test test test test
/// junk", path m/44'/60'/0'/0/i) and their private keys. These keys are public knowledge, printed
/// by every anvil and hardhat node; they hold nothing outside a local dev chain.
pub const DEV_ACCOUNTS: [(Address, &str); 5] = [
    (
        address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    ),
    (
        address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    ),
    (
        address!("3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
        "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    ),
    (
        address!("90F79bf6EB2c4f870365E785982E1f101E93b906"),
        "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    ),
    (
        address!("15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
        "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    ),
];

/// How to start anvil.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnvilOpts {
    /// `--chain-id` (Polygon's 137 by default).
    pub chain_id: u64,
    /// `--no-mining`: blocks only on `evm_mine`.
    pub no_mining: bool,
    /// `--base-fee`: the first block's base fee, wei.
    pub base_fee_wei: Option<u128>,
    /// `--balance`: each dev account's balance, ether.
    pub balance_ether: Option<u64>,
    /// `--accounts`: how many dev accounts.
    pub accounts: Option<u32>,
    /// Anything else, passed as is.
    pub extra_args: Vec<String>,
    /// How long to wait for JSON-RPC to answer.
    pub startup_timeout: Duration,
}

impl Default for AnvilOpts {
    fn default() -> Self {
        Self {
            chain_id: 137,
            no_mining: false,
            base_fee_wei: None,
            balance_ether: None,
            accounts: None,
            extra_args: Vec::new(),
            startup_timeout: Duration::from_secs(30),
        }
    }
}

/// Why anvil could not be started.
#[derive(Debug)]
pub enum AnvilError {
    /// The binary is not installed.
    Missing(MissingError),
    /// No free local port could be had.
    Port(std::io::Error),
    /// The process could not be spawned.
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The process ended before answering.
    Exited { status: String, stderr: String },
    /// It did not answer in time.
    Timeout { waited: Duration, stderr: String },
    /// It answered, but not as expected.
    Rpc(RpcError),
    /// It runs another chain id than asked for.
    ChainId { want: u64, got: u64 },
}

impl fmt::Display for AnvilError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(e) => e.fmt(f),
            Self::Port(e) => write!(f, "no free local port: {e}"),
            Self::Spawn { path, source } => write!(f, "cannot start {}: {source}", path.display()),
            Self::Exited { status, stderr } => {
                write!(
                    f,
                    "anvil exited ({status}) before answering: {}",
                    stderr.trim()
                )
            }
            Self::Timeout { waited, stderr } => write!(
                f,
                "anvil did not answer within {} ms: {}",
                waited.as_millis(),
                stderr.trim()
            ),
            Self::Rpc(e) => write!(f, "anvil: {e}"),
            Self::ChainId { want, got } => write!(f, "anvil runs chain id {got}, asked for {want}"),
        }
    }
}

impl std::error::Error for AnvilError {}

impl From<MissingError> for AnvilError {
    fn from(e: MissingError) -> Self {
        Self::Missing(e)
    }
}

/// A running anvil. Dropping it kills the process.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    port: u16,
    chain_id: u64,
    accounts: Vec<Address>,
}

/// Ports are picked by binding port 0 and letting go, so another process may take the port
/// between; anvil then fails to bind and we try again with another.
const START_ATTEMPTS: usize = 5;

impl Anvil {
    /// Starts the toolchain's anvil (see [`Toolchain::locate`]).
    pub fn start(opts: AnvilOpts) -> Result<Self, AnvilError> {
        Self::start_in(&Toolchain::locate(), opts)
    }

    /// Starts the anvil of `toolchain`.
    pub fn start_in(toolchain: &Toolchain, opts: AnvilOpts) -> Result<Self, AnvilError> {
        let path = toolchain.anvil()?;
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&path, &opts) {
                Ok(anvil) => return Ok(anvil),
                Err(AnvilError::Exited { status, stderr }) if stderr.contains("in use") => {
                    last = Some(AnvilError::Exited { status, stderr });
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(AnvilError::Port(std::io::ErrorKind::AddrInUse.into())))
    }

    fn try_start(path: &PathBuf, opts: &AnvilOpts) -> Result<Self, AnvilError> {
        let port = free_port().map_err(AnvilError::Port)?;
        let mut cmd = Command::new(path);
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--chain-id", &opts.chain_id.to_string(), "--silent"]);
        if opts.no_mining {
            cmd.arg("--no-mining");
        }
        if let Some(fee) = opts.base_fee_wei {
            cmd.args(["--base-fee", &fee.to_string()]);
        }
        if let Some(balance) = opts.balance_ether {
            cmd.args(["--balance", &balance.to_string()]);
        }
        if let Some(n) = opts.accounts {
            cmd.args(["--accounts", &n.to_string()]);
        }
        cmd.args(&opts.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|source| AnvilError::Spawn {
            path: path.clone(),
            source,
        })?;
        let stderr = drain(child.stderr.take());
        let mut anvil = Self {
            child,
            port,
            chain_id: opts.chain_id,
            accounts: Vec::new(),
        };
        // From here on an early return drops `anvil`, which kills the process.
        let rpc = anvil.rpc();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = anvil.child.try_wait() {
                // Let the drain thread catch the last words.
                thread::sleep(Duration::from_millis(20));
                return Err(AnvilError::Exited {
                    status: status.to_string(),
                    stderr: text(&stderr),
                });
            }
            match rpc.chain_id() {
                Ok(got) if got == opts.chain_id => break,
                Ok(got) => {
                    return Err(AnvilError::ChainId {
                        want: opts.chain_id,
                        got,
                    });
                }
                Err(RpcError::Transport { .. }) if start.elapsed() < opts.startup_timeout => {
                    thread::sleep(Duration::from_millis(20));
                }
                Err(RpcError::Transport { .. }) => {
                    return Err(AnvilError::Timeout {
                        waited: start.elapsed(),
                        stderr: text(&stderr),
                    });
                }
                Err(e) => return Err(AnvilError::Rpc(e)),
            }
        }
        anvil.accounts = rpc.accounts().map_err(AnvilError::Rpc)?;
        Ok(anvil)
    }

    /// The local port it listens on (HTTP and websocket).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The chain id it runs.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// `http://127.0.0.1:PORT`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// A JSON-RPC client for it.
    pub fn rpc(&self) -> Rpc {
        Rpc::new(self.http_url())
    }

    /// The unlocked dev accounts, as `eth_accounts` listed them at start.
    pub fn accounts(&self) -> &[Address] {
        &self.accounts
    }

    /// The private key (hex) of dev account `i`, if it is one of the well-known ones and the
    /// node really uses it.
    pub fn dev_key(&self, i: usize) -> Option<&'static str> {
        let (addr, key) = DEV_ACCOUNTS.get(i)?;
        (self.accounts.get(i) == Some(addr)).then_some(*key)
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        // Kill fails only if it has already exited; either way reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Reads a child's stderr in the background (so it can never block on a full pipe), keeping the
/// first 16 KiB for error messages.
fn drain(stderr: Option<std::process::ChildStderr>) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    if let Some(mut stderr) = stderr {
        let keep = Arc::clone(&buf);
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut chunk) {
                if let Ok(mut b) = keep.lock() {
                    let room = (16 * 1024usize).saturating_sub(b.len());
                    b.extend_from_slice(&chunk[..n.min(room)]);
                }
            }
        });
    }
    buf
}

fn text(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    buf.lock()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
