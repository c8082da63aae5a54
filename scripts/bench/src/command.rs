//! Running the outside programs a run needs (perf, redis-benchmark, wrk) with a time limit: each
//! writes to a file in the scratch directory, so a full pipe can never stall it, and one that
//! overruns its limit is killed by pid.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Run `command` to completion within `limit`, its stdout and stderr into `output`; their text.
pub(crate) fn run_bounded(
    mut command: Command,
    output: &Path,
    limit: Duration,
) -> io::Result<String> {
    let name = format!("{:?}", command.get_program());
    let mut child = spawn_into(&mut command, output)?;
    match wait_bounded(&mut child, limit)? {
        Some(status) if status.success() => Ok(std::fs::read_to_string(output)?),
        Some(status) => Err(io::Error::other(format!(
            "{name} failed ({status}): {}",
            last_line(output)
        ))),
        None => Err(io::Error::other(format!(
            "{name} did not finish within {} s",
            limit.as_secs()
        ))),
    }
}

/// Start `command` with stdout and stderr into `output` and no stdin.
pub(crate) fn spawn_into(command: &mut Command, output: &Path) -> io::Result<Child> {
    let file = File::create(output)?;
    command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .map_err(|e| io::Error::other(format!("cannot start {:?}: {e}", command.get_program())))
}

/// Wait for `child` at most `limit`; kill it (by its pid, through `Child`) if it overruns.
/// `None` if it had to be killed.
pub(crate) fn wait_bounded(
    child: &mut Child,
    limit: Duration,
) -> io::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        thread::sleep(Duration::from_millis(20)); // no event to wait on for a child's exit
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(None)
}

fn last_line(output: &Path) -> String {
    let text = std::fs::read_to_string(output).unwrap_or_default();
    text.lines().last().unwrap_or("").trim().to_string()
}

/// The program's path, if it is installed (also in sbin, which a user's PATH may lack).
pub(crate) fn installed(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
