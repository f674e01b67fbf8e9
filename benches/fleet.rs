//! A fleet of 1,000 clusters in one stage (all at once) against the emulator, on a simulated
//! clock: `cargo bench --bench fleet` (`FLEET_CLUSTERS=N` for another size). A plain `main`
//! (harness = false) on a 2-worker tokio runtime.
//!
//! Time is simulated, not waited for: the client's [`Clock`] is virtual, and when every request
//! has been answered and the drivers all sleep, it jumps to the earliest wake-up. The emulator's
//! tasks move with that time (one step per `FLEET_STEP_SECS` of simulated time; reads do not move them),
//! so an upgrade takes simulated minutes, as at the service, and the driver's back-off polling
//! is measured against those durations. The emulator runs in the same process, so the peak RSS
//! (`VmHWM`) and the CPU time include the server's.
//!
//! Printed: requests per cluster upgrade (everything the emulator received, listing and
//! pre-flight included, over the clusters upgraded); what a fixed 10 s poll (the Terraform
//! provider's pace) would send for the same simulated durations (the same writes, plus one read
//! per 10 s from each cluster's first request to its upgrade's completion); peak RSS; CPU time
//! per cluster upgrade. The emulator's request log (at most 100,000 requests, 64 MiB) is part of
//! the peak RSS, and caps the request counts of very large runs (the bench says so).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, SystemTime};

use cce_upgrade::clock::Clock;
use cce_upgrade::emulator::{Emulator, EmulatorConfig, NewCluster};
use cce_upgrade::fleet::{Fleet, FleetEvent, FleetOutcome, FleetSpec, Selector, Stage};

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
const REGION: &str = "cn-north-4";

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

fn main() {
    let clusters: usize = std::env::var("FLEET_CLUSTERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(clusters));
}

async fn bench(clusters: usize) {
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
    let sim = SimClock::default();
    let client = emulator
        .client_builder()
        .clock(Arc::new(sim.clone()))
        .build()
        .unwrap();
    let stage = Stage::new("all", vec![Selector::tags(REGION, [("fleet", "bench")])])
        .max_concurrent(clusters as u32);
    let mut fleet = Fleet::new(FleetSpec::new("v1.29", vec![stage])).region(REGION, client);
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

    // Time moves when the drivers are idle: no new sleep for a moment of real time (a bench,
    // not a test: a late jump only makes a driver's wait look shorter).
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ticker = {
        let sim = sim.clone();
        let done = done.clone();
        let emulator = emulator.clone();
        tokio::spawn(async move {
            let mut last = u64::MAX;
            let mut stepped = Duration::ZERO;
            let step = step();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let seen = sim.inner.lock().unwrap().next_id;
                if seen != last {
                    last = seen;
                    continue;
                }
                if sim.jump().is_some() {
                    let now = sim.elapsed();
                    while stepped + step <= now {
                        stepped += step;
                        emulator.advance(1);
                        emulator.advance_clock(step);
                    }
                }
            }
        })
    };

    let cpu_before = cpu_time();
    let real = std::time::Instant::now();
    let report = fleet.run().await.unwrap();
    let real = real.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = ticker.await;
    drop(fleet);
    let _ = recorder.await;
    if report.outcome != FleetOutcome::Done {
        eprintln!("pre-checks of c0000: {:?}", emulator.pre_checks("c0000"));
        eprintln!("first cluster: {:?}", report.stages[0].clusters[0]);
        eprintln!("simulated {:?}", sim.elapsed());
        std::process::exit(1);
    }

    let requests = emulator.requests();
    let total = requests.len();
    if total >= cce_upgrade::emulator::MAX_RECORDED_REQUESTS {
        println!(
            "  NOTE: the emulator keeps only the last {} requests: the counts below are lower \
             bounds; run with fewer clusters (FLEET_CLUSTERS=300) for exact request figures",
            cce_upgrade::emulator::MAX_RECORDED_REQUESTS
        );
    }
    let writes = requests.iter().filter(|r| r.method != "GET").count();
    let spans = spans.lock().unwrap().clone();
    let fixed_polls: u64 = spans
        .values()
        .map(|(start, end)| end.saturating_sub(*start).as_secs().div_ceil(10))
        .sum();
    let fixed = writes as u64 + fixed_polls;
    let upgraded = spans.len().max(1);
    let mean_sim = spans
        .values()
        .map(|(s, e)| e.saturating_sub(*s))
        .sum::<Duration>()
        / upgraded as u32;
    let hwm_kib = proc_status("VmHWM:").unwrap_or(0);
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
    println!("  requests (all)                 {total:>10} ({writes} writes)");
    println!(
        "  requests per cluster upgrade   {:>10.1}",
        total as f64 / upgraded as f64
    );
    println!(
        "  fixed 10 s poll, same durations{:>10.1} per cluster upgrade ({fixed} in all)",
        fixed as f64 / upgraded as f64
    );
    println!(
        "  ratio to the fixed 10 s poll   {:>10.2}",
        total as f64 / fixed.max(1) as f64
    );
    println!(
        "  peak RSS (VmHWM, with the emulator) {:>5.1} MiB",
        hwm_kib as f64 / 1024.0
    );
    println!(
        "  CPU time per cluster upgrade   {:>10.2} ms (with the emulator's)",
        cpu.as_secs_f64() * 1000.0 / upgraded as f64
    );
    if let Ok(emulator) = Arc::try_unwrap(emulator) {
        emulator.shutdown().await;
    }
}
