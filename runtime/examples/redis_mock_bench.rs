//! The mock side of `bench/mocks/redis.sh`: prints the Redis mock's start-up time (`serve()`
//! called → listening, and → the first `PING` answered) over 50 starts, then serves on
//! `$OSPECC_BENCH_PORT` until the file `$OSPECC_BENCH_STOP` exists (at most 10 minutes), for
//! redis-benchmark to measure.

use std::error::Error;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ospecc_runtime::events::EventLog;
use ospecc_runtime::mock::{self, DynamicHandler, MockReply, MockRequest};
use ospecc_schema::plan::Service;
use serde_json::{json, Value};

struct NoHandler;

impl DynamicHandler for NoHandler {
    fn respond(&self, _: &str, _: &MockRequest) -> MockReply {
        MockReply { status: 500, headers: Vec::new(), body: Vec::new() }
    }
}

fn cache(port: u16, config: Value) -> Result<Service, serde_json::Error> {
    serde_json::from_value(json!({
        "name": "cache",
        "origin": { "file": "bench.star", "line": 1, "column": 1 },
        "launch": { "kind": "mock", "routes": [], "config": config },
        "interfaces": [{ "name": "main", "protocol": "redis", "port": port }],
        "env": [], "ports": [], "depends_on": [], "observe": [], "ops": [],
        "seccomp": true, "intercept": []
    }))
}

fn main() -> Result<(), Box<dyn Error>> {
    let port: u16 = std::env::var("OSPECC_BENCH_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(21050);
    let stop = PathBuf::from(std::env::var("OSPECC_BENCH_STOP").unwrap_or_else(|_| "/tmp/ospecc-bench-stop".into()));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let state = json!({"state": {"user:1": "alice", "counter": 0}});
    let (mut listening, mut answering) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        let started = Instant::now();
        let handle =
            runtime.block_on(mock::serve(&cache(0, state.clone())?, Arc::new(NoHandler), EventLog::default(), None))?;
        listening.push(started.elapsed());
        let mut socket = TcpStream::connect(handle.address())?;
        socket.set_read_timeout(Some(Duration::from_secs(5)))?;
        socket.write_all(b"PING\r\n")?;
        let mut pong = [0; 7];
        socket.read_exact(&mut pong)?;
        answering.push(started.elapsed());
        if &pong != b"+PONG\r\n" {
            return Err(format!("the mock answered {:?} to PING", String::from_utf8_lossy(&pong)).into());
        }
        runtime.block_on(handle.stop());
    }
    listening.sort();
    answering.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "startup_us listening p50={:.0} p99={:.0} first_reply p50={:.0} p99={:.0}",
        us(listening[25]),
        us(listening[49]),
        us(answering[25]),
        us(answering[49])
    );
    let handle = runtime.block_on(mock::serve(&cache(port, state)?, Arc::new(NoHandler), EventLog::default(), None))?;
    println!("READY {}", handle.address());
    let deadline = Instant::now() + Duration::from_secs(600);
    while !stop.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    runtime.block_on(handle.stop());
    Ok(())
}
