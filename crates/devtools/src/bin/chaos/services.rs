//! The two stages as child processes of the harness, and the broker through its script.

use anyhow::{bail, Context};
use obs_devtools::chaos::Target;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The most of a stage's log a diagnosis reads.
const LOG_TAIL: u64 = 8 << 20;

/// One stage's process, restarted with the same port, environment and identity (so its
/// transactional id and static group membership are its predecessor's).
pub struct Stage {
    pub target: Target,
    pub port: u16,
    binary: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Child,
}

impl Stage {
    pub fn start(
        target: Target,
        bin_dir: &Path,
        log_dir: &Path,
        env: &[(String, String)],
    ) -> anyhow::Result<Stage> {
        let port = free_port()?;
        let mut env = env.to_vec();
        env.push(("OBS_HTTP__LISTEN".into(), format!("127.0.0.1:{port}")));
        let binary = bin_dir.join(target.name());
        let log = log_dir.join(format!("{}.log", target.name()));
        let child = spawn(&binary, &env, &log)?;
        Ok(Stage {
            target,
            port,
            binary,
            env,
            log,
            child,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `GET path` with the harness's read key: the JSON answer, or why there is none.
    pub async fn read(
        &self,
        http: &reqwest::Client,
        path: &str,
        token: &str,
    ) -> anyhow::Result<serde_json::Value> {
        Ok(http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// SIGKILL, waited for.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill().context("SIGKILL")?;
        self.child.wait().context("waiting for the killed stage")?;
        Ok(())
    }

    /// A new process in place of the killed one.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.child = spawn(&self.binary, &self.env, &self.log)?;
        Ok(())
    }

    /// How long its log is now: where a later [`Stage::log_since`] starts.
    pub fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map_or(0, |m| m.len())
    }

    /// Its log from byte `from` on (at most the last `LOG_TAIL` bytes of it).
    pub fn log_since(&self, from: u64) -> String {
        let Ok(mut file) = std::fs::File::open(&self.log) else {
            return String::new();
        };
        let start = from.max(self.log_len().saturating_sub(LOG_TAIL));
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
            return String::new();
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Has the process exited by itself?
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited: {status}", self.target.name())),
            Ok(None) => None,
            Err(e) => Some(format!("{}: {e}", self.target.name())),
        }
    }

    /// SIGTERM, then SIGKILL if it is still there after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(binary: &Path, env: &[(String, String)], log: &Path) -> anyhow::Result<Child> {
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let err = out.try_clone()?;
    Command::new(binary)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))
}

/// A port free at the time of asking.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs `scripts/kafka.sh` with `args` (its broker is the one its environment names:
/// `KAFKA_PORT`, `KAFKA_STATE_DIR`…, set by `scripts/chaos.sh`).
pub fn broker(script: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(script)
        .args(args)
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() {
        bail!("{} {} failed: {status}", script.display(), args.join(" "));
    }
    Ok(())
}
