//! A service that leaks nondeterminism on request, for the determinism tests
//! (`tests/faultbox_corpus.rs`, `tests/run_determinism.rs`), which compile it with `rustc`
//! (the standard library only, so no Cargo target is needed).
//!
//! `PORT=8090 leaker` serves HTTP on 127.0.0.1:PORT: `GET /healthz` answers 200, and
//! `GET /trigger?leak=KIND` performs one leak before answering 200 (400 for an unknown kind):
//! - `clock`: a raw `clock_gettime` syscall (not the vDSO, which seccomp cannot see);
//! - `rand`: a raw `getrandom` syscall;
//! - `urandom`: opens and reads `/dev/urandom`;
//! - `dns`: a UDP connect to the resolver on port 53 (`DNS_RESOLVER`, else the first
//!   `nameserver` of /etc/resolv.conf, else 8.8.8.8:53; connecting a UDP socket sends nothing);
//! - `network`: a TCP connect to `LEAK_ADDR` (default 127.0.0.1:19999), where nothing listens;
//! - `raw`: opens a raw socket (refused without CAP_NET_RAW; the attempt is the leak).
//!
//! It is single-threaded and uses no hash maps, so it makes none of these calls on its own.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

#[cfg(target_arch = "x86_64")]
const SYS_CLOCK_GETTIME: i64 = 228;
#[cfg(target_arch = "x86_64")]
const SYS_GETRANDOM: i64 = 318;
#[cfg(target_arch = "aarch64")]
const SYS_CLOCK_GETTIME: i64 = 113;
#[cfg(target_arch = "aarch64")]
const SYS_GETRANDOM: i64 = 278;
const SYS_SOCKET_FAMILY_INET: i32 = 2;
const SOCK_RAW: i32 = 3;
const IPPROTO_ICMP: i32 = 1;

extern "C" {
    fn syscall(number: i64, ...) -> i64;
    fn socket(domain: i32, kind: i32, protocol: i32) -> i32;
    fn close(fd: i32) -> i32;
}

fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8090".to_owned());
    let listener = match TcpListener::bind(format!("127.0.0.1:{port}")) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("leaker: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("leaker listening on 127.0.0.1:{port}");
    for stream in listener.incoming().flatten() {
        serve(stream);
    }
}

/// Answers one request (one per connection).
fn serve(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 0) && header.trim() != "" {
        header.clear();
    }
    let target = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match target.split_once('?') {
        _ if target == "/healthz" => (200, "ok\n".to_owned()),
        Some(("/trigger", query)) => {
            let kind = query.split('&').find_map(|p| p.strip_prefix("leak=")).unwrap_or("");
            match leak(kind) {
                Ok(()) => (200, format!("leak={kind} done\n")),
                Err(why) => (400, format!("{why}\n")),
            }
        }
        _ => (404, "not found\n".to_owned()),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

fn leak(kind: &str) -> Result<(), String> {
    match kind {
        "clock" => {
            let mut time = [0i64; 2];
            // SAFETY: clock_gettime(CLOCK_REALTIME, &timespec) into a two-word buffer.
            let r = unsafe { syscall(SYS_CLOCK_GETTIME, 0i64, time.as_mut_ptr()) };
            if r != 0 {
                return Err("clock_gettime failed".to_owned());
            }
        }
        "rand" => {
            let mut bytes = [0u8; 16];
            // SAFETY: getrandom(buf, len, 0) into a 16-byte buffer.
            let r = unsafe { syscall(SYS_GETRANDOM, bytes.as_mut_ptr(), bytes.len() as i64, 0i64) };
            if r < 0 {
                return Err("getrandom failed".to_owned());
            }
        }
        "urandom" => {
            let mut bytes = [0u8; 16];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut bytes))
                .map_err(|e| format!("/dev/urandom: {e}"))?;
        }
        "dns" => {
            let resolver = resolver();
            let local: SocketAddr = if resolver.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().unwrap_or(resolver);
            // Only the connect matters: it may fail (no route in a network namespace).
            if let Ok(socket) = UdpSocket::bind(local) {
                let _ = socket.connect(resolver);
            }
        }
        "network" => {
            let target = std::env::var("LEAK_ADDR").unwrap_or_else(|_| "127.0.0.1:19999".to_owned());
            let address: SocketAddr = target.parse().map_err(|_| format!("LEAK_ADDR `{target}` is not IP:PORT"))?;
            let _ = TcpStream::connect_timeout(&address, Duration::from_millis(200));
        }
        "raw" => {
            // SAFETY: socket(2) with constant arguments; a descriptor it returns is closed.
            unsafe {
                let fd = socket(SYS_SOCKET_FAMILY_INET, SOCK_RAW, IPPROTO_ICMP);
                if fd >= 0 {
                    close(fd);
                }
            }
        }
        other => return Err(format!("unknown leak kind `{other}` (clock|rand|urandom|dns|network|raw)")),
    }
    Ok(())
}

/// The resolver a DNS lookup would use.
fn resolver() -> SocketAddr {
    if let Some(address) = std::env::var("DNS_RESOLVER").ok().and_then(|a| a.parse().ok()) {
        return address;
    }
    let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    conf.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .find_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .map_or_else(|| SocketAddr::from(([8, 8, 8, 8], 53)), |ip| SocketAddr::new(ip, 53))
}
