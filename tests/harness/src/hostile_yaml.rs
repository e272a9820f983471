//! Hostile YAML inputs and a bounded way to run a program on them, for the robustness tests of
//! both binaries (`blueprint validate|render`, `xray-collector validate`).
//!
//! [`run_bounded`] runs the child under `ulimit -d` (RLIMIT_DATA: the heap and every private
//! writable mapping, which is what an allocation blow-up grows) of [`DATA_LIMIT_BYTES`], so a
//! loader that allocates without bound fails (an allocation error aborts the child) instead of
//! passing slowly; GNU `/usr/bin/time`, when installed, reports the child's peak resident set.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The data-segment bound for the child: 100 MB, the memory the programs may use on any input.
pub const DATA_LIMIT_BYTES: u64 = 100_000_000;

/// The time a child may take on one hostile input (generous; the measured times are printed).
pub const TIME_LIMIT: Duration = Duration::from_secs(10);

/// One hostile input: a name for messages, the file name to write it to and its text.
pub struct HostileCase {
    pub name: &'static str,
    pub text: String,
}

/// Nested aliases ("billion laughs"): ten aliases per level, twelve levels, 10^12 values.
pub fn billion_laughs() -> String {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        let items = vec![format!("*a{p}"); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    text
}

/// 142 KB of 1,000-character keys nested 60 deep, then short entries at the bottom: a loader that
/// keeps a full JSON pointer per node needs hundreds of MB for it.
pub fn deep_long_keys() -> String {
    let key = "k".repeat(1_000);
    let mut text = String::new();
    for depth in 0..60 {
        text.push_str(&format!("{}{key}{depth}:\n", " ".repeat(depth)));
    }
    let mut leaf = 0;
    while text.len() < 142_000 {
        text.push_str(&format!("{}l{leaf}: 1\n", " ".repeat(60)));
        leaf += 1;
    }
    text
}

/// Every hostile input the robustness tests feed to both binaries.
pub fn hostile_cases() -> Vec<HostileCase> {
    let mut scalars = String::with_capacity(50 << 20);
    let mut i = 0;
    while scalars.len() < 50 << 20 {
        scalars.push_str(&format!("key{i}: a plain scalar value number {i}\n"));
        i += 1;
    }
    let mut aliases = format!("big: &big {}\nuses:\n", "x".repeat(1 << 20));
    for _ in 0..2_000 {
        aliases.push_str("  - *big\n");
    }
    vec![
        HostileCase {
            name: "billion laughs",
            text: billion_laughs(),
        },
        HostileCase {
            name: "10,000-deep flow nesting",
            text: format!("{}x{}\n", "[".repeat(10_000), "]".repeat(10_000)),
        },
        HostileCase {
            name: "10,000-deep block nesting",
            text: format!("{}x\n", "- ".repeat(10_000)),
        },
        HostileCase {
            name: "50 MB of scalars",
            text: scalars,
        },
        HostileCase {
            name: "2,000 aliases of a 1 MiB scalar",
            text: aliases,
        },
        HostileCase {
            name: "10,000 documents",
            text: "---\na: 1\n".repeat(10_000),
        },
        HostileCase {
            name: "142 KB of long keys nested deeply",
            text: deep_long_keys(),
        },
    ]
}

/// What a bounded run did.
pub struct Bounded {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The peak resident set in KiB, when GNU time is installed.
    pub peak_kib: Option<u64>,
}

/// Runs `program args...` under the [`DATA_LIMIT_BYTES`] data limit and measures it.
pub fn run_bounded(program: &Path, args: &[&str], scratch: &Path) -> Bounded {
    let time = Path::new("/usr/bin/time");
    let peak_file = scratch.join("peak-rss-kib");
    let _ = std::fs::remove_file(&peak_file);
    let limit_kib = DATA_LIMIT_BYTES / 1024;
    let mut cmd = if time.exists() {
        let mut cmd = Command::new(time);
        cmd.arg("-f").arg("%M").arg("-o").arg(&peak_file).arg("sh");
        cmd
    } else {
        Command::new("sh")
    };
    cmd.arg("-c")
        .arg(format!("ulimit -d {limit_kib} && exec \"$0\" \"$@\""))
        .arg(program)
        .args(args);
    let start = Instant::now();
    let out = cmd.output().expect("runs sh");
    let elapsed = start.elapsed();
    let peak_kib = std::fs::read_to_string(&peak_file)
        .ok()
        .and_then(|text| text.lines().last()?.trim().parse().ok());
    Bounded {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed,
        peak_kib,
    }
}

/// Whether `output` names `file` at a line and column (`file:LINE:COLUMN`).
pub fn has_located_error(output: &str, file: &str) -> bool {
    output.match_indices(&format!("{file}:")).any(|(i, m)| {
        let rest = &output[i + m.len()..];
        let mut parts = rest.splitn(3, ':');
        let line = parts.next().unwrap_or("");
        let column: String = parts
            .next()
            .unwrap_or("")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        !line.is_empty()
            && line.chars().all(|c| c.is_ascii_digit())
            && !column.is_empty()
            && line != "0"
            && column != "0"
    })
}
