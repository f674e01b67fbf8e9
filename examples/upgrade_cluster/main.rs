//! Upgrades a cluster end to end with the SDK's upgrade driver.
//!
//! ```text
//! cargo run --example upgrade_cluster                      # against the embedded emulator
//! cargo run --example upgrade_cluster -- --autopilot       # an Autopilot cluster, same
//! cargo run --example upgrade_cluster -- --plan            # pre-check only: what would happen
//! HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... cargo run --example upgrade_cluster -- \
//!     --region cn-north-4 --cluster-id <id> --target-version v1.29 --nodepool-id <pool> \
//!     [--snapshot] [--skip-check NAME]... [--retry-failed] [--plan]
//! ```
//!
//! Without credentials anywhere (environment, profile file) it starts the local CCE emulator
//! in-process, at a pace a person can watch, and upgrades its demo cluster. With credentials it
//! talks to the region's endpoint (or `HUAWEICLOUD_SDK_REGION_CCE_<REGION>`) and needs
//! `--cluster-id`; without `--target-version` it upgrades to the latest version the service
//! allows. Run it again after an interruption: it continues the same upgrade.

mod flow;

use std::process::ExitCode;
use std::time::Duration;

use cce_upgrade::emulator::{Emulator, EmulatorConfig};
use cce_upgrade::upgrade::UpgradeEvent;
use cce_upgrade::{Client, Env, credentials};
use indicatif::{ProgressBar, ProgressStyle};

use flow::Options;

struct Args {
    region: String,
    cluster_id: Option<String>,
    target_version: Option<String>,
    nodepool_ids: Vec<String>,
    autopilot: bool,
    snapshot: bool,
    skip_checks: Vec<String>,
    plan: bool,
    retry_failed: bool,
}

const USAGE: &str = "usage: upgrade_cluster [--region REGION] [--cluster-id ID] [--target-version VERSION] \
                     [--nodepool-id ID]... [--autopilot] [--snapshot] [--skip-check NAME]... [--plan] \
                     [--retry-failed]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        region: "cn-north-4".into(),
        cluster_id: None,
        target_version: None,
        nodepool_ids: vec![],
        autopilot: false,
        snapshot: false,
        skip_checks: vec![],
        plan: false,
        retry_failed: false,
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
            "--snapshot" => args.snapshot = true,
            "--skip-check" => args.skip_checks.push(value()?),
            "--plan" => args.plan = true,
            "--retry-failed" => args.retry_failed = true,
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

impl Bar {
    fn line(&self, text: String) {
        if self.0.is_hidden() {
            println!("{text}");
        } else {
            self.0.println(text);
        }
    }

    /// One display for the whole flow: the step in the message, the upgrade's percent in the bar.
    fn event(&self, event: &UpgradeEvent) {
        match event {
            UpgradeEvent::StepStarted(step) => {
                self.0.set_message(step.to_string());
                self.line(format!("-> {step}"));
            }
            UpgradeEvent::StepFinished { step, task_id, .. } => {
                self.line(format!(
                    "   {step} done{}",
                    task_id
                        .as_deref()
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default()
                ));
            }
            UpgradeEvent::Resumed {
                step,
                task_id,
                phase,
            } => {
                self.line(format!(
                    "   {step}: found {} {phase}, continuing it",
                    task_id.as_deref().unwrap_or("one")
                ));
            }
            UpgradeEvent::Finding(finding) => self.line(format!(
                "   finding: {finding}{}",
                if finding.is_skippable() {
                    " (skippable)"
                } else {
                    ""
                }
            )),
            UpgradeEvent::Progress(percent) => self.0.set_position(percent.round() as u64),
            UpgradeEvent::Paused { percent } => {
                self.line(format!("   upgrade paused at {}%", percent.unwrap_or(0.0)));
            }
            UpgradeEvent::Continued => self.line("   upgrade continued".into()),
            UpgradeEvent::Retrying { attempt, percent } => self.line(format!(
                "   upgrade failed at {}%: retry {attempt}",
                percent.unwrap_or(0.0)
            )),
            other => self.line(format!("   {other:?}")),
        }
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
                "with credentials, pass --cluster-id (and --target-version, or the latest allowed is used)"
                    .into(),
            );
        };
        let client = Client::builder()
            .region(args.region.clone())
            .build()
            .map_err(|e| e.to_string())?;
        (client, options_from(&args, cluster_id))
    } else {
        let emulator = Emulator::start_with(EmulatorConfig::demo().advance_on_read(false))
            .await
            .map_err(|e| format!("cannot start the emulator: {e}"))?;
        println!(
            "No credentials found: using the local CCE emulator at {} (demo cluster).",
            emulator.endpoint()
        );
        // The demo moves on real time (a step every 500 ms) so a person can watch it: the
        // client waits on the machine's clock, not on the emulator's (which tests use).
        let client = emulator
            .client_builder()
            .clock(std::sync::Arc::new(cce_upgrade::clock::SystemClock::new()))
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
        if options.nodepool_ids.is_empty() && !options.autopilot {
            options.nodepool_ids.push(emulator.nodepool_id().to_owned());
        }
        options.poll = (Duration::from_millis(250), Duration::from_millis(500));
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
        snapshot: args.snapshot,
        skip_checks: args.skip_checks.clone(),
        plan: args.plan,
        retry_failed: args.retry_failed,
        poll: (Duration::from_secs(5), Duration::from_secs(30)),
    }
}

async fn run_flow(client: Client, options: Options) -> Result<(), String> {
    let bar = Bar::new();
    let result = flow::run(&client, &options, |event| bar.event(event)).await;
    bar.0.finish_and_clear();
    let outcome = result.map_err(|e| e.to_string())?;
    print!("{}", flow::summary(&outcome));
    Ok(())
}
