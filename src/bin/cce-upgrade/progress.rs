//! Progress on stderr: a line per running cluster (indicatif) when stderr is a terminal, plain
//! lines otherwise — one per step change and per 10% of progress, never nothing.

use std::collections::HashMap;
use std::io::IsTerminal;

use cce_upgrade::fleet::FleetEvent;
use cce_upgrade::upgrade::{Event, UpgradeEvent};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

/// Shows the progress of clusters, keyed `region/id`.
struct Display {
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
    /// The last 10% step printed, per cluster (plain lines).
    tenths: HashMap<String, u32>,
}

impl Display {
    fn new() -> Display {
        let bars = std::io::stderr()
            .is_terminal()
            .then(|| (MultiProgress::new(), HashMap::new()));
        Display {
            bars,
            tenths: HashMap::new(),
        }
    }

    fn line(&self, text: String) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn bar(&mut self, key: &str) -> Option<&ProgressBar> {
        let (multi, bars) = self.bars.as_mut()?;
        Some(bars.entry(key.to_owned()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(100));
            bar.set_style(
                ProgressStyle::with_template("{prefix:32} [{bar:30}] {pos:>3}% {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(key.to_owned());
            bar
        }))
    }

    fn upgrade(&mut self, key: &str, event: &Event) {
        match &event.event {
            UpgradeEvent::StepStarted(step) => {
                if let Some(bar) = self.bar(key) {
                    bar.set_message(step.to_string());
                } else {
                    self.line(format!("{key}: {step} started"));
                }
            }
            UpgradeEvent::StepFinished { step, .. } if self.bars.is_none() => {
                self.line(format!("{key}: {step} done"));
            }
            UpgradeEvent::Resumed { step, phase, .. } => {
                self.line(format!("{key}: {step} found {phase}, followed"));
            }
            UpgradeEvent::Progress(p) => {
                if let Some(bar) = self.bar(key) {
                    bar.set_position(p.clamp(0.0, 100.0) as u64);
                } else {
                    let tenth = (p.clamp(0.0, 100.0) / 10.0) as u32;
                    if self.tenths.get(key).is_none_or(|&t| tenth > t) {
                        self.tenths.insert(key.to_owned(), tenth);
                        self.line(format!("{key}: upgrade {}%", tenth * 10));
                    }
                }
            }
            UpgradeEvent::Finding(finding) => self.line(format!("{key}: pre-check: {finding}")),
            UpgradeEvent::Retrying { attempt, .. } => self.line(format!(
                "{key}: retrying the failed upgrade (attempt {attempt})"
            )),
            UpgradeEvent::Paused { .. } => self.line(format!("{key}: upgrade paused")),
            UpgradeEvent::Transient { step, error } => {
                self.line(format!("{key}: {step}: {error} (trying again)"))
            }
            UpgradeEvent::Warning(warning) => self.line(format!("{key}: warning: {warning}")),
            _ => {}
        }
    }

    fn finish(&mut self, key: &str, text: String) {
        if let Some((_, bars)) = &mut self.bars
            && let Some(bar) = bars.remove(key)
        {
            bar.finish_and_clear();
        }
        self.line(text);
    }
}

/// Shows one cluster's upgrade until its events end.
pub(crate) fn follow_upgrade(
    region: String,
    mut events: UnboundedReceiver<Event>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut display = Display::new();
        let mut key = None;
        while let Some(event) = events.recv().await {
            let k = key.get_or_insert_with(|| format!("{region}/{}", event.cluster_id));
            let k = k.clone();
            display.upgrade(&k, &event);
        }
        if let Some(k) = key {
            display.finish(&k, format!("{k}: finished"));
        }
    })
}

/// Shows a fleet run until its events end.
pub(crate) fn follow_fleet(mut events: UnboundedReceiver<FleetEvent>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut display = Display::new();
        while let Some(event) = events.recv().await {
            match event {
                FleetEvent::PreFlight { clusters, blocked } => display.line(format!(
                    "pre-flight: {clusters} clusters read, {blocked} blocked"
                )),
                FleetEvent::StageStarted(stage) => display.line(format!("stage {stage}: started")),
                FleetEvent::StageFinished { stage, state } => {
                    display.line(format!("stage {stage}: {}", state.as_str()))
                }
                FleetEvent::Soaking { stage, left } => {
                    display.line(format!("stage {stage}: soaking, {}s left", left.as_secs()))
                }
                FleetEvent::AwaitingApproval(stage) => {
                    display.line(format!("stage {stage}: awaiting approval"))
                }
                FleetEvent::ClusterStarted {
                    region,
                    id,
                    resumed,
                    ..
                } => display.line(format!(
                    "{region}/{id}: {}",
                    if resumed {
                        "upgrade found running, followed"
                    } else {
                        "upgrade starts"
                    }
                )),
                FleetEvent::Upgrade { region, event } => {
                    let key = format!("{region}/{}", event.cluster_id);
                    display.upgrade(&key, &event);
                }
                FleetEvent::ClusterFinished(c) => {
                    let key = format!("{}/{}", c.region, c.id);
                    let why = c
                        .error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default();
                    display.finish(&key, format!("{key}: {}{why}", c.outcome.as_str()));
                }
                _ => {}
            }
        }
    })
}
