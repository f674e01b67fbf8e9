//! `cce-upgrade`: cluster upgrades and fleet upgrades of Huawei Cloud CCE and CCE Autopilot
//! from the command line, on the `cce-upgrade` SDK.
//!
//! Credentials, regions, endpoint overrides and the IAM project lookup are the SDK's
//! (environment, profile file). `--emulator` runs against two local emulators (two regions,
//! tagged clusters) instead, with no account.
//!
//! Exit codes: 0 done; 1 a cluster failed or was blocked; 2 bad usage or configuration; 3
//! stopped at an approval gate (run again with `--approve STAGE`).

/// `println!` that ignores a closed stdout (e.g. piped into `head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod demo;
mod output;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use cce_upgrade::fleet::{Fleet, FleetOutcome, FleetSpec};
use cce_upgrade::{Client, Error, ErrorKind};

/// Upgrade Huawei Cloud CCE and CCE Autopilot clusters: one, or a fleet in stages.
#[derive(Debug, Parser)]
#[command(name = "cce-upgrade", version, about, long_about = None)]
struct Cli {
    /// How to print the result on stdout: tables a person reads, or one JSON document.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Run against two local emulators (regions cn-north-4 and ap-southeast-1, tagged
    /// clusters) with a demo fleet: no account needed.
    #[arg(long, global = true)]
    emulator: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The clusters of the regions: version, allowed targets, phase, tags.
    Clusters {
        /// A region (repeat for several).
        #[arg(long)]
        region: Vec<String>,
        /// CCE Autopilot clusters instead of CCE clusters.
        #[arg(long)]
        autopilot: bool,
    },
    /// Upgrades one cluster (or plans its upgrade with --plan).
    Upgrade {
        /// The cluster id.
        cluster: String,
        /// Its region.
        #[arg(long)]
        region: Option<String>,
        /// The target: a minor version (v1.29) or an exact one (v1.29.15-r0).
        #[arg(long)]
        to: Option<String>,
        /// The cluster is a CCE Autopilot cluster.
        #[arg(long)]
        autopilot: bool,
        /// Back the masters up first.
        #[arg(long)]
        snapshot: bool,
        /// A pre-check item to skip (repeat for several).
        #[arg(long = "skip-check", value_name = "NAME")]
        skip_check: Vec<String>,
        /// Retry a failed upgrade task up to N times.
        #[arg(long, value_name = "N", default_value_t = 0)]
        retry_failed: u32,
        /// Only read and say what the upgrade would do.
        #[arg(long)]
        plan: bool,
    },
    /// Fleet upgrades from a fleet file (YAML).
    Fleet {
        #[command(subcommand)]
        command: FleetCommand,
    },
}

#[derive(Debug, Subcommand)]
enum FleetCommand {
    /// Reads every selected cluster and says what a run would do; writes nothing.
    Plan {
        /// The fleet file (with --emulator, the demo fleet when left out).
        file: Option<PathBuf>,
    },
    /// Runs the fleet: stages in order, stopping at a stage that needs an approval.
    Run {
        /// The fleet file (with --emulator, the demo fleet when left out).
        file: Option<PathBuf>,
        /// Approves a stage (repeat for several).
        #[arg(long, value_name = "STAGE")]
        approve: Vec<String>,
    },
    /// Where each stage and cluster stands; reads only.
    Status {
        /// The fleet file (with --emulator, the demo fleet when left out).
        file: Option<PathBuf>,
    },
    /// Prints the JSON Schema of fleet files.
    Schema,
}

/// A failure of the command itself, with its exit code.
struct Exit {
    code: u8,
    message: String,
}

