//! Stack trace parsers for `exception.stacktrace`, one per `telemetry.sdk.language`.
//!
//! Each parser fills the stack of the first exception and appends one exception per chained cause
//! (`Caused by:` in Java, "During handling of the above exception" in Python), linking them through
//! `cause`.

use super::write::{self, Obj};

/// One X-Ray stack frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Frame {
    pub(crate) path: String,
    pub(crate) line: i64,
    pub(crate) label: String,
}

/// One entry of `cause.exceptions`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Exception {
    pub(crate) id: String,
    pub(crate) kind: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) remote: Option<bool>,
    pub(crate) cause: Option<String>,
    pub(crate) stack: Vec<Frame>,
}

impl Exception {
    /// Writes the X-Ray JSON object, keys in ascending order; empty strings and empty stacks are
    /// omitted.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let mut obj = Obj::begin(out);
        if let Some(cause) = &self.cause {
            obj.str("cause", cause);
        }
        obj.str("id", &self.id);
        if let Some(message) = self.message.as_ref().filter(|m| !m.is_empty()) {
            obj.str("message", message);
        }
        if let Some(remote) = self.remote {
            obj.bool("remote", remote);
        }
        if !self.stack.is_empty() {
            let out = obj.key("stack");
            out.push(b'[');
            for (i, f) in self.stack.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let mut frame = Obj::begin(out);
                frame.non_empty_str("label", &f.label);
                write::int(frame.key("line"), f.line);
                frame.non_empty_str("path", &f.path);
                frame.end();
            }
            out.push(b']');
        }
        if let Some(kind) = &self.kind {
            obj.str("type", kind);
        }
        obj.end();
    }
}

/// Parses `stacktrace` in the format of `language` into `exceptions[0]` and appended causes.
///
/// `new_id` supplies the ids of chained exceptions. Unknown languages leave the stack empty.
pub(crate) fn fill(
    language: &str,
    stacktrace: &str,
    exceptions: &mut Vec<Exception>,
    new_id: &mut dyn FnMut() -> String,
) {
    if stacktrace.is_empty() || exceptions.is_empty() {
        return;
    }
    match language {
        "java" | "php" => fill_java(stacktrace, exceptions, new_id),
        "python" => fill_python(stacktrace, exceptions, new_id),
        "javascript" => fill_javascript(stacktrace, exceptions),
        "dotnet" => fill_dotnet(stacktrace, exceptions),
        "go" => fill_go(stacktrace, exceptions),
        _ => {}
    }
}

/// Java: `\tat label(path:line)` frames and `Caused by: type: message` chains.
fn fill_java(
    stacktrace: &str,
    exceptions: &mut Vec<Exception>,
    new_id: &mut dyn FnMut() -> String,
) {
    let lines: Vec<&str> = stacktrace.lines().collect();
    let mut current = 0;
    // The first line repeats the top-level type and message, which come from the event attributes.
    let mut idx = 1;
    while idx < lines.len() {
        let line = lines[idx].trim_end_matches('\r');
        if let Some(frame) = java_frame(line) {
            exceptions[current].stack.push(frame);
        } else if let Some(rest) = line.strip_prefix("Caused by: ") {
            let (kind, mut message) = match rest.find(':') {
                Some(colon) => (
                    rest[..colon].to_string(),
                    rest[colon + 1..].trim_start().to_string(),
                ),
                None => (rest.to_string(), String::new()),
            };
            // The message may span several lines; it ends at the first frame.
            while idx + 1 < lines.len() && java_frame(lines[idx + 1]).is_none() {
                idx += 1;
                message.push_str(lines[idx]);
            }
            let id = new_id();
            exceptions[current].cause = Some(id.clone());
            exceptions.push(Exception {
                id,
                kind: non_empty(kind),
                message: non_empty(message),
                ..Exception::default()
            });
            current = exceptions.len() - 1;
        }
        idx += 1;
    }
}

fn java_frame(line: &str) -> Option<Frame> {
    let rest = line.trim_start_matches([' ', '\t']).strip_prefix("at ")?;
    let open = rest.find('(')?;
    let inner = rest[open + 1..].strip_suffix(')')?;
    let mut label = &rest[..open];
    // Java 9 module prefixes (`java.base/java.lang.Thread.run`) are dropped.
    if let Some(slash) = label.find('/') {
        label = &label[slash + 1..];
    }
    let (path, line) = match inner.find(':') {
        Some(colon) => (&inner[..colon], inner[colon + 1..].parse().unwrap_or(0)),
        None => (inner, 0),
    };
    Some(Frame {
        path: path.to_string(),
        line,
        label: label.to_string(),
    })
}

