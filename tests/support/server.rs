//! A `skillhost run` child process to talk to over HTTP, and the binary with
//! a user's environment, for the tests that drive the real server.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{build_skills, repo, skillhost_bin};

/// The longest any poll waits before the test fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A `skillhost run` child process.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
    pub http: reqwest::blocking::Client,
    pub token: Option<String>,
}

impl Server {
    /// Starts `skillhost run PROJECT --no-build ARGS`, by default with
    /// `--store memory --listen 127.0.0.1:0`.
    pub fn start(project: &Path, args: &[&str]) -> Server {
        Self::try_start(project, args).unwrap_or_else(|(out, err)| {
            panic!("skillhost run did not start\nstdout:\n{out}\nstderr:\n{err}")
        })
    }

    pub fn try_start(project: &Path, args: &[&str]) -> Result<Server, (String, String)> {
        Self::try_start_cmd(skillhost(), project, args)
    }

    /// [`Server::start`] with the process's open-file limit (soft and hard)
    /// set to `nofile`, as a small `ulimit -n` would.
    pub fn start_with_fd_limit(project: &Path, args: &[&str], nofile: u64) -> Server {
        use std::os::unix::process::CommandExt;
        let mut cmd = skillhost();
        // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: nofile,
                    rlim_max: nofile,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        Self::try_start_cmd(cmd, project, args).unwrap_or_else(|(out, err)| {
            panic!("skillhost run did not start\nstdout:\n{out}\nstderr:\n{err}")
        })
    }

    fn try_start_cmd(
        mut cmd: Command,
        project: &Path,
        args: &[&str],
    ) -> Result<Server, (String, String)> {
        cmd.arg("run").arg(project).arg("--no-build");
        if !args.contains(&"--store") {
            cmd.args(["--store", "memory"]);
        }
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        let mut child = cmd
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting skillhost run");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        {
            let out = child.stdout.take().unwrap();
            let buf = stdout.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(addr) = line.strip_prefix("listening on ") {
                        let _ = tx.send(addr.to_string());
                    }
                    buf.lock().unwrap().push_str(&(line + "\n"));
                }
            });
            let mut err = child.stderr.take().unwrap();
            let buf = stderr.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = err.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&chunk[..n]));
                }
            });
        }
        let deadline = Instant::now() + PATIENCE;
        let url = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(url) => break url,
                Err(_) if Instant::now() > deadline => {
                    let _ = child.kill();
                }
                Err(_) => {}
            }
            if let Ok(Some(_)) = child.try_wait() {
                // Let the reader threads drain what the process said.
                std::thread::sleep(Duration::from_millis(200));
                return Err((
                    stdout.lock().unwrap().clone(),
                    stderr.lock().unwrap().clone(),
                ));
            }
        };
        // 0.0.0.0 is where it listens, not where to connect.
        let url = url.replace("0.0.0.0", "127.0.0.1");
        let token = args
            .iter()
            .position(|a| *a == "--token")
            .map(|i| args[i + 1].to_string());
        Ok(Server {
            child,
            url,
            stdout,
            stderr,
            http: reqwest::blocking::Client::new(),
            token,
        })
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::blocking::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.url));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        decode(self.request(reqwest::Method::GET, path).send().unwrap())
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        decode(
            self.request(reqwest::Method::POST, path)
                .json(body)
                .send()
                .unwrap(),
        )
    }

    pub fn post_raw(&self, path: &str, body: impl Into<reqwest::blocking::Body>) -> (u16, Value) {
        decode(
            self.request(reqwest::Method::POST, path)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .unwrap(),
        )
    }

    /// Submits an event for a sandbox user and returns its settled view.
    pub fn say(&self, idn: &str, who: &str, args: Value) -> Value {
        let (status, receipt) = self.post(
            "/v1/events",
            &json!({"idn": idn, "integration_idn": "sandbox", "connector_idn": "sandbox",
                    "actor": {"external_id": who}, "arguments": args}),
        );
        assert_eq!(status, 202, "{receipt}");
        let id = receipt["event_id"].as_str().unwrap();
        let (status, event) = self.get(&format!("/v1/events/{id}?wait=30"));
        assert_eq!(status, 200, "{event}");
        assert_eq!(event["status"], "settled", "{event}");
        event
    }

    /// The replies' texts of an event view.
    pub fn replies(event: &Value) -> Vec<String> {
        event["replies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Polls until `f` holds, failing the test after [`PATIENCE`].
    pub fn wait_for(&self, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !f() {
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {what}\nstderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn decode(resp: reqwest::blocking::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// The binary, with the environment a user would have (no token, no server).
pub fn skillhost() -> Command {
    build_skills();
    let mut cmd = Command::new(skillhost_bin());
    for var in ["SKILLHOST_TOKEN", "SKILLHOST_SERVER", "SKILLHOST_LOG"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs a command to completion.
pub fn run(args: &[&str]) -> Output {
    skillhost().args(args).output().expect("running skillhost")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A temp copy of the sample project whose `skills_workspace` points at the repo's skills.
pub fn sample_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo().join("flows")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "skillhost.yaml" {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    write_workspace(dir.path());
    dir
}

pub fn write_workspace(dir: &Path) {
    std::fs::write(
        dir.join("skillhost.yaml"),
        format!("skills_workspace: {}\n", repo().join("skills").display()),
    )
    .unwrap();
}
