//! Hostile peers against `pushca-gateway` (a process, as in server.rs):
//! silent clients, too many connections, 2,000 streams on one connection,
//! a rapid-reset burst, a CONTINUATION flood and a 100 MB body. After each
//! attack a normal curl push still succeeds and the gateway's peak resident
//! memory (VmHWM) stays under [`PEAK_RSS_BOUND_KB`].
//!
//! The attack clients are here: rustls over TCP, raw HTTP/2 frames where a
//! well-behaved client library would refuse to misbehave, the `h2` client
//! otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use common::*;

/// The gateway's peak resident memory must stay under this (KiB) through
/// any one attack. Its own size (a debug build, a fixture gateway) is about
/// 13 MiB; what one connection can make it hold is bounded by its HTTP/2
/// settings: 1 MiB of unread request data (the connection window), 1,000
/// open streams with header lists of at most 16 KiB (16 MiB at worst), a
/// body read only up to the payload cap. 64 MiB is twice that sum. (With
/// no header-list limit, 64 MiB of CONTINUATION took it to 133 MiB.)
const PEAK_RSS_BOUND_KB: u64 = 64 * 1024;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;
const REFUSED_STREAM: u32 = 0x7;
const ENHANCE_YOUR_CALM: u32 = 0xb;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// host:port of a listener's URL.
fn addr(url: &str) -> String {
    url.trim_start_matches("https://").to_string()
}

/// A TLS client trusting the fixture's root, ALPN h2, with the development
/// push certificate as its client certificate.
fn tls_config(dir: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(dir.join("home/ca/root.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let ck = dir.join(format!("dev/{APP}-development-ck.pem"));
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&ck)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(&ck).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(cfg)
}

async fn tls(dir: &Path, url: &str) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr(url)).await.unwrap();
    let c = tokio_rustls::TlsConnector::from(tls_config(dir));
    c.connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// The gateway's peak resident memory so far, KiB.
fn peak_rss_kb(gw: &Gateway) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", gw.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A registered device token and a curl push to it that must succeed.
fn push_ok(dir: &Path, gw: &Gateway, tok: &str, what: &str) {
    let r = push(
        dir,
        &gw.dev,
        &provider(dir, "dev"),
        tok,
        r#"{"aps":{"alert":"still serving"}}"#,
        &[],
    );
    assert_eq!(r.status, 200, "after {what}: {} {}", r.body, gw.log());
}

/// The peak memory after an attack: under the bound, and reported.
fn check_memory(gw: &Gateway, what: &str) {
    let kb = peak_rss_kb(gw);
    eprintln!("peak RSS after {what}: {} MiB ({kb} KiB)", kb / 1024);
    assert!(
        kb < PEAK_RSS_BOUND_KB,
        "peak RSS {kb} KiB after {what} (bound {PEAK_RSS_BOUND_KB} KiB)"
    );
}

fn start(dir: &Path, state: &Path, flags: &[&str]) -> (Gateway, String) {
    let gw = Gateway::start_with(dir, "ts", state, flags, &[]);
    let tok = token(dir, &gw, U1, "development");
    (gw, tok)
}

/// One HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = Vec::with_capacity(9 + payload.len());
    f.extend_from_slice(&len.to_be_bytes()[1..]);
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK string literal, no Huffman (lengths < 127 here).
fn hpack_str(out: &mut Vec<u8>, s: &str) {
    assert!(s.len() < 127);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

/// The header block of a push request to `tok`: `:method POST` and
/// `:scheme https` from the static table, the rest literal.
fn push_headers(tok: &str) -> Vec<u8> {
    let mut b = vec![0x83, 0x87];
    b.push(0x04); // :path, literal value, not indexed
    hpack_str(&mut b, &format!("/3/device/{tok}"));
    b.push(0x01); // :authority
    hpack_str(&mut b, "localhost");
    b.push(0x00); // a new name
    hpack_str(&mut b, "apns-topic");
    hpack_str(&mut b, APP);
    b
}

/// What a raw client reads: the frames that matter here.
#[derive(Default, Debug)]
struct Seen {
    settings: Vec<(u16, u32)>,
    refused: Vec<u32>,
    goaway: Option<u32>,
    closed: bool,
}

/// Reads frames until the connection closes, `until` says enough or
/// `limit` passes.
async fn read_frames(
    rd: &mut tokio::io::ReadHalf<TlsStream<TcpStream>>,
    limit: Duration,
    until: impl Fn(&Seen) -> bool,
) -> Seen {
    let mut seen = Seen::default();
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    while !until(&seen) {
        while buf.len() >= 9 {
            let len = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) as usize;
            if buf.len() < 9 + len {
                break;
            }
            let (kind, id) = (buf[3], u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]));
            let p = &buf[9..9 + len];
            match kind {
                SETTINGS if buf[4] & 1 == 0 => {
                    for s in p.chunks(6) {
                        let k = u16::from_be_bytes([s[0], s[1]]);
                        let v = u32::from_be_bytes([s[2], s[3], s[4], s[5]]);
                        seen.settings.push((k, v));
                    }
                }
                RST_STREAM if u32::from_be_bytes([p[0], p[1], p[2], p[3]]) == REFUSED_STREAM => {
                    seen.refused.push(id & 0x7fff_ffff)
                }
                GOAWAY => seen.goaway = Some(u32::from_be_bytes([p[4], p[5], p[6], p[7]])),
                _ => {}
            }
            buf.drain(..9 + len);
        }
        if until(&seen) {
            break;
        }
        match tokio::time::timeout_at(deadline, rd.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            Ok(_) => {
                seen.closed = true;
                break;
            }
            Err(_) => break,
        }
    }
    seen
}

