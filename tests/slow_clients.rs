//! Slow, idle and too many clients against the real `skillhost run`: each
//! gets a deadline, none locks the others out.
//!
//! Nothing is timed: the deadlines under test are short, the waits that
//! would otherwise hang are long.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use skillhost_tests::server::*;

/// How long a test waits for the server to act before failing.
const LONG: Duration = Duration::from_secs(30);

fn connect(s: &Server) -> TcpStream {
    let addr = s.url.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LONG)).unwrap();
    stream
}

/// Reads until the server closes the connection; what it said before.
/// Fails if it is still open after [`LONG`].
fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut said = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return String::from_utf8_lossy(&said).into_owned(),
            Ok(n) => said.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return String::from_utf8_lossy(&said).into_owned()
            }
            Err(e) => panic!(
                "the connection is still open after {LONG:?} ({e}); read so far: {}",
                String::from_utf8_lossy(&said)
            ),
        }
    }
}

#[test]
fn headers_sent_too_slowly_and_idle_keep_alive_connections_are_closed() {
    let project = sample_project();
    let s = Server::start(project.path(), &["--header-timeout", "300ms"]);

    // Half a request, then nothing.
    let mut slow = connect(&s);
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    let said = read_until_closed(&mut slow);
    assert!(!said.contains("200 OK"), "{said}");

    // One full request answered, then the connection idles.
    let mut idle = connect(&s);
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let said = read_until_closed(&mut idle);
    assert!(said.starts_with("HTTP/1.1 200 OK"), "{said}");

    assert_eq!(s.get("/healthz").0, 200);
}

#[test]
fn a_body_sent_too_slowly_gets_408() {
    let project = sample_project();
    let s = Server::start(project.path(), &["--body-timeout", "300ms"]);
    let mut slow = connect(&s);
    slow.write_all(
        b"POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"idn\":",
    )
    .unwrap();
    let said = read_until_closed(&mut slow);
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(said.contains("did not arrive within 300ms"), "{said}");
}

#[test]
fn clients_past_the_open_file_limit_wait_and_are_then_served() {
    let project = sample_project();
    // 64 descriptors: the host needs some for itself, and derives its
    // connection cap from the rest. Idle connections beyond it would make
    // `accept` fail with EMFILE; they wait in the backlog instead.
    let s = Server::start_with_fd_limit(project.path(), &["--header-timeout", "500ms"], 64);
    let idle: Vec<TcpStream> = (0..100).map(|_| connect(&s)).collect();
    let client = reqwest::blocking::Client::builder()
        .timeout(LONG)
        .build()
        .unwrap();
    let resp = client.get(format!("{}/healthz", s.url)).send().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    drop(idle);
    let event = s.say("echo", "ann", serde_json::json!({"text": "still here"}));
    assert_eq!(Server::replies(&event), ["echo: still here"]);
    assert!(!s.stderr().contains("panicked"), "{}", s.stderr());
}
