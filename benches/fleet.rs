//! A fleet of 1,000 clusters in one stage (all at once) against the emulator, on a simulated
//! clock: `cargo bench --bench fleet` (`FLEET_CLUSTERS=N` for another size, `FLEET_POLL=5s,60s`
//! for another poll pace than the fleet's default). A plain `main` (harness = false).
//!
//! Two processes: this one is the runner (the fleet, its 1,000 drivers and their client, on a
//! 2-worker tokio runtime), and it starts itself again as the server (the emulator, on its own
//! runtime), driven over a pipe. So the runner's peak RSS (`VmHWM`) and CPU time are its own; the
//! server's are printed beside them.
//!
//! Time is simulated, not waited for: the client's [`Clock`] is virtual, and when no request is
//! in flight and the drivers all sleep, it jumps to the earliest wake-up. The emulator's tasks
//! move with that time (one step per `FLEET_STEP_SECS` of simulated time, applied before the
//! drivers wake; reads do not move them), so an upgrade takes simulated minutes, as at the
//! service, and the driver's polling is measured against those durations.
//!
//! Printed: requests per cluster upgrade (everything the runner sent, listing and pre-flight
//! included, over the clusters upgraded), and by operation; what a fixed 10 s poll (the Terraform
//! provider's pace) would send for the same simulated durations (the same writes, plus one read
//! per 10 s from each cluster's first request to its upgrade's completion); the runner's peak RSS
//! and CPU time per cluster upgrade, and the server's.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::pin::Pin;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, SystemTime};

use cce_upgrade::clock::Clock;
use cce_upgrade::emulator::{Emulator, EmulatorConfig, NewCluster};
use cce_upgrade::fleet::{Fleet, FleetEvent, FleetOutcome, FleetSpec, Selector, Stage};
use cce_upgrade::interceptor::{AfterAttempt, BeforeSigning, Interceptor};
use cce_upgrade::{Client, Credentials, Region};

/// Simulated time per emulator step (`FLEET_STEP_SECS`, default 180 s: an upgrade of about
/// half an hour, as at the service).
fn step() -> Duration {
    Duration::from_secs(
        std::env::var("FLEET_STEP_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(180),
    )
}

/// A clock whose time moves only when [`SimClock::jump`] moves it.
#[derive(Clone, Debug, Default)]
struct SimClock {
    inner: Arc<Mutex<SimState>>,
}

#[derive(Debug, Default)]
struct SimState {
    now: Duration,
    next_id: u64,
    sleepers: BTreeMap<(Duration, u64), Option<Waker>>,
}

const EPOCH: Duration = Duration::from_secs(1_800_000_000);

impl SimClock {
    fn elapsed(&self) -> Duration {
        self.inner.lock().unwrap().now
    }

    /// The earliest wake-up.
    fn next_wake(&self) -> Option<Duration> {
        let state = self.inner.lock().unwrap();
        state.sleepers.keys().next().map(|&(at, _)| at)
    }

    /// Moves time to the earliest wake-up and wakes those due; returns how far it moved.
    fn jump(&self) -> Option<Duration> {
        let mut state = self.inner.lock().unwrap();
        let (&(at, _), _) = state.sleepers.iter().next()?;
        let moved = at.saturating_sub(state.now);
        state.now = state.now.max(at);
        let now = state.now;
        let due: Vec<(Duration, u64)> = state
            .sleepers
            .range(..=(now, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            if let Some(Some(waker)) = state.sleepers.remove(&key) {
                waker.wake();
            }
        }
        Some(moved)
    }
}

impl Clock for SimClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + EPOCH + self.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let clock = self.clone();
        let key = {
            let mut state = clock.inner.lock().unwrap();
            state.next_id += 1;
            let key = (state.now + duration, state.next_id);
            state.sleepers.insert(key, None);
            key
        };
        Box::pin(std::future::poll_fn(move |cx| {
            let mut state = clock.inner.lock().unwrap();
            match state.sleepers.get_mut(&key) {
                None => Poll::Ready(()),
                Some(waker) => {
                    *waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }))
    }
}

fn proc_status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5): utime, stime, in clock ticks (100 per second on Linux).
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Set in the server process's environment: how many clusters it holds.
const SERVER: &str = "CCE_FLEET_BENCH_SERVER";

fn main() {
    let clusters: usize = std::env::var("FLEET_CLUSTERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    if let Some(clusters) = std::env::var(SERVER).ok().and_then(|n| n.parse().ok()) {
        return serve(clusters);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(clusters));
}

// ---- the server process ---------------------------------------------------------------------

/// The emulator with `clusters` clusters; prints how to reach it, then obeys one command per
/// line on stdin: `advance SECS` (one task step and the clock moved by SECS; answers `ok`) and
/// `report` (answers its request count, peak RSS and CPU time, then exits).
fn serve(clusters: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let emulator = Arc::new(
            Emulator::start_with(
                EmulatorConfig::fast()
                    .advance_on_read(false)
                    .start_time(SystemTime::UNIX_EPOCH + EPOCH)
                    .max_connections(clusters * 2 + 64),
            )
            .await
            .unwrap(),
        );
        for i in 0..clusters {
            emulator.add_cluster_with(
                NewCluster::cce(format!("c{i:04}"), "v1.28.15-r0").tag("fleet", "bench"),
            );
        }
        println!(
            "{} {} {} {} {}",
            emulator.endpoint(),
            emulator.access_key(),
            emulator.secret_key(),
            emulator.project_id(),
            emulator.region()
        );
        let control = emulator.clone();
        tokio::task::spawn_blocking(move || {
            for line in std::io::stdin().lock().lines() {
                let line = line.unwrap_or_default();
                let mut words = line.split_whitespace();
                match (words.next(), words.next().and_then(|s| s.parse().ok())) {
                    (Some("advance"), Some(secs)) => {
                        control.advance(1);
                        control.advance_clock(Duration::from_secs(secs));
                        println!("ok");
                    }
                    (Some("report"), _) => {
                        println!(
                            "{} {} {}",
                            control.requests().len(),
                            proc_status("VmHWM:").unwrap_or(0),
                            cpu_time().as_micros()
                        );
                        return;
                    }
                    _ => return,
                }
            }
        })
        .await
        .unwrap();
    });
    // The runtime's drop ends the server's connections.
}