/// Is the connection closed by the peer within `limit`? (Anything it
/// sends first is read and dropped.)
async fn closed_within(s: &mut (impl tokio::io::AsyncRead + Unpin), limit: Duration) -> bool {
    let mut b = [0u8; 4096];
    let until = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(until, s.read(&mut b)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[test]
fn a_client_silent_before_or_after_tls_is_cut_off() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let (gw, tok) = start(dir, state.path(), &["--handshake-timeout", "1"]);
    rt().block_on(async {
        let t = Instant::now();
        // TCP, then nothing: no ClientHello.
        let mut tcp = TcpStream::connect(addr(&gw.dev)).await.unwrap();
        // TLS, then nothing: no HTTP/2 preface.
        let mut quiet = tls(dir, &gw.dev).await;
        // TLS, then half the preface (a slow drip).
        let mut drip = tls(dir, &gw.dev).await;
        drip.write_all(&PREFACE[..10]).await.unwrap();
        drip.flush().await.unwrap();
        let (a, b, c) = tokio::join!(
            closed_within(&mut tcp, Duration::from_secs(3)),
            closed_within(&mut quiet, Duration::from_secs(3)),
            closed_within(&mut drip, Duration::from_secs(3)),
        );
        assert!(a, "a TCP connection without TLS is still open after 3 s");
        assert!(
            b,
            "a TLS connection without the HTTP/2 preface is still open after 3 s"
        );
        assert!(
            c,
            "a TLS connection with half the preface is still open after 3 s"
        );
        assert!(
            t.elapsed() >= Duration::from_millis(900),
            "{:?}",
            t.elapsed()
        );
    });
    gw.wait_log("TLS handshake timed out");
    gw.wait_log("no HTTP/2 preface within 1 s: closed");
    push_ok(dir, &gw, &tok, "silent clients");
    check_memory(&gw, "silent clients");
}

#[test]
fn connections_beyond_max_connections_are_closed_at_once() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let (gw, tok) = start(dir, state.path(), &["--max-connections", "3"]);
    rt().block_on(async {
        // Three served connections (each past its preface), on both kinds
        // of listener: the limit is the gateway's.
        let mut held = Vec::new();
        for url in [&gw.dev, &gw.prod, &gw.dev] {
            // (The registration's connection may not be counted out yet.)
            let c = tokio_rustls::TlsConnector::from(tls_config(dir));
            let t = Instant::now();
            let mut s = loop {
                let tcp = TcpStream::connect(addr(url)).await.unwrap();
                match c
                    .connect(ServerName::try_from("localhost").unwrap(), tcp)
                    .await
                {
                    Ok(s) => break s,
                    Err(e) if t.elapsed() > Duration::from_secs(2) => panic!("{e}"),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            };
            s.write_all(PREFACE).await.unwrap();
            s.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
            s.flush().await.unwrap();
            let (mut rd, wr) = tokio::io::split(s);
            let seen =
                read_frames(&mut rd, Duration::from_secs(3), |s| !s.settings.is_empty()).await;
            assert!(!seen.settings.is_empty(), "{seen:?}");
            held.push((rd, wr));
        }
        // The fourth: closed before any TLS.
        let tcp = TcpStream::connect(addr(&gw.dev)).await.unwrap();
        let c = tokio_rustls::TlsConnector::from(tls_config(dir));
        let r = tokio::time::timeout(
            Duration::from_secs(3),
            c.connect(ServerName::try_from("localhost").unwrap(), tcp),
        )
        .await
        .expect("the handshake of a connection beyond the limit neither failed nor completed");
        assert!(r.is_err(), "a fourth connection was served");
        // One closed: a slot is free again.
        drop(held.pop());
    });
    gw.wait_log("connection(s) refused: the connection limit is reached");
    let t = Instant::now();
    loop {
        let r = push(
            dir,
            &gw.dev,
            &provider(dir, "dev"),
            &tok,
            r#"{"aps":{}}"#,
            &[],
        );
        if r.status == 200 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "no slot freed: {}",
            gw.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    check_memory(&gw, "the connection limit");
}

#[test]
fn two_thousand_streams_on_one_connection() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let (gw, tok) = start(dir, state.path(), &[]);
    rt().block_on(async {
        // A client that ignores the server's stream limit: 2,000 requests
        // opened at once, none finished.
        let mut s = tls(dir, &gw.dev).await;
        let mut out = PREFACE.to_vec();
        out.extend(frame(SETTINGS, 0, 0, &[]));
        let block = push_headers(&tok);
        for i in 0..2000u32 {
            out.extend(frame(HEADERS, END_HEADERS, 2 * i + 1, &block));
        }
        s.write_all(&out).await.unwrap();
        s.flush().await.unwrap();
        let (mut rd, _wr) = tokio::io::split(s);
        let seen = read_frames(&mut rd, Duration::from_secs(5), |s| {
            s.goaway.is_some() || s.refused.len() >= 1000
        })
        .await;
        assert!(
            seen.settings.contains(&(0x3, 1000)),
            "SETTINGS_MAX_CONCURRENT_STREAMS: {:?}",
            seen.settings
        );
        // Streams 1..=1999 (1,000 of them) are served; the first refused is
        // the 1,001st; the refusals are bounded too (GOAWAY).
        assert_eq!(seen.refused.iter().min(), Some(&2001), "{seen:?}");
        assert_eq!(seen.goaway, Some(ENHANCE_YOUR_CALM), "{seen:?}");
    });
    rt().block_on(async {
        // A client that respects it: 2,000 requests in flight, 1,000 at a
        // time, every one answered (a token of no device: 400).
        let s = tls(dir, &gw.dev).await;
        let (client, conn) = h2::client::handshake(s).await.unwrap();
        let conn = tokio::spawn(conn);
        let mut client = client.ready().await.unwrap();
        let req = || {
            http::Request::post(format!("https://localhost/3/device/{}", "ab".repeat(32)))
                .header("apns-topic", APP)
                .body(())
                .unwrap()
        };
        // One request first: its answer comes after the server's SETTINGS.
        let (resp, _) = client.send_request(req(), true).unwrap();
        assert_eq!(resp.await.unwrap().status(), 400);
        assert_eq!(client.current_max_send_streams(), 1000);
        let mut answers = Vec::new();
        for _ in 0..2000 {
            client = client.ready().await.unwrap();
            let (resp, mut body) = client.send_request(req(), false).unwrap();
            body.send_data(Bytes::from_static(br#"{"aps":{}}"#), true)
                .unwrap();
            answers.push(tokio::spawn(resp));
        }
        for a in answers {
            let r = tokio::time::timeout(Duration::from_secs(10), a)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(r.status(), 400);
        }
        drop(client);
        conn.abort();
    });
    push_ok(dir, &gw, &tok, "2,000 streams");
    check_memory(&gw, "2,000 streams");
}

#[test]
fn a_rapid_reset_burst_is_cut_off() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let (gw, tok) = start(dir, state.path(), &[]);
    rt().block_on(async {
        // CVE-2023-44487: open a stream, reset it at once, again and again.
        let s = tls(dir, &gw.dev).await;
        let (client, conn) = h2::client::handshake(s).await.unwrap();
        let conn = tokio::spawn(conn);
        let mut client = client.ready().await.unwrap();
        let mut sent = 0;
        for _ in 0..20_000 {
            if std::future::poll_fn(|cx| client.poll_ready(cx))
                .await
                .is_err()
            {
                break;
            }
            let req = http::Request::post(format!("https://localhost/3/device/{tok}"))
                .header("apns-topic", APP)
                .body(())
                .unwrap();
            let Ok((_resp, mut body)) = client.send_request(req, false) else {
                break;
            };
            body.send_reset(h2::Reason::CANCEL);
            sent += 1;
            if sent % 100 == 0 {
                tokio::task::yield_now().await;
            }
        }
        drop(client);
        let r = tokio::time::timeout(Duration::from_secs(5), conn)
            .await
            .expect("the connection is still open")
            .unwrap();
        // The gateway's GOAWAY (ENHANCE_YOUR_CALM), or its close while the
        // client was still writing.
        let e = r.expect_err("the burst ended without an error");
        assert!(
            e.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM) || e.is_io(),
            "{e:?} after {sent} streams"
        );
        eprintln!("rapid reset: cut off after {sent} streams ({e})");
        assert!(sent < 20_000, "all {sent} streams went through");
    });
    push_ok(dir, &gw, &tok, "a rapid-reset burst");
    check_memory(&gw, "a rapid-reset burst");
}

#[test]
fn a_continuation_flood_is_cut_off() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let (gw, tok) = start(dir, state.path(), &[]);
    rt().block_on(async {
        // HEADERS without END_HEADERS, then CONTINUATION frames for ever: a
        // header value announced as 16 MiB, sent 16 KiB at a time.
        let s = tls(dir, &gw.dev).await;
        let (mut rd, mut wr) = tokio::io::split(s);
        let reader = tokio::spawn(async move {
            read_frames(&mut rd, Duration::from_secs(10), |s| s.goaway.is_some()).await
        });
        let mut block = push_headers(&tok);
        block.extend([0x00, 0x01, b'x', 0x7f]); // "x": a value of 127 + ...
        block.extend([0x80 | 0x7f, 0xff, 0xff, 0x07]); // ... 2^24 bytes
        let mut out = PREFACE.to_vec();
        out.extend(frame(SETTINGS, 0, 0, &[]));
        out.extend(frame(HEADERS, 0, 1, &block));
        wr.write_all(&out).await.unwrap();
        let cont = frame(CONTINUATION, 0, 1, &[b'a'; 16 * 1024]);
        let mut sent = 0usize;
        let t = Instant::now();
        // Up to 64 MiB, or until the gateway stops it.
        while sent < 64 << 20 && t.elapsed() < Duration::from_secs(8) && !reader.is_finished() {
            match tokio::time::timeout(Duration::from_secs(1), wr.write_all(&cont)).await {
                Ok(Ok(())) => sent += cont.len(),
                _ => break,
            }
        }
        let seen = reader.await.unwrap();
        assert!(
            seen.goaway.is_some(),
            "no GOAWAY after {} KiB of CONTINUATION: {seen:?}",
            sent / 1024
        );
        eprintln!(
            "CONTINUATION flood: GOAWAY {:#x}; {} KiB written by then",
            seen.goaway.unwrap_or(0),
            sent / 1024
        );
    });
    push_ok(dir, &gw, &tok, "a CONTINUATION flood");
    check_memory(&gw, "a CONTINUATION flood");
}

