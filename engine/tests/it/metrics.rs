//! The Prometheus endpoint on a real node (docs/metrics.md): what `GET /metrics` says after a
//! mined route agrees with the run and the node, `promtool check metrics` (Debian's prometheus
//! package) accepts it, and bad requests and a port in use get clear answers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy_primitives::U256;

use crate::e2e::Polyarb;
use crate::risk::{gap, mined, setup};

/// A port nobody listens on now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `request` sent raw to `port`; the whole answer.
fn http(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The value of the sample line starting with `name ` (labels included in `name`).
fn value(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{body}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn metrics_agree_with_the_run_and_the_node_and_promtool_accepts_them() {
    let port = free_port();
    let s = setup(
        "metrics",
        &format!(
            "[metrics]\nlisten = \"127.0.0.1:{port}\"\nbalance_refresh_ms = 500\n\
             [journal]\nreceipt_poll_ms = 50"
        ),
    );
    let (polyarb, _journal) = crate::risk::start_journaled(&s);
    let rpc = s.node.rpc();
    let first = gap(&s, &polyarb, 1);
    assert!(mined(&rpc, &first));
    // Every route so far mined and its receipt seen, then a scrape.
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let opps = polyarb.opportunities();
        for o in &opps {
            mined(&rpc, o);
        }
        std::thread::sleep(Duration::from_millis(700));
        let answer = http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
        let body = body.to_owned();
        let signed = opps.iter().filter(|o| o.get("tx_hash").is_some()).count() as f64;
        // Every signed route has its receipt (a follow-up route may revert on a state another
        // moved: it counts as a receipt too).
        let receipts = ["success", "reverted"]
            .iter()
            .map(|st| {
                let name = format!("polyarb_receipts_total{{status=\"{st}\"}} ");
                body.lines()
                    .find_map(|l| l.strip_prefix(&name))
                    .map_or(0.0, |v| v.trim().parse::<f64>().unwrap())
            })
            .sum::<f64>();
        if polyarb.opportunities().len() == opps.len()
            && value(&body, "polyarb_opportunities_total") == opps.len() as f64
            && receipts == signed
        {
            assert_eq!(value(&body, "polyarb_signed_total"), signed);
            // Each signed route was written once: one submission sample each, every one
            // under the +Inf bucket, none larger than the run.
            assert_eq!(value(&body, "polyarb_submission_seconds_count"), signed);
            assert_eq!(
                value(&body, "polyarb_submission_seconds_bucket{le=\"+Inf\"}"),
                signed
            );
            assert!(value(&body, "polyarb_submission_seconds_sum") > 0.0);
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never caught up:\n{body}"
        );
    };
    assert_eq!(value(&body, "polyarb_in_flight"), 0.0);
    assert_eq!(value(&body, "polyarb_sending_stopped"), 0.0);
    assert!(value(&body, "polyarb_feed_heads") >= 1.0);
    assert!(value(&body, "polyarb_feed_head_age_seconds") >= 0.0);
    assert!(value(&body, "polyarb_detection_seconds_count") >= 1.0);
    // The executor's WMATIC, as the node has it (read by the metrics thread at most 0.5 s ago;
    // nothing moved it since the routes settled).
    let w = s.world.token("WMATIC").unwrap();
    let raw: U256 = crate::e2e::balance_at(
        &rpc,
        s.world.tokens[w].address,
        s.world.executor.unwrap(),
        rpc.block_number().unwrap(),
    );
    let want = f64::from(raw) / 1e18;
    let got = value(&body, "polyarb_executor_balance{token=\"WMATIC\"}");
    assert!((got - want).abs() <= want * 1e-12, "{got} vs {want}");

    // Debian's promtool accepts the exposition.
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; tools/toolchain/install.sh installs it)");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Bad requests get words, and the run goes on.
    assert!(http(port, b"GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
    assert!(http(port, b"\x00\x01garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
    assert!(http(port, b"").starts_with("HTTP/1.1 400"));
    let (ok, stdout) = polyarb.stop();
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains(&format!("scrapes served on 127.0.0.1:{port}")),
        "{stdout}"
    );
}

/// A metrics port already in use: said once at start and in the summary; the run goes on.
#[test]
fn a_metrics_port_in_use_is_said_and_the_run_goes_on() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let s = setup(
        "metrics-busy",
        &format!("[metrics]\nlisten = \"127.0.0.1:{port}\""),
    );
    let polyarb = Polyarb::start(&s.config, s.node.dev_key(1).unwrap(), &s.dir);
    assert!(
        polyarb
            .logs()
            .contains(&format!("metrics: cannot listen on 127.0.0.1:{port}"))
    );
    assert!(mined(&s.node.rpc(), &gap(&s, &polyarb, 1)));
    let (ok, stdout) = polyarb.stop();
    assert!(ok, "{stdout}");
    assert!(stdout.contains("metrics: NOT served"), "{stdout}");
    drop(taken);
}
