//! A private `/etc/hosts`, for names that move: the proxy runs in a mount namespace of the test's
//! own (`unshare --mount`, as root), where the test's file is bind-mounted over `/etc/hosts` and a
//! `hosts: files` over `/etc/nsswitch.conf`, so every name is answered from that file and no DNS
//! query leaves the machine. `unshare` makes the namespace's mounts private: the host's
//! `/etc/hosts` is untouched.
//!
//! The test moves a name by rewriting its file *in place* (truncated and written again, same
//! inode): a bind mount holds the inode it was given, so a rename would leave the proxy's view on
//! the old file. glibc reads /etc/hosts afresh at every lookup, so the next `getaddrinfo` sees it.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::data::TempDir;
use super::process::BINARY;

/// The files bind-mounted over /etc/hosts and /etc/nsswitch.conf.
pub struct PrivateHosts {
    dir: TempDir,
    hosts: PathBuf,
    inode: u64,
}

impl PrivateHosts {
    /// A hosts file holding `lines` (`"127.0.0.2 db.test"`), and the nsswitch.conf beside it.
    pub fn new(lines: &[&str]) -> PrivateHosts {
        assert!(
            Command::new("unshare").arg("--version").output().is_ok(),
            "unshare (util-linux) is missing: this test needs it to give the proxy its own /etc/hosts"
        );
        let dir = TempDir::new("hosts");
        let hosts = dir.0.join("hosts");
        std::fs::write(&hosts, "").expect("write the private hosts file");
        std::fs::write(dir.0.join("nsswitch.conf"), "hosts: files\n").expect("nsswitch.conf");
        let inode = std::fs::metadata(&hosts).expect("stat").ino();
        let private = PrivateHosts { dir, hosts, inode };
        private.rewrite(lines);
        private
    }

    /// Replace the file's contents in place: truncate and write, the same inode.
    pub fn rewrite(&self, lines: &[&str]) {
        let mut file = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.hosts)
            .expect("open the private hosts file");
        let mut text = String::from("127.0.0.1 localhost\n");
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        file.write_all(text.as_bytes())
            .expect("rewrite the hosts file");
        file.sync_all().expect("sync");
        let inode = std::fs::metadata(&self.hosts).expect("stat").ino();
        assert_eq!(
            inode, self.inode,
            "the hosts file was replaced, not rewritten in place"
        );
    }

    /// `tcpproxy ARGS...` in a mount namespace where these files are /etc/hosts and
    /// /etc/nsswitch.conf; stderr piped, for [`Proxy::spawn`](super::proxy::Proxy::spawn) or
    /// [`KillOnDrop`](super::process::KillOnDrop). A failed mount is the shell's exit status 32
    /// with mount's message on stderr, never a proxy started without them.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let inside = "mount --bind \"$1\" /etc/hosts && mount --bind \"$2\" /etc/nsswitch.conf && \
                      shift 2 && exec \"$0\" \"$@\"";
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "sh", "-c", inside, BINARY])
            .arg(&self.hosts)
            .arg(self.dir.0.join("nsswitch.conf"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }
}
