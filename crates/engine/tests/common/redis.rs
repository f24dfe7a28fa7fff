//! A Redis for the tests: the one on 6379 if it answers, else a private one.
use std::sync::OnceLock;

static URL: OnceLock<String> = OnceLock::new();

fn answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = tcp.set_read_timeout(Some(std::time::Duration::from_millis(500)));
    if tcp.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    tcp.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// A redis-server process, stopped when dropped.
pub struct Redis(std::process::Child);

impl Redis {
    /// Stops it at once (SIGKILL), as a crash.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `redis-server` on `port` (no persistence).
pub fn spawn(port: u16) -> Redis {
    let mut child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server is installed (scripts/redis.sh installs it)");
    for _ in 0..200 {
        if answers(port) {
            return Redis(child);
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("redis-server did not start on port {port}");
}

pub fn url() -> String {
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("PIAZZA_TEST_REDIS") {
            return url;
        }
        if answers(6379) {
            return "redis://127.0.0.1:6379".into();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // Leaked on purpose: it lives as long as the test process.
        std::mem::forget(spawn(port));
        format!("redis://127.0.0.1:{port}")
    })
    .clone()
}
