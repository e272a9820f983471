//! Measurements from `/proc`: CPU time and peak RSS of a process, the kernel's UDP counters and
//! the drop count of one UDP socket.

use std::fs;

/// Clock ticks per second of `/proc/*/stat` times (`getconf CLK_TCK`; 100 on Linux x86-64).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds of the `/proc` entry `who` (`<pid>` or `thread-self`).
pub fn cpu_seconds(who: &str) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{who}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// Peak resident set size (`VmHWM`) of process `pid`, in bytes.
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Current resident set size (`VmRSS`) of process `pid`, in bytes.
pub fn rss(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The host's UDP error counters from `/proc/net/snmp`: `(InErrors, RcvbufErrors)`.
pub fn udp_errors() -> (u64, u64) {
    let text = fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let udp: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with("Udp:"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (Some(names), Some(values)) = (udp.first(), udp.get(1)) else {
        return (0, 0);
    };
    let get = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| values.get(i))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (get("InErrors"), get("RcvbufErrors"))
}

/// Datagrams the kernel dropped on UDP sockets bound to local `port` (the `drops` column of
/// `/proc/net/udp` and `/proc/net/udp6`, summed over every socket on the port).
pub fn socket_drops(port: u16) -> u64 {
    let want = format!(":{port:04X}");
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    let local = cols.get(1)?;
                    if !local.ends_with(&want) {
                        return None;
                    }
                    cols.last()?.parse::<u64>().ok()
                })
                .collect::<Vec<_>>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process_and_a_socket() {
        assert!(cpu_seconds("self").is_some());
        assert!(peak_rss(std::process::id()).unwrap() > 0);
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        assert_eq!(socket_drops(port), 0);
    }
}
