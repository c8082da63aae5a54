//! The program an upgrade starts: the path this process was started from, and its command line.
//!
//! The path is `argv[0]` made absolute once, at start-up, as the shell that started us found it:
//! a name with a `/` is taken against the working directory, a bare name is looked up in `PATH`
//! (an empty entry meaning the working directory), as `execvp` does. Done once, because the
//! working directory and `PATH` are only sure to be what the shell saw at the start.
//!
//! Not `/proc/self/exe`: that link names the inode this process runs, and after a package
//! upgrade (a new file renamed over the old name) it is the old, deleted one, so it would start
//! the old version again. The path, looked up afresh at each upgrade, is whatever file has the
//! name *now*. Nor are symbolic links resolved: `/usr/bin/tcpproxy -> /opt/tcpproxy-1.2/...`
//! may point elsewhere after the upgrade, and following it now would pin the old version.
//!
//! Nothing here blocks but reading a few directory entries at start-up.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where `execvp` looks when `PATH` is not set at all (glibc's default, `confstr(_CS_PATH)`).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// This process's program: the path to start again, and its whole command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// `argv[0]`, absolute.
    pub path: PathBuf,
    /// The command line, `argv[0]` as it was given included: the new process gets it unchanged.
    pub argv: Vec<OsString>,
}

/// Why this process's program could not be found (an upgrade then says so and does nothing).
#[derive(Debug)]
pub enum ProgramError {
    NoArgv0,
    WorkingDirectory(io::Error),
    NotInPath { name: OsString },
}

impl fmt::Display for ProgramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramError::NoArgv0 => write!(f, "this process was started without an argv[0]"),
            ProgramError::WorkingDirectory(e) => {
                write!(
                    f,
                    "cannot read the working directory to make argv[0] absolute: {e}"
                )
            }
            ProgramError::NotInPath { name } => write!(
                f,
                "argv[0] '{}' was not an executable file in any PATH directory at start-up",
                name.to_string_lossy()
            ),
        }
    }
}

impl std::error::Error for ProgramError {}

impl Program {
    /// This process's program, from argv, the working directory and `PATH` as they are now.
    pub fn of_this_process() -> Result<Program, ProgramError> {
        let argv: Vec<OsString> = env::args_os().collect();
        let argv0 = argv.first().ok_or(ProgramError::NoArgv0)?;
        let path = resolve(argv0, env::current_dir, env::var_os("PATH").as_deref())?;
        Ok(Program { path, argv })
    }
}

/// `argv0` as an absolute path: against `cwd` if it has a `/`, else in `path_var`'s directories.
fn resolve(
    argv0: &OsStr,
    cwd: impl Fn() -> io::Result<PathBuf>,
    path_var: Option<&OsStr>,
) -> Result<PathBuf, ProgramError> {
    let absolute = |path: &Path| -> Result<PathBuf, ProgramError> {
        let full = if path.is_absolute() {
            path.to_path_buf()
        } else {
            cwd().map_err(ProgramError::WorkingDirectory)?.join(path)
        };
        // Components drop the `.` of `./tcpproxy`; `..` stays, as only the file system knows it.
        Ok(full.components().collect())
    };
    if argv0.as_bytes().contains(&b'/') {
        return absolute(Path::new(argv0));
    }
    let path_var = path_var.unwrap_or(OsStr::new(DEFAULT_PATH));
    for dir in env::split_paths(path_var) {
        // An empty entry, or any relative one, is taken against the working directory.
        let candidate = absolute(&dir)?.join(argv0);
        if is_executable_file(&candidate) {
            return absolute(&candidate);
        }
    }
    Err(ProgramError::NotInPath {
        name: argv0.to_os_string(),
    })
}

/// What `execvp` would run: a regular file (through links) that someone may execute.
fn is_executable_file(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A directory of its own under the temp dir, with an executable `tcpproxy` and a plain file.
    fn scratch(name: &str) -> PathBuf {
        let dir = env::temp_dir().join(format!("tcpproxy-program-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("tcpproxy"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(dir.join("tcpproxy"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(dir.join("plain"), "").unwrap();
        dir
    }

    fn cwd(dir: &Path) -> impl Fn() -> io::Result<PathBuf> + '_ {
        move || Ok(dir.to_path_buf())
    }

    #[test]
    fn a_path_with_a_slash_is_taken_against_the_working_directory() {
        let here = Path::new("/srv/here");
        let got = |a: &str| resolve(OsStr::new(a), cwd(here), None).unwrap();
        assert_eq!(got("/usr/bin/tcpproxy"), Path::new("/usr/bin/tcpproxy"));
        assert_eq!(got("./tcpproxy"), Path::new("/srv/here/tcpproxy"));
        assert_eq!(got("bin/tcpproxy"), Path::new("/srv/here/bin/tcpproxy"));
        assert_eq!(got("../x/tcpproxy"), Path::new("/srv/here/../x/tcpproxy"));
    }

    #[test]
    fn a_bare_name_is_the_first_executable_one_in_path() {
        let (first, second) = (scratch("first"), scratch("second"));
        fs::remove_file(first.join("tcpproxy")).unwrap();
        fs::create_dir(first.join("tcpproxy")).unwrap(); // a directory is not a program
        let path = env::join_paths([Path::new("/nonexistent"), &first, &second]).unwrap();
        let found = resolve(OsStr::new("tcpproxy"), cwd(Path::new("/")), Some(&path));
        assert_eq!(found.unwrap(), second.join("tcpproxy"));
        let plain = resolve(OsStr::new("plain"), cwd(Path::new("/")), Some(&path));
        assert!(
            matches!(plain, Err(ProgramError::NotInPath { .. })),
            "{plain:?}"
        );
        for dir in [first, second] {
            fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn an_empty_path_entry_is_the_working_directory() {
        let dir = scratch("empty-entry");
        let found = resolve(
            OsStr::new("tcpproxy"),
            cwd(&dir),
            Some(OsStr::new("/nowhere:")),
        );
        assert_eq!(found.unwrap(), dir.join("tcpproxy"));
        fs::remove_dir_all(dir).unwrap();
    }
}