/// Python: frames are read from the bottom up (most recent call first); chained tracebacks
/// separated by "During handling of the above exception" or "The above exception was the direct
/// cause" become causes.
fn fill_python(
    stacktrace: &str,
    exceptions: &mut Vec<Exception>,
    new_id: &mut dyn FnMut() -> String,
) {
    let lines: Vec<&str> = stacktrace.trim_end().lines().collect();
    if lines.len() < 2 {
        return;
    }
    let mut current = 0;
    // The last line is the top-level `Type: message`.
    let mut idx = lines.len() - 1;
    while idx > 0 {
        idx -= 1;
        let line = lines[idx];
        if let Some(frame) = python_frame(line) {
            exceptions[current].stack.push(frame);
        } else if line.starts_with("During handling of the above exception")
            || line.starts_with("The above exception was the direct cause")
        {
            // Above the separator: a blank line, then the cause's `Type: message` (which may span
            // several lines), then its frames.
            let mut end = idx;
            while end > 0 && lines[end - 1].trim().is_empty() {
                end -= 1;
            }
            let mut start = end;
            while start > 0
                && python_frame(lines[start - 1]).is_none()
                && !lines[start - 1].starts_with("    ")
                && !lines[start - 1].starts_with("Traceback")
            {
                start -= 1;
            }
            let text = lines[start..end].join("\n");
            let (kind, message) = match text.find(':') {
                Some(colon) => (
                    text[..colon].to_string(),
                    text[colon + 1..].trim_start().to_string(),
                ),
                None => (text.clone(), String::new()),
            };
            let id = new_id();
            exceptions[current].cause = Some(id.clone());
            exceptions.push(Exception {
                id,
                kind: non_empty(kind),
                message: non_empty(message),
                ..Exception::default()
            });
            current = exceptions.len() - 1;
            idx = start;
        }
    }
}

fn python_frame(line: &str) -> Option<Frame> {
    let rest = line.strip_prefix("  File \"")?;
    let close = rest.find('"')?;
    let path = &rest[..close];
    let mut line_no = 0;
    let mut label = "";
    for part in rest[close + 1..].split(',') {
        let part = part.trim();
        if let Some(n) = part.strip_prefix("line ") {
            line_no = n.trim().parse().unwrap_or(0);
        } else if let Some(l) = part.strip_prefix("in ") {
            label = l;
        }
    }
    Some(Frame {
        path: path.to_string(),
        line: line_no,
        label: label.to_string(),
    })
}

/// JavaScript (V8): `    at label (path:line:column)` or `    at path:line:column`.
fn fill_javascript(stacktrace: &str, exceptions: &mut [Exception]) {
    for line in stacktrace.lines().skip(1) {
        let Some(rest) = line.trim_start().strip_prefix("at ") else {
            continue;
        };
        let rest = rest.trim_end();
        let (label, location) = match (rest.find(" ("), rest.ends_with(')')) {
            (Some(open), true) => (&rest[..open], &rest[open + 2..rest.len() - 1]),
            _ => ("", rest),
        };
        // `path:line:column`; the path itself may contain colons (`file:///`, `C:\`).
        let (path, line_no) = match location.rsplitn(3, ':').collect::<Vec<_>>().as_slice() {
            [_column, line_no, path] if line_no.parse::<i64>().is_ok() => {
                (path.to_string(), line_no.parse().unwrap_or(0))
            }
            _ if location.contains("native") => ("native".to_string(), 0),
            _ => (location.to_string(), 0),
        };
        exceptions[0].stack.push(Frame {
            path,
            line: line_no,
            label: label.to_string(),
        });
    }
}

/// .NET: `   at Label(args) in path:line N`, or `   at Label(args)` without source information.
fn fill_dotnet(stacktrace: &str, exceptions: &mut [Exception]) {
    for line in stacktrace.lines().skip(1) {
        let Some(rest) = line.trim_start().strip_prefix("at ") else {
            continue;
        };
        let rest = rest.trim_end();
        let frame = match rest.rfind(" in ") {
            Some(at) => {
                let location = &rest[at + 4..];
                let (path, line_no) = match location.rfind(":line ") {
                    Some(colon) => (
                        &location[..colon],
                        location[colon + 6..].parse().unwrap_or(0),
                    ),
                    None => (location, 0),
                };
                Frame {
                    path: path.to_string(),
                    line: line_no,
                    label: rest[..at].to_string(),
                }
            }
            None => Frame {
                path: String::new(),
                line: 0,
                label: rest.to_string(),
            },
        };
        exceptions[0].stack.push(frame);
    }
}

