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
    write_file(&man, render_man_page)?;
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

/// clap_mangen's sections, with two of our own where its rendering misleads: the SYNOPSIS, which
/// lists every option and leaves the three arguments that matter at the end, split across lines
/// (`<DESTI- NATION_HOST>`), and the signals and exit status, a table that filled text would
/// reflow and hyphenate mid-word (`sec- onds`). `.nh` turns hyphenation off for the whole page:
/// option names and numbers stay whole.
fn render_man_page(out: &mut dyn Write) -> io::Result<()> {
    let command = Options::command();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(out)?;
    out.write_all(b".nh\n")?;
    man.render_name_section(out)?;
    writeln!(
        out,
        ".SH SYNOPSIS\n\\fB{PROGRAM}\\fR [\\fIOPTIONS\\fR] \\fIDESTINATION_HOST\\fR \
         \\fIDESTINATION_PORT\\fR \\fILISTEN_PORT\\fR"
    )?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    if let Some(after) = command.get_after_help() {
        // No-fill: the table is laid out in columns already, as --help prints it.
        writeln!(out, ".SH \"SIGNALS, EXIT STATUS, ENVIRONMENT\"\n.nf")?;
        for line in after.to_string().lines() {
            writeln!(out, "{}", roff_line(line))?;
        }
        writeln!(out, ".fi")?;
    }
    man.render_version_section(out)
}

/// One line of text as roff reads it literally: backslashes escaped, `-` as a minus (a plain
/// `-` prints as a hyphen, U+2010, and `--drain` copied from the page would not work), and a
/// leading `.` or `'` (which would make it a request) guarded by the zero-width `\&`.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
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