impl Exit {
    fn usage(message: impl Into<String>) -> Exit {
        Exit {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<Error> for Exit {
    fn from(e: Error) -> Exit {
        let code = match e.kind() {
            ErrorKind::Configuration | ErrorKind::InvalidInput => 2,
            _ => 1,
        };
        Exit {
            code,
            message: e.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(exit) => {
            eprintln!("error: {}", exit.message);
            ExitCode::from(exit.code)
        }
    }
}

/// Where the clients come from: the SDK's configuration, or the demo emulators.
enum Backend {
    Cloud,
    Demo(demo::Demo),
}

impl Backend {
    fn client(&self, region: &str) -> Result<Client, Exit> {
        match self {
            Backend::Cloud => Ok(Client::builder().region(region.to_owned()).build()?),
            Backend::Demo(demo) => demo.client(region),
        }
    }
}

async fn run(cli: Cli) -> Result<u8, Exit> {
    let backend = if cli.emulator {
        Backend::Demo(demo::Demo::start().await?)
    } else {
        Backend::Cloud
    };
    let code = match cli.command {
        Command::Clusters { region, autopilot } => {
            let regions = match (&backend, region.is_empty()) {
                (Backend::Demo(_), true) => demo::REGIONS.iter().map(|r| r.to_string()).collect(),
                (Backend::Cloud, true) => {
                    return Err(Exit::usage(
                        "no region: give --region cn-north-4 (repeat it for several)",
                    ));
                }
                (_, false) => region,
            };
            output::clusters(&backend, &regions, autopilot, cli.output).await?
        }
        Command::Upgrade {
            cluster,
            region,
            to,
            autopilot,
            snapshot,
            skip_check,
            retry_failed,
            plan,
        } => {
            let region = match (region, &backend) {
                (Some(r), _) => r,
                (None, Backend::Demo(_)) => demo::REGIONS[0].to_owned(),
                (None, Backend::Cloud) => {
                    return Err(Exit::usage("no region: give --region cn-north-4"));
                }
            };
            let client = backend.client(&region)?;
            let mut up = if autopilot {
                client.upgrade_autopilot(&cluster)
            } else {
                client.upgrade(&cluster)
            };
            if let Some(to) = to {
                up = up.to(to);
            }
            up = up.snapshot(snapshot).retry_failed(retry_failed);
            for item in skip_check {
                up = up.skip_check(item);
            }
            if plan {
                let plan = up.plan().await?;
                output::upgrade_plan(&region, &plan, cli.output);
                u8::from(plan.blocked)
            } else {
                let events = up.events();
                let shown = progress::follow_upgrade(region.clone(), events);
                let result = up.run().await;
                let _ = shown.await;
                match result {
                    Ok(report) => {
                        output::upgrade_report(&region, &report, cli.output);
                        0
                    }
                    Err(e) => {
                        let exit = Exit::from(e);
                        output::upgrade_error(&region, &cluster, &exit.message, cli.output);
                        exit.code
                    }
                }
            }
        }
        Command::Fleet {
            command: FleetCommand::Schema,
        } => {
            let schema = schemars::schema_for!(FleetSpec);
            out!(
                "{}",
                serde_json::to_string_pretty(&schema).map_err(|e| Exit::usage(e.to_string()))?
            );
            0
        }
        Command::Fleet { command } => {
            let (file, approvals) = match &command {
                FleetCommand::Plan { file } | FleetCommand::Status { file } => {
                    (file.clone(), Vec::new())
                }
                FleetCommand::Run { file, approve } => (file.clone(), approve.clone()),
                FleetCommand::Schema => unreachable!("handled above"),
            };
            let spec = match (&file, &backend) {
                (Some(path), _) => read_fleet(path)?,
                (None, Backend::Demo(_)) => demo::fleet(),
                (None, Backend::Cloud) => {
                    return Err(Exit::usage(
                        "no fleet file: give FLEET.yaml (or --emulator to try the demo fleet)",
                    ));
                }
            };
            let mut fleet = Fleet::new(spec.clone());
            for region in spec.regions() {
                let client = backend.client(&region)?;
                fleet = fleet.region(region, client);
            }
            for stage in approvals {
                fleet = fleet.approve(stage);
            }
            let report = match command {
                FleetCommand::Plan { .. } => fleet.plan().await?,
                FleetCommand::Status { .. } => fleet.status().await?,
                _ => {
                    let events = fleet.events();
                    let shown = progress::follow_fleet(events);
                    let report = fleet.run().await;
                    drop(fleet);
                    let _ = shown.await;
                    report?
                }
            };
            output::fleet(&report, cli.output);
            if report.outcome == FleetOutcome::AwaitingApproval
                && let Some(stage) = report
                    .stages
                    .iter()
                    .find(|s| s.state == cce_upgrade::fleet::StageState::AwaitingApproval)
            {
                eprintln!(
                    "stopped at stage {:?}: it needs an approval; run again with --approve {}",
                    stage.name, stage.name
                );
            }
            match report.outcome {
                FleetOutcome::Failed | FleetOutcome::Blocked => 1,
                FleetOutcome::AwaitingApproval => 3,
                _ => 0,
            }
        }
    };
    if let Backend::Demo(demo) = backend {
        demo.shutdown().await;
    }
    Ok(code)
}

/// Reads and checks a fleet file; errors name the file, the line and the key.
fn read_fleet(path: &std::path::Path) -> Result<FleetSpec, Exit> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Exit::usage(format!("{}: cannot read it: {e}", path.display())))?;
    let spec: FleetSpec = serde_norway::from_str(&text)
        .map_err(|e| Exit::usage(format!("{}: {e}", path.display())))?;
    spec.validate()
        .map_err(|e| Exit::usage(format!("{}: {e}", path.display())))?;
    Ok(spec)
}