/// Go: pairs of a function line (`main.handler(0x1, 0x2)`) and a tab-indented location line
/// (`\t/src/main.go:42 +0x1d`).
fn fill_go(stacktrace: &str, exceptions: &mut [Exception]) {
    let lines: Vec<&str> = stacktrace.lines().collect();
    for pair in lines.windows(2) {
        let (func, location) = (pair[0], pair[1]);
        if func.starts_with('\t') || func.is_empty() || func.starts_with("goroutine ") {
            continue;
        }
        let Some(location) = location.strip_prefix('\t') else {
            continue;
        };
        let location = location.split(" +0x").next().unwrap_or(location);
        let (path, line_no) = match location.rfind(':') {
            Some(colon) => (
                &location[..colon],
                location[colon + 1..].parse().unwrap_or(0),
            ),
            None => (location, 0),
        };
        // Arguments (`(0x1, 0x2)` or `(...)`) are not part of the label.
        let label = match func.rfind('(') {
            Some(open) if func.ends_with(')') => &func[..open],
            _ => func,
        };
        exceptions[0].stack.push(Frame {
            path: path.to_string(),
            line: line_no,
            label: label.to_string(),
        });
    }
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() { None } else { Some(s) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(language: &str, stacktrace: &str) -> Vec<Exception> {
        let mut exceptions = vec![Exception {
            id: "e0".into(),
            ..Exception::default()
        }];
        let mut n = 0;
        fill(language, stacktrace, &mut exceptions, &mut || {
            n += 1;
            format!("e{n}")
        });
        exceptions
    }

    fn frame(path: &str, line: i64, label: &str) -> Frame {
        Frame {
            path: path.into(),
            line,
            label: label.into(),
        }
    }

    #[test]
    fn java_frames_and_caused_by_chain() {
        let trace = "java.lang.IllegalStateException: outer\n\
\tat com.example.Shop.buy(Shop.java:42)\n\
\tat java.base/java.lang.Thread.run(Unknown Source)\n\
Caused by: java.io.IOException: disk\nfull\n\
\tat com.example.Disk.write(Disk.java:7)\n\
\t... 1 more\n";
        let ex = parse("java", trace);
        assert_eq!(ex.len(), 2);
        assert_eq!(
            ex[0].stack,
            vec![
                frame("Shop.java", 42, "com.example.Shop.buy"),
                frame("Unknown Source", 0, "java.lang.Thread.run"),
            ]
        );
        assert_eq!(ex[0].cause.as_deref(), Some("e1"));
        assert_eq!(ex[1].kind.as_deref(), Some("java.io.IOException"));
        assert_eq!(ex[1].message.as_deref(), Some("diskfull"));
        assert_eq!(
            ex[1].stack,
            vec![frame("Disk.java", 7, "com.example.Disk.write")]
        );
    }

    #[test]
    fn python_frames_most_recent_first_and_chained_cause() {
        let trace = "Traceback (most recent call last):\n  File \"/app/db.py\", line 3, in connect\n    raise OSError(\"refused\")\nOSError: refused\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"/app/main.py\", line 10, in <module>\n    handler()\n  File \"/app/main.py\", line 7, in handler\n    raise RuntimeError(\"boom\")\nRuntimeError: boom\n";
        let ex = parse("python", trace);
        assert_eq!(ex.len(), 2);
        assert_eq!(
            ex[0].stack,
            vec![
                frame("/app/main.py", 7, "handler"),
                frame("/app/main.py", 10, "<module>"),
            ]
        );
        assert_eq!(ex[0].cause.as_deref(), Some("e1"));
        assert_eq!(ex[1].kind.as_deref(), Some("OSError"));
        assert_eq!(ex[1].message.as_deref(), Some("refused"));
        assert_eq!(ex[1].stack, vec![frame("/app/db.py", 3, "connect")]);
    }

    #[test]
    fn javascript_frames_with_and_without_labels() {
        let trace = "Error: boom\n    at handler (/app/index.js:10:15)\n    at /app/server.js:3:1\n    at Array.forEach (native)\n";
        let ex = parse("javascript", trace);
        assert_eq!(
            ex[0].stack,
            vec![
                frame("/app/index.js", 10, "handler"),
                frame("/app/server.js", 3, ""),
                frame("native", 0, "Array.forEach"),
            ]
        );
    }

    #[test]
    fn dotnet_frames_with_and_without_source() {
        let trace = "System.Exception: boom\n   at Shop.Cart.Buy(Int32 n) in C:\\src\\Cart.cs:line 42\n   at Shop.Program.Main()\n";
        let ex = parse("dotnet", trace);
        assert_eq!(
            ex[0].stack,
            vec![
                frame("C:\\src\\Cart.cs", 42, "Shop.Cart.Buy(Int32 n)"),
                frame("", 0, "Shop.Program.Main()"),
            ]
        );
    }

    #[test]
    fn go_function_and_location_pairs() {
        let trace = "panic: boom\n\ngoroutine 1 [running]:\nmain.handler(0x1)\n\t/src/main.go:42 +0x1d\nmain.main()\n\t/src/main.go:10 +0x25\n";
        let ex = parse("go", trace);
        assert_eq!(
            ex[0].stack,
            vec![
                frame("/src/main.go", 42, "main.handler"),
                frame("/src/main.go", 10, "main.main"),
            ]
        );
    }

    #[test]
    fn unknown_language_gives_no_stack() {
        let ex = parse("rust", "boom\n  at somewhere");
        assert!(ex[0].stack.is_empty());
    }
}
