//! A port a service is about to listen on that something else already holds: found before the
//! service starts, so the run fails at once with the port and its holder named, instead of the
//! healthcheck accepting the other server and every step talking to it.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

/// Directories of `/proc` looked through for a holder at most (a bound on a busy machine).
const MAX_PROCESSES: usize = 4096;

/// Whether `port` is taken on the loopback or wildcard address (a listener there conflicts with
/// one the service would open).
pub fn in_use(port: u16) -> bool {
    let addresses = [
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ];
    // std sets SO_REUSEADDR, so a socket in TIME_WAIT does not count as a holder.
    addresses.iter().any(|a| TcpListener::bind(a).is_err_and(|e| e.kind() == std::io::ErrorKind::AddrInUse))
}

/// The process listening on `port`, as `pid N (name)`, when `/proc` says.
pub fn holder(port: u16) -> Option<String> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return None;
    }
    let entries = std::fs::read_dir("/proc").ok()?;
    for entry in entries.flatten().take(MAX_PROCESSES) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                let target = target.to_string_lossy();
                inodes.iter().any(|inode| target == format!("socket:[{inode}]"))
            })
        });
        if holds {
            let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            return Some(format!("pid {pid} ({})", name.trim()));
        }
    }
    None
}

/// Inodes of the listening TCP sockets on `port` in the calling thread's network namespace
/// (`/proc/net` would be the main thread's).
fn listening_inodes(port: u16) -> Vec<String> {
    let mut inodes = Vec::new();
    for table in ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9)) else {
                continue;
            };
            let local_port = local.rsplit_once(':').and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && local_port == Some(port) {
                inodes.push((*inode).to_owned());
            }
        }
    }
    inodes
}

/// How long a taken port is watched before it counts as held: the service a previous test
/// (or run) stopped may still be exiting, and its listener goes with it.
const RELEASE_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Whether `port` stays taken through [`RELEASE_GRACE`] (checked every 10 ms).
fn held(port: u16) -> bool {
    let until = std::time::Instant::now() + RELEASE_GRACE;
    while in_use(port) {
        if std::time::Instant::now() >= until {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

/// The error for a service whose interface port is taken, or `None` when every one is free.
pub fn check(service: &ospecc_schema::plan::topology::Service) -> Option<String> {
    service.interfaces.iter().filter_map(|i| Some((i, i.port?))).find(|(_, port)| held(*port)).map(|(iface, port)| {
        let held = holder(port).map(|h| format!(" by {h}")).unwrap_or_default();
        format!(
            "service `{}` cannot start: port {port} (interface `{}`) is already in use{held}; \
             stop what holds it (another run?), or give the service another port",
            service.name, iface.name
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_is_found_with_its_holder() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(in_use(port));
        let holder = holder(port).unwrap();
        assert!(holder.starts_with(&format!("pid {} (", std::process::id())), "{holder}");
        drop(listener);
        assert!(!in_use(port));
    }

    #[test]
    fn a_port_released_within_the_grace_is_not_held_and_one_kept_is() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            drop(listener);
        });
        assert!(!held(port), "a listener closed after 100 ms is a service still exiting");
        releaser.join().unwrap();
        let kept = TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(held(kept.local_addr().unwrap().port()));
    }
}