/// The runner's end of the pipe to the server.
struct Server {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Server {
    fn start(clusters: usize) -> (Server, String) {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(SERVER, clusters.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server process");
        let input = child.stdin.take().unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        (
            Server {
                child,
                input,
                output,
            },
            line,
        )
    }

    fn call(&mut self, command: &str) -> String {
        writeln!(self.input, "{command}").unwrap();
        self.input.flush().unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        line
    }
}

// ---- the runner -------------------------------------------------------------------------------

/// Counts what the runner sends, by operation, and what is in flight.
#[derive(Clone, Default)]
struct Counter {
    in_flight: Arc<AtomicUsize>,
    sent: Arc<Mutex<BTreeMap<&'static str, (usize, bool)>>>,
}

impl Interceptor for Counter {
    fn before_signing(&self, request: &mut BeforeSigning<'_>) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let write = request.method() != http::Method::GET;
        let mut sent = self.sent.lock().unwrap();
        let entry = sent.entry(request.operation()).or_insert((0, write));
        entry.0 += 1;
    }

    fn after_attempt(&self, _: &AfterAttempt<'_>) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn bench(clusters: usize) {
    let (server, line) = Server::start(clusters);
    let server = Arc::new(Mutex::new(server));
    let words: Vec<&str> = line.split_whitespace().collect();
    let [endpoint, ak, sk, project, region] = words[..] else {
        panic!("the server said {line:?}");
    };
    let sim = SimClock::default();
    let counter = Counter::default();
    let client = Client::builder()
        .region(Region::new(region.to_owned()))
        .endpoint(endpoint)
        .iam_endpoint(endpoint)
        .credentials(Credentials::new(ak, sk))
        .project_id(project)
        .clock(Arc::new(sim.clone()))
        .interceptor(counter.clone())
        .build()
        .unwrap();
    let stage = Stage::new("all", vec![Selector::tags(region, [("fleet", "bench")])])
        .max_concurrent(clusters as u32);
    let mut spec = FleetSpec::new("v1.29", vec![stage]);
    // Another pace than the fleet's default: `FLEET_POLL=5s,60s`.
    if let Some((initial, max)) = std::env::var("FLEET_POLL")
        .ok()
        .and_then(|p| p.split_once(',').map(|(a, b)| (a.to_owned(), b.to_owned())))
    {
        let poll = serde_json::json!({"initial": initial, "max": max});
        spec.poll = Some(serde_json::from_value(poll).expect("FLEET_POLL=initial,max"));
    }
    let mut fleet = Fleet::new(spec).region(region, client);
    let mut events = fleet.events();

    // Per cluster: simulated start and end.
    let spans: Arc<Mutex<HashMap<String, (Duration, Duration)>>> = Arc::default();
    let recorder = {
        let spans = spans.clone();
        let sim = sim.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                match event {
                    FleetEvent::ClusterStarted { id, .. } => {
                        let now = sim.elapsed();
                        spans.lock().unwrap().insert(id, (now, now));
                    }
                    FleetEvent::ClusterFinished(c) => {
                        let now = sim.elapsed();
                        if let Some(span) = spans.lock().unwrap().get_mut(&c.id) {
                            span.1 = now;
                        }
                    }
                    _ => {}
                }
            }
        })
    };

