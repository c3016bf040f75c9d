//! The dashboard (docs/dashboard.md) on a live run on anvil: the page renders the run's state
//! in headless Chromium (Debian's package), and the pause and resume controls take the token
//! and nothing else, stop sending at once and resume.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::e2e::Polyarb;
use crate::metrics::free_port;
use crate::risk::{gap, mined, setup};

/// `(status line, body)` of `request` sent raw to `port`.
fn http(port: u16, request: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

fn status(port: u16) -> serde_json::Value {
    let (line, body) = http(port, "GET /api/status HTTP/1.1\r\n\r\n");
    assert!(line.contains("200"), "{line}");
    serde_json::from_str(&body).unwrap()
}

fn post(port: u16, path: &str, token: Option<&str>) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    http(
        port,
        &format!("POST {path} HTTP/1.1\r\n{auth}Content-Length: 0\r\n\r\n"),
    )
    .0
}

#[test]
fn the_dashboard_shows_the_run_and_its_token_pauses_and_resumes_sending() {
    let port = free_port();
    let token = "correct-horse-battery-staple-42";
    let dir = std::env::temp_dir().join(format!("polyarb-dash-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = setup(
        "dashboard",
        &format!(
            "[metrics]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"{}\"\n\
             [journal]\nreceipt_poll_ms = 50",
            token_file.display()
        ),
    );
    let (polyarb, journal) = crate::risk::start_journaled(&s);
    let rpc = s.node.rpc();
    assert!(mined(&rpc, &gap(&s, &polyarb, 1)));
    // The status catches up with the receipts.
    let deadline = Instant::now() + Duration::from_secs(30);
    let st = loop {
        let st = status(port);
        if st["receipts"]["success"].as_u64() >= Some(1) {
            break st;
        }
        assert!(Instant::now() < deadline, "{st}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(st["sending"], "running");
    assert!(!st["recent"].as_array().unwrap().is_empty(), "{st}");
    assert!(st["realised_net_native"].as_f64().unwrap() > 0.0, "{st}");
    assert_eq!(st["controls"], true);

    // The page, rendered by a real browser against the live API.
    let (line, html) = http(port, "GET / HTTP/1.1\r\n\r\n");
    assert!(
        line.contains("200") && html.contains("<title>polyarb</title>"),
        "{line}"
    );
    let url = format!("http://127.0.0.1:{port}/");
    let chromium = |extra: &[&str]| {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--virtual-time-budget=4000",
            ])
            .args(extra)
            .arg(&url)
            .output()
            .expect("chromium (Debian's package; tools/render-report.sh installs it)")
    };
    let dom = String::from_utf8(chromium(&["--dump-dom"]).stdout).unwrap();
    assert!(
        dom.contains(r#"<span id="sending" class="badge running">running</span>"#),
        "the page did not render the status:\n{dom}"
    );
    // The newest opportunity's line, as the DOM holds text (escaped).
    let first_line = st["recent"][0]["line"].as_str().unwrap();
    let shown = first_line
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert!(
        dom.contains(&format!("<td>{shown}</td>")),
        "no {shown:?} in the rendered list:\n{dom}"
    );
    let shot = s.dir.join("dashboard.png");
    chromium(&[
        "--window-size=1100,1500",
        &format!("--screenshot={}", shot.display()),
    ]);
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );

    // Controls: the token and nothing else.
    assert!(post(port, "/api/pause", None).contains("401"));
    assert!(post(port, "/api/pause", Some("correct-horse-battery-staple-43")).contains("401"));
    assert!(
        http(port, "GET /api/pause HTTP/1.1\r\n\r\n")
            .0
            .contains("405")
    );
    assert!(post(port, "/api/pause", Some(token)).contains("200"));
    assert_eq!(status(port)["sending"], "stopped");
    let n = polyarb.opportunities().len();
    let o = gap(&s, &polyarb, n + 1);
    assert!(
        o["error"]
            .as_str()
            .is_some_and(|e| e.contains("paused from the dashboard")),
        "{o}"
    );
    assert!(post(port, "/api/resume", Some(token)).contains("200"));
    assert_eq!(status(port)["sending"], "running");
    let n = polyarb.opportunities().len();
    assert!(mined(&rpc, &gap(&s, &polyarb, n + 1)));
    let (ok, stdout) = polyarb.stop();
    assert!(ok, "{stdout}");
    let c = rusqlite::Connection::open(&journal).unwrap();
    let events: Vec<(bool, String)> = c
        .prepare("SELECT stopped, reason FROM risk_events ORDER BY rowid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        events,
        [
            (true, "dashboard".to_owned()),
            (false, "dashboard".to_owned())
        ]
    );
}

/// Without a token file the controls are off (403), and a token file others can read stops
/// the start with its name.
#[test]
fn controls_are_off_without_a_token_and_an_open_token_file_is_refused() {
    let port = free_port();
    let s = setup(
        "dashboard-off",
        &format!("[metrics]\nlisten = \"127.0.0.1:{port}\""),
    );
    let polyarb = Polyarb::start(&s.config, s.node.dev_key(1).unwrap(), &s.dir);
    assert!(post(port, "/api/pause", Some("anything-at-all-here")).contains("403"));
    assert_eq!(status(port)["controls"], false);
    let (ok, _) = polyarb.stop();
    assert!(ok);

    let token_file = s.dir.join("open-token");
    std::fs::write(&token_file, "correct-horse-battery-staple-42").unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let text = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        text.replacen(
            "[metrics]\n",
            &format!("[metrics]\ntoken_file = \"{}\"\n", token_file.display()),
            1,
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_polyarb"))
        .args(["run", "--config"])
        .arg(&s.config)
        .env("POLYARB_PRIVATE_KEY", s.node.dev_key(1).unwrap())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("metrics.token_file") && err.contains("group or others may read it"),
        "{err}"
    );
}
