//! Writing rendered outputs, all or nothing, across every output directory of one command.
//!
//! `write_all` works in two phases. Staging: for every output, its files are written into a
//! temporary directory inside the output directory (`.blueprint-render-*`), next to an empty backup
//! directory (`.blueprint-previous-*`); any failure here drops every temporary and every directory
//! staging created, so nothing on disk changed. Swapping: for every output and every target, the
//! live target directory is renamed into the backup and the staged one renamed into its place,
//! each step recorded in a journal. If a rename fails, the journal is undone in reverse, so every
//! output is as it was. If undoing fails too, the backups that still hold previous output are kept
//! on disk and the error (`WriteError::Partial`) names exactly which directories hold new output
//! and where each previous output now is.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::Target;

/// One output of a command: the files rendered for `targets`, to be written under `dir`.
#[derive(Debug, Clone, Copy)]
pub struct Output<'a> {
    /// The output directory (`--out`, or `--out/<blueprint name>` for several blueprints).
    pub dir: &'a Path,
    /// The rendered targets; each one's directory under `dir` is replaced as a whole.
    pub targets: &'a [Target],
    /// The rendered files, keyed by path relative to `dir` (`kubernetes/namespace.yaml`).
    pub files: &'a BTreeMap<PathBuf, String>,
}

/// Why `write_all` failed, and what it left on disk.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Nothing was written: every output directory is as it was before.
    #[error(
        "cannot write {}: {source}; nothing was written, every previous output is unchanged",
        path.display()
    )]
    Unchanged {
        /// The path the failing operation was about.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A swap failed and could not be fully undone.
    #[error(
        "cannot write {}: {source}; restoring the previous output failed too, so the output is now mixed: {state}",
        path.display()
    )]
    Partial {
        /// The path the failing operation was about.
        path: PathBuf,
        /// The cause.
        source: io::Error,
        /// What is where now.
        state: PartialState,
    },
}

/// What a swap that could not be undone left behind.
#[derive(Debug, Default)]
pub struct PartialState {
    /// Target directories that now hold newly rendered output.
    pub written: Vec<PathBuf>,
    /// Target directories whose previous content was moved away and not put back: (where it
    /// belongs, where it is now). These backups are kept on disk.
    pub moved: Vec<(PathBuf, PathBuf)>,
}

