//! A real browser: Debian's headless Chromium loads a page, runs its script, and prints the DOM
//! the script made (`--dump-dom`). `make test-deps` installs `chromium` when it is missing.
//!
//! Each load gets a fresh profile directory, removed afterwards, and a bounded wait: a Chromium
//! that has not finished by then is killed by its pid (the guard's drop) and the test fails.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::data::TempDir;
use super::process::KillOnDrop;

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium's start-up alone can take seconds on a loaded 2-core machine.
const LOAD_LIMIT: Duration = Duration::from_secs(45);

/// Load `url` in headless Chromium, give its script `virtual_ms` of (virtual) time, and return the
/// DOM it rendered, as HTML.
pub fn dump_dom(url: &str, virtual_ms: u32) -> String {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: `make test-deps` installs it (apt-get install chromium)"
    );
    let profile = TempDir::new("chromium");
    let mut command = Command::new(CHROMIUM);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.0.display()))
        .arg(format!("--virtual-time-budget={virtual_ms}"))
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null()); // D-Bus complaints: there is no session bus, and none is needed
    let mut browser = KillOnDrop::spawn(&mut command);
    let mut stdout = browser.take_stdout();
    let (sender, dom) = mpsc::channel();
    thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        let _ = sender.send(dom);
    });
    let status = browser.wait_exit(LOAD_LIMIT);
    assert!(
        status.is_some(),
        "chromium did not finish {url} within {LOAD_LIMIT:?}"
    );
    drop(browser);
    // Its helper processes may hold stdout a moment longer than the browser lives.
    let dom = dom
        .recv_timeout(Duration::from_secs(5))
        .expect("chromium's stdout closed after it exited");
    drop(profile);
    dom.replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&amp;", "&")
}
