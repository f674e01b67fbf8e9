//! Upgrades a cluster end to end.
//!
//! ```text
//! cargo run --example upgrade_cluster                      # against the embedded emulator
//! cargo run --example upgrade_cluster -- --autopilot       # the Autopilot flow, same
//! HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... cargo run --example upgrade_cluster -- \
//!     --region cn-north-4 --cluster-id <id> --target-version v1.29 --nodepool-id <pool>
//! ```
//!
//! Without credentials anywhere (environment, profile file) it starts the local CCE emulator
//! in-process and upgrades its demo cluster. With credentials it talks to the region's endpoint
//! (or `HUAWEICLOUD_SDK_REGION_CCE_<REGION>`) and needs `--cluster-id` and `--target-version`.
//!
//! CCE cluster: create the upgrade workflow, follow its Cluster task with a progress bar, sync the
//! node pools, print a summary. `--autopilot`: follow the newest workflow of the cluster to its
//! end, run the post-upgrade check, print a summary.

mod flow;

use std::process::ExitCode;
use std::time::Duration;

use cce_upgrade::emulator::{Emulator, EmulatorConfig};
use cce_upgrade::types::{UpgradeTask, UpgradeWorkFlow};
use cce_upgrade::{Client, Env, credentials};
use indicatif::{ProgressBar, ProgressStyle};

use flow::{Options, Progress};

struct Args {
    region: String,
    cluster_id: Option<String>,
    target_version: Option<String>,
    nodepool_ids: Vec<String>,
    autopilot: bool,
}

const USAGE: &str = "usage: upgrade_cluster [--region REGION] [--cluster-id ID] [--target-version VERSION] \
                     [--nodepool-id ID]... [--autopilot]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        region: "cn-north-4".into(),
        cluster_id: None,
        target_version: None,
        nodepool_ids: vec![],
        autopilot: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--region" => args.region = value()?,
            "--cluster-id" => args.cluster_id = Some(value()?),
            "--target-version" => args.target_version = Some(value()?),
            "--nodepool-id" => args.nodepool_ids.push(value()?),
            "--autopilot" => args.autopilot = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(args)
}

/// A progress bar for the task's percentage, or the workflow's finished points.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::new(100);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] [{bar:40}] {pos:>3}% {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Bar(bar)
    }
}

impl Progress for Bar {
    fn step(&mut self, message: &str) {
        if self.0.is_hidden() {
            println!("-> {message}");
        } else {
            self.0.println(format!("-> {message}"));
        }
        self.0.set_message(message.to_owned());
    }

    fn task(&mut self, task: &UpgradeTask) {
        self.0
            .set_position(task.progress_percent().unwrap_or(0.0).round() as u64);
        self.0.set_message(format!(
            "task {}",
            task.phase().map_or("?".into(), ToString::to_string)
        ));
    }

    fn workflow(&mut self, workflow: &UpgradeWorkFlow) {
        let points = workflow
            .status
            .as_ref()
            .map(|s| s.point_statuses.as_slice())
            .unwrap_or_default();
        let done = points
            .iter()
            .filter(|p| p.status.as_ref().is_some_and(|s| s.as_str() == "Success"))
            .count();
        self.0
            .set_position((done * 100 / points.len().max(1)) as u64);
        let running: Vec<String> = points
            .iter()
            .filter(|p| p.status.as_ref().is_some_and(|s| s.as_str() == "Running"))
            .filter_map(|p| p.task_type.as_ref().map(ToString::to_string))
            .collect();
        let phase = workflow.phase().map_or("?".into(), ToString::to_string);
        self.0
            .set_message(format!("workflow {phase} {}", running.join(",")));
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let env = Env::process();
    let has_credentials = credentials::from_env(&env)
        .map_err(|e| e.to_string())?
        .is_some()
        || credentials::from_profile_file(&env)
            .map_err(|e| e.to_string())?
            .is_some();

    let mut _emulator = None;
    let (client, options) = if has_credentials {
        let Some(cluster_id) = args.cluster_id.clone() else {
            return Err(
                "with credentials, pass --cluster-id (and --target-version for a CCE cluster)"
                    .into(),
            );
        };
        if args.target_version.is_none() && !args.autopilot {
            return Err(
                "with credentials, pass --target-version: the version to upgrade the cluster to"
                    .into(),
            );
        }
        let client = Client::builder()
            .region(args.region.clone())
            .build()
            .map_err(|e| e.to_string())?;
        (client, options_from(&args, cluster_id))
    } else {
        let emulator = Emulator::start_with(EmulatorConfig::demo())
            .await
            .map_err(|e| format!("cannot start the emulator: {e}"))?;
        println!(
            "No credentials found: using the local CCE emulator at {} (demo cluster).",
            emulator.endpoint()
        );
        let client = emulator
            .client_builder()
            .build()
            .map_err(|e| e.to_string())?;
        let cluster_id = args.cluster_id.clone().unwrap_or_else(|| {
            if args.autopilot {
                emulator.autopilot_cluster_id()
            } else {
                emulator.cluster_id()
            }
            .to_owned()
        });
        let mut options = options_from(&args, cluster_id);
        options
            .target_version
            .get_or_insert_with(|| "v1.29.15-r0".into());
        if options.nodepool_ids.is_empty() && !options.autopilot {
            options.nodepool_ids.push(emulator.nodepool_id().to_owned());
        }
        options.poll = (Duration::from_millis(200), Duration::from_millis(500));
        _emulator = Some(emulator);
        (client, options)
    };
    run_flow(client, options).await
}

fn options_from(args: &Args, cluster_id: String) -> Options {
    Options {
        cluster_id,
        target_version: args.target_version.clone(),
        nodepool_ids: args.nodepool_ids.clone(),
        autopilot: args.autopilot,
        poll: (Duration::from_secs(5), Duration::from_secs(30)),
    }
}

async fn run_flow(client: Client, options: Options) -> Result<(), String> {
    let mut bar = Bar::new();
    let result = flow::run(&client, &options, &mut bar).await;
    bar.0.finish_and_clear();
    let summary = result.map_err(|e| e.to_string())?;
    print!("{summary}");
    Ok(())
}