#[test]
fn a_100_mb_body_is_read_only_up_to_the_cap() {
    let dir = fixture();
    let state = tempfile::tempdir().unwrap();
    let (gw, tok) = start(dir, state.path(), &[]);
    rt().block_on(async {
        let s = tls(dir, &gw.dev).await;
        let (client, conn) = h2::client::handshake(s).await.unwrap();
        let conn = tokio::spawn(conn);
        let mut client = client.ready().await.unwrap();
        let req = http::Request::post(format!("https://localhost/3/device/{tok}"))
            .header("apns-topic", APP)
            .body(())
            .unwrap();
        let (resp, mut body) = client.send_request(req, false).unwrap();
        let resp = tokio::spawn(resp);
        let chunk = Bytes::from(vec![b' '; 64 * 1024]);
        let total = 100usize << 20;
        let mut sent = 0usize;
        let t = Instant::now();
        while sent < total && t.elapsed() < Duration::from_secs(10) {
            body.reserve_capacity(chunk.len());
            let cap = match std::future::poll_fn(|cx| body.poll_capacity(cx)).await {
                Some(Ok(n)) => n,
                _ => break, // the stream was reset
            };
            let n = cap.min(chunk.len()).min(total - sent);
            if body.send_data(chunk.slice(..n), false).is_err() {
                break;
            }
            sent += n;
        }
        let r = tokio::time::timeout(Duration::from_secs(5), resp)
            .await
            .expect("no answer")
            .unwrap()
            .unwrap();
        assert_eq!(r.status(), 413, "after {} KiB", sent / 1024);
        let mut b = r.into_body();
        let got = b.data().await.unwrap().unwrap();
        assert_eq!(&got[..], br#"{"reason":"PayloadTooLarge"}"#);
        assert!(
            sent < 8 << 20,
            "{} KiB of the body were taken before it was refused",
            sent / 1024
        );
        eprintln!("100 MB body: refused after {} KiB were sent", sent / 1024);
        drop(client);
        conn.abort();
    });
    push_ok(dir, &gw, &tok, "a 100 MB body");
    check_memory(&gw, "a 100 MB body");
}