impl fmt::Display for PartialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.written.is_empty() {
            parts.push("no directory holds new output".to_owned());
        }
        for dir in &self.written {
            parts.push(format!("{} holds the new output", dir.display()));
        }
        for (live, now) in &self.moved {
            parts.push(format!(
                "the previous {} is in {}",
                live.display(),
                now.display()
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Writes one output; see `write_all`.
pub fn write_atomically(
    out: &Path,
    targets: &[Target],
    files: &BTreeMap<PathBuf, String>,
) -> Result<(), WriteError> {
    write_all(&[Output {
        dir: out,
        targets,
        files,
    }])
}

/// Writes every output, replacing each rendered target's directory as a whole: either every
/// output is written, or none is and the error says so (`WriteError::Unchanged`), or, when a
/// failed swap cannot be undone, the error says exactly what is where (`WriteError::Partial`).
/// No temporary directory is left behind except backups that `Partial` names. Target directories
/// that were not rendered are left alone.
pub fn write_all(outputs: &[Output<'_>]) -> Result<(), WriteError> {
    write_all_with(outputs, &mut |from, to| std::fs::rename(from, to))
}

/// `write_all` with the rename operation of the swap phase given, so tests can make it fail.
fn write_all_with(
    outputs: &[Output<'_>],
    rename: &mut dyn FnMut(&Path, &Path) -> io::Result<()>,
) -> Result<(), WriteError> {
    let mut staged = Vec::with_capacity(outputs.len());
    for output in outputs {
        staged.push(Staged::new(output)?);
    }
    let mut journal = Vec::new();
    let failure = swap(&staged, &mut journal, rename).err();
    let Some((path, source)) = failure else {
        for s in &mut staged {
            s.committed = true;
        }
        return Ok(());
    };
    let state = undo(&journal, rename);
    if state.written.is_empty() && state.moved.is_empty() {
        return Err(WriteError::Unchanged { path, source });
    }
    // The previous output still in a backup must survive the temporaries' cleanup.
    for s in &mut staged {
        s.committed = true;
        if state
            .moved
            .iter()
            .any(|(_, now)| now.starts_with(s.backup()))
        {
            if let Some(backup) = s.backup.take() {
                let _kept = backup.keep();
            }
        }
    }
    Err(WriteError::Partial {
        path,
        source,
        state,
    })
}

/// One output staged: its files written into a temporary directory, an empty backup directory,
/// and the directories that staging created (removed again when the write does not happen).
struct Staged {
    dir: PathBuf,
    targets: Vec<Target>,
    staging: Option<TempDir>,
    backup: Option<TempDir>,
    created: Vec<PathBuf>,
    committed: bool,
}

impl Staged {
    fn new(output: &Output<'_>) -> Result<Self, WriteError> {
        let fail = |path: &Path| {
            let path = path.to_path_buf();
            move |source| WriteError::Unchanged { path, source }
        };
        let mut staged = Staged {
            dir: output.dir.to_path_buf(),
            targets: output.targets.to_vec(),
            staging: None,
            backup: None,
            created: Vec::new(),
            committed: false,
        };
        let mut missing = Vec::new();
        let mut dir = output.dir;
        while !dir.as_os_str().is_empty() && !dir.exists() {
            missing.push(dir.to_path_buf());
            match dir.parent() {
                Some(parent) => dir = parent,
                None => break,
            }
        }
        for dir in missing.into_iter().rev() {
            std::fs::create_dir(&dir).map_err(fail(&dir))?;
            staged.created.push(dir);
        }
        let staging = tempfile::Builder::new()
            .prefix(".blueprint-render-")
            .tempdir_in(output.dir)
            .map_err(fail(output.dir))?;
        for (path, text) in output.files {
            let dest = staging.path().join(path);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(fail(&output.dir.join(path)))?;
            }
            std::fs::write(&dest, text).map_err(fail(&output.dir.join(path)))?;
        }
        staged.staging = Some(staging);
        let backup = tempfile::Builder::new()
            .prefix(".blueprint-previous-")
            .tempdir_in(output.dir)
            .map_err(fail(output.dir))?;
        staged.backup = Some(backup);
        Ok(staged)
    }

    fn staging(&self) -> &Path {
        self.staging.as_ref().map_or(Path::new(""), |d| d.path())
    }

    fn backup(&self) -> &Path {
        self.backup.as_ref().map_or(Path::new(""), |d| d.path())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Temporaries go first, then (when nothing was written) the directories staging created.
        drop(self.staging.take());
        drop(self.backup.take());
        if !self.committed {
            for dir in self.created.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// One completed rename of the swap phase.
enum Step {
    /// The live target directory was moved into the backup.
    MovedOld { live: PathBuf, backup: PathBuf },
    /// The staged target directory was moved into place.
    MovedNew { staged: PathBuf, live: PathBuf },
}

fn swap(
    staged: &[Staged],
    journal: &mut Vec<Step>,
    rename: &mut dyn FnMut(&Path, &Path) -> io::Result<()>,
) -> Result<(), (PathBuf, io::Error)> {
    for s in staged {
        for &target in &s.targets {
            let new = s.staging().join(target.dir());
            let live = s.dir.join(target.dir());
            if live.symlink_metadata().is_ok() {
                let backup = s.backup().join(target.dir());
                rename(&live, &backup).map_err(|e| (live.clone(), e))?;
                journal.push(Step::MovedOld {
                    live: live.clone(),
                    backup,
                });
            }
            if new.exists() {
                rename(&new, &live).map_err(|e| (live.clone(), e))?;
                journal.push(Step::MovedNew { staged: new, live });
            }
        }
    }
    Ok(())
}

/// Undoes the journal in reverse; returns what could not be undone.
fn undo(journal: &[Step], rename: &mut dyn FnMut(&Path, &Path) -> io::Result<()>) -> PartialState {
    let mut state = PartialState::default();
    // A live directory whose new output could not be moved back cannot take its previous one.
    let mut occupied: Vec<&Path> = Vec::new();
    for step in journal.iter().rev() {
        match step {
            Step::MovedNew { staged, live } => {
                if rename(live, staged).is_err() {
                    state.written.push(live.clone());
                    occupied.push(live);
                }
            }
            Step::MovedOld { live, backup } => {
                if occupied.contains(&live.as_path()) || rename(backup, live).is_err() {
                    state.moved.push((live.clone(), backup.clone()));
                }
            }
        }
    }
    state.written.reverse();
    state.moved.reverse();
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
        let mut files = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let text = std::fs::read_to_string(&path).unwrap();
                    files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), text);
                }
            }
        }
        files
    }

    fn files(text: &str) -> BTreeMap<PathBuf, String> {
        BTreeMap::from([(PathBuf::from("kubernetes/a.yaml"), text.to_owned())])
    }

    /// Two outputs, each with a previous `kubernetes/old.yaml`.
    fn two_outputs() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
        for dir in [&one, &two] {
            std::fs::create_dir_all(dir.join("kubernetes")).unwrap();
            std::fs::write(dir.join("kubernetes/old.yaml"), "old\n").unwrap();
        }
        (tmp, one, two)
    }

    #[test]
    fn a_swap_failing_midway_is_undone() {
        let (tmp, one, two) = two_outputs();
        let before = tree(tmp.path());
        let (f1, f2) = (files("1\n"), files("2\n"));
        let outputs = [
            Output {
                dir: &one,
                targets: &[Target::Kubernetes],
                files: &f1,
            },
            Output {
                dir: &two,
                targets: &[Target::Kubernetes],
                files: &f2,
            },
        ];
        // The first output is swapped in (2 renames); the second's move into place fails.
        let mut calls = 0;
        let mut rename = |from: &Path, to: &Path| {
            calls += 1;
            if calls == 4 {
                Err(io::Error::other("injected"))
            } else {
                std::fs::rename(from, to)
            }
        };
        let err = write_all_with(&outputs, &mut rename).unwrap_err();
        assert!(matches!(err, WriteError::Unchanged { .. }), "{err}");
        assert!(err.to_string().contains("nothing was written"), "{err}");
        assert_eq!(tree(tmp.path()), before);
        assert_eq!(calls, 4 + 3, "three completed renames undone");
    }

    #[test]
    fn a_swap_that_cannot_be_undone_says_what_is_where() {
        let (tmp, one, two) = two_outputs();
        let (f1, f2) = (files("1\n"), files("2\n"));
        let outputs = [
            Output {
                dir: &one,
                targets: &[Target::Kubernetes],
                files: &f1,
            },
            Output {
                dir: &two,
                targets: &[Target::Kubernetes],
                files: &f2,
            },
        ];
        // The second output's move into place fails, and so does moving the first's new output
        // back out.
        let mut calls = 0;
        let mut rename = |from: &Path, to: &Path| {
            calls += 1;
            if calls == 4 || (calls > 4 && from == one.join("kubernetes")) {
                Err(io::Error::other("injected"))
            } else {
                std::fs::rename(from, to)
            }
        };
        let err = write_all_with(&outputs, &mut rename).unwrap_err();
        let WriteError::Partial { state, .. } = &err else {
            panic!("expected Partial, got {err}")
        };
        assert_eq!(state.written, [one.join("kubernetes")]);
        assert_eq!(state.moved.len(), 1);
        let (live, now) = &state.moved[0];
        assert_eq!(live, &one.join("kubernetes"));
        // The previous output of the first is kept where the message says.
        assert_eq!(
            std::fs::read_to_string(now.join("old.yaml")).unwrap(),
            "old\n"
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "{} holds the new output",
                one.join("kubernetes").display()
            )),
            "{text}"
        );
        assert!(text.contains(&now.display().to_string()), "{text}");
        // The first has its new output; the second is restored.
        assert_eq!(
            std::fs::read_to_string(one.join("kubernetes/a.yaml")).unwrap(),
            "1\n"
        );
        assert_eq!(tree(&two), tree_of_old());
        // Only the backup the message names is left; every other temporary is gone.
        let names = |dir: &Path| -> Vec<PathBuf> {
            let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(tmp.path()), [one.clone(), two.clone()]);
        assert_eq!(names(&two), [two.join("kubernetes")]);
        let kept = now.parent().unwrap().to_path_buf();
        let mut want = vec![kept, one.join("kubernetes")];
        want.sort();
        assert_eq!(names(&one), want);
    }

    fn tree_of_old() -> BTreeMap<PathBuf, String> {
        BTreeMap::from([(PathBuf::from("kubernetes/old.yaml"), "old\n".to_owned())])
    }

    #[test]
    fn a_failed_staging_removes_the_directories_it_created() {
        let tmp = tempfile::tempdir().unwrap();
        let fresh = tmp.path().join("new/deeper");
        let blocked = tmp.path().join("blocked");
        std::fs::write(&blocked, "a file where a directory must go\n").unwrap();
        let f = files("x\n");
        let outputs = [
            Output {
                dir: &fresh,
                targets: &[Target::Kubernetes],
                files: &f,
            },
            Output {
                dir: &blocked,
                targets: &[Target::Kubernetes],
                files: &f,
            },
        ];
        let err = write_all(&outputs).unwrap_err();
        assert!(matches!(err, WriteError::Unchanged { .. }), "{err}");
        assert!(!tmp.path().join("new").exists());
        assert_eq!(
            tree(tmp.path()),
            BTreeMap::from([(
                PathBuf::from("blocked"),
                "a file where a directory must go\n".to_owned()
            )])
        );
    }
}