    // Time moves when the runner is idle: nothing in flight and no new sleep for a moment of
    // real time (a bench, not a test: a late jump only makes a driver's wait look shorter).
    // The server's tasks move first, then the drivers due wake up and read them.
    let done = Arc::new(AtomicBool::new(false));
    let ticker = {
        let sim = sim.clone();
        let done = done.clone();
        let server = server.clone();
        let in_flight = counter.in_flight.clone();
        tokio::spawn(async move {
            let mut last = u64::MAX;
            let mut stepped = Duration::ZERO;
            let step = step();
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let seen = sim.inner.lock().unwrap().next_id;
                if seen != last || in_flight.load(Ordering::SeqCst) > 0 {
                    last = seen;
                    continue;
                }
                let Some(at) = sim.next_wake() else { continue };
                let mut steps = 0;
                while stepped + step <= at {
                    stepped += step;
                    steps += 1;
                }
                if steps > 0 {
                    let server = server.clone();
                    tokio::task::spawn_blocking(move || {
                        let mut server = server.lock().unwrap();
                        for _ in 0..steps {
                            server.call(&format!("advance {}", step.as_secs()));
                        }
                    })
                    .await
                    .unwrap();
                }
                sim.jump();
            }
        })
    };

    let cpu_before = cpu_time();
    let real = std::time::Instant::now();
    let report = fleet.run().await.unwrap();
    let real = real.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let hwm_kib = proc_status("VmHWM:").unwrap_or(0);
    done.store(true, Ordering::Relaxed);
    let _ = ticker.await;
    drop(fleet);
    let _ = recorder.await;
    let server_report = server.lock().unwrap().call("report");
    let _ = server.lock().unwrap().child.wait();
    if report.outcome != FleetOutcome::Done {
        eprintln!("first cluster: {:?}", report.stages[0].clusters[0]);
        eprintln!("simulated {:?}", sim.elapsed());
        std::process::exit(1);
    }
    let server_figures: Vec<u128> = server_report
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let [received, server_hwm_kib, server_cpu_us] = server_figures[..] else {
        panic!("the server reported {server_report:?}");
    };

    let sent = counter.sent.lock().unwrap().clone();
    let total: usize = sent.values().map(|(n, _)| n).sum();
    let writes: usize = sent.values().filter(|(_, w)| *w).map(|(n, _)| n).sum();
    let spans = spans.lock().unwrap().clone();
    let fixed_polls: u64 = spans
        .values()
        .map(|(start, end)| end.saturating_sub(*start).as_secs().div_ceil(10))
        .sum();
    let fixed = writes as u64 + fixed_polls;
    let upgraded = spans.len().max(1);
    let per = |n: f64| n / upgraded as f64;
    let mean_sim = spans
        .values()
        .map(|(s, e)| e.saturating_sub(*s))
        .sum::<Duration>()
        / upgraded as u32;
    println!("fleet bench: {clusters} clusters, one stage, maxConcurrent {clusters}");
    println!(
        "  simulated time of the run      {:>10.1} min (an upgrade: {:.1} min on average)",
        sim.elapsed().as_secs_f64() / 60.0,
        mean_sim.as_secs_f64() / 60.0
    );
    println!(
        "  real time                      {:>10.2} s",
        real.as_secs_f64()
    );
    println!(
        "  requests (all)                 {total:>10} ({writes} writes; the server received {received})"
    );
    println!(
        "  requests per cluster upgrade   {:>10.1}",
        per(total as f64)
    );
    println!(
        "  fixed 10 s poll, same durations{:>10.1} per cluster upgrade ({fixed} in all)",
        per(fixed as f64)
    );
    println!(
        "  ratio to the fixed 10 s poll   {:>10.2}",
        total as f64 / fixed.max(1) as f64
    );
    println!(
        "  runner's peak RSS (VmHWM)      {:>10.1} MiB (the server's: {:.1} MiB)",
        hwm_kib as f64 / 1024.0,
        server_hwm_kib as f64 / 1024.0
    );
    println!(
        "  runner's CPU per upgrade       {:>10.2} ms (the server's: {:.2} ms)",
        per(cpu.as_secs_f64() * 1000.0),
        per(server_cpu_us as f64 / 1000.0)
    );
    println!("  requests per cluster upgrade, by operation:");
    let mut by_count: Vec<_> = sent.into_iter().collect();
    by_count.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    for (operation, (count, _)) in by_count {
        println!("    {:>8.2}  {operation}", per(count as f64));
    }
}
