//! `tcpproxy-docgen OUTDIR`: writes the man page and the shell completions of tcpproxy, generated
//! from its clap definition ([`tcpproxy::cli::Options`]), so they say what `tcpproxy --help` says.
//!
//! This file owns the layout of OUTDIR, which `make install` copies from:
//!
//! ```text
//!   OUTDIR/man/tcpproxy.1              (clap_mangen)
//!   OUTDIR/completions/tcpproxy.bash   (clap_complete, bash)
//!   OUTDIR/completions/_tcpproxy       (zsh)
//!   OUTDIR/completions/tcpproxy.fish   (fish)
//! ```
//!
//! It is a workspace member rather than the product's build.rs: a build script cannot use the
//! library it builds, and `cli.rs` imports the library's own types (`ArgError`, `Cidr`, `Version`),
//! so it would have to `include!` half the crate. Here the library is an ordinary dependency, and
//! clap_mangen and clap_complete stay out of the product's dependencies.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Command, CommandFactory, Parser};
use clap_complete::Shell;
use tcpproxy::cli::Options;

/// The name the completions complete: the installed program's.
const PROGRAM: &str = "tcpproxy";

/// Write tcpproxy's man page and its bash, zsh and fish completions into OUTDIR.
#[derive(Parser, Debug)]
#[command(name = "tcpproxy-docgen", about)]
struct Args {
    /// Where to write man/tcpproxy.1 and completions/ (created if missing)
    outdir: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match generate(&args.outdir) {
        Ok(written) => {
            for path in written {
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err((path, err)) => {
            eprintln!("tcpproxy-docgen: {}: {err}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// Every file, in the order written; on failure, the path that failed and why.
fn generate(outdir: &Path) -> Result<Vec<PathBuf>, (PathBuf, io::Error)> {
    let mut written = Vec::new();
    let man = outdir.join("man").join(format!("{PROGRAM}.1"));
    write_file(&man, |out| {
        clap_mangen::Man::new(Options::command()).render(out)
    })?;
    written.push(man);

    let dir = outdir.join("completions");
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        // The file name each shell looks for: tcpproxy.bash, _tcpproxy, tcpproxy.fish.
        let path = dir.join(clap_complete::Generator::file_name(&shell, PROGRAM));
        write_file(&path, |out| {
            let mut cmd: Command = Options::command();
            clap_complete::generate(shell, &mut cmd, PROGRAM, out);
            Ok(())
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Writes through `render` to a file beside `path`, then renames it over `path`: a failed run
/// never leaves half a man page where `make install` would copy it from.
fn write_file(
    path: &Path,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), (PathBuf, io::Error)> {
    let fail = |err| (path.to_path_buf(), err);
    let dir = path.parent().expect("every output path has a directory");
    fs::create_dir_all(dir).map_err(fail)?;
    let name = path.file_name().expect("every output path has a file name");
    let tmp = dir.join(format!(".{}.new", name.to_string_lossy()));
    let mut out = BufWriter::new(File::create(&tmp).map_err(fail)?);
    render(&mut out).map_err(fail)?;
    out.flush().map_err(fail)?;
    drop(out);
    fs::rename(&tmp, path).map_err(fail)
}
