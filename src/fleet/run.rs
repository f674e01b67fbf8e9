//! Selection, pre-flight, and the run of the stages: reads and decisions from the service's
//! state alone.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::Client;
use crate::clock::since;
use crate::error::{Error, ErrorKind};
use crate::timestamp::Timestamp;
use crate::upgrade::{Upgrade, UpgradePlan};

use super::report::{
    ClusterOutcome, ClusterReport, FleetEvent, FleetOutcome, FleetReport, StageReport, StageState,
};
use super::{Fleet, ListedCluster, Poll, Selector, list_clusters};

/// Where a selected cluster stands, from pre-flight's reads.
#[derive(Clone, Debug, PartialEq)]
enum Found {
    /// It runs the target; `upgraded` when an upgrade task to it succeeded.
    Done {
        upgraded: bool,
        completed: Option<Timestamp>,
    },
    /// An upgrade to the target runs at the service.
    Running,
    /// Its newest upgrade task to the target failed.
    FailedTask,
    /// It can be upgraded.
    Ready,
    /// It cannot be upgraded now: why.
    Blocked(String),
    /// It (or its region) could not be read: why.
    Unreachable(String),
}

/// A selected cluster, and what pre-flight found.
#[derive(Clone, Debug)]
struct Entry {
    stage: usize,
    report: ClusterReport,
    found: Found,
}

fn entry(stage: usize, selector: &Selector, id: &str, name: Option<String>) -> Entry {
    Entry {
        stage,
        report: ClusterReport {
            region: selector.region.clone(),
            id: id.to_owned(),
            name,
            autopilot: selector.autopilot,
            phase: None,
            version_before: None,
            version_after: None,
            target: None,
            outcome: ClusterOutcome::NotStarted,
            error: None,
            completed_at: None,
        },
        found: Found::Ready,
    }
}

/// What selection and pre-flight found: the entries (in stage order) and each stage's
/// warnings.
struct Survey {
    entries: Vec<Entry>,
    warnings: Vec<Vec<String>>,
}

fn client_of<'a>(fleet: &'a Fleet, region: &str) -> &'a Client {
    // `Fleet::check` made sure every region has one.
    &fleet.clients[region]
}

/// Lists each (region, flavour) once and applies the selectors, first stage first.
async fn select(fleet: &Fleet) -> Survey {
    let mut lists: BTreeMap<(String, bool), Result<Vec<ListedCluster>, String>> = BTreeMap::new();
    for selector in fleet.spec.stages.iter().flat_map(|s| &s.clusters) {
        let key = (selector.region.clone(), selector.autopilot);
        if lists.contains_key(&key) {
            continue;
        }
        let client = client_of(fleet, &selector.region);
        let listed = list_clusters(client, selector.autopilot)
            .await
            .map_err(|e| {
                format!(
                    "region {}: cannot list its {}clusters: {e}",
                    selector.region,
                    if selector.autopilot { "Autopilot " } else { "" }
                )
            });
        lists.insert(key, listed);
    }
    let mut seen: HashSet<(String, bool, String)> = HashSet::new();
    let mut entries = Vec::new();
    let mut warnings = vec![Vec::new(); fleet.spec.stages.len()];
    for (i, stage) in fleet.spec.stages.iter().enumerate() {
        for selector in &stage.clusters {
            let key = (selector.region.clone(), selector.autopilot);
            match &lists[&key] {
                Err(why) => {
                    let id = selector.id.clone().unwrap_or_default();
                    if !seen.insert((
                        selector.region.clone(),
                        selector.autopilot,
                        format!("{selector}"),
                    )) {
                        continue;
                    }
                    let mut e = entry(i, selector, &id, selector.name.clone());
                    e.found = Found::Unreachable(why.clone());
                    entries.push(e);
                }
                Ok(listed) => {
                    let mut matched = 0;
                    for c in listed
                        .iter()
                        .filter(|c| selector.matches(&c.id, c.name.as_deref(), &c.tags))
                    {
                        matched += 1;
                        if seen.insert((selector.region.clone(), selector.autopilot, c.id.clone()))
                        {
                            entries.push(entry(i, selector, &c.id, c.name.clone()));
                        }
                    }
                    if matched == 0 {
                        if selector.id.is_some() || selector.name.is_some() {
                            let mut e = entry(
                                i,
                                selector,
                                selector.id.as_deref().unwrap_or(""),
                                selector.name.clone(),
                            );
                            e.found = Found::Blocked(format!("not found: there are no {selector}"));
                            entries.push(e);
                        } else {
                            warnings[i].push(format!("no {selector}"));
                        }
                    }
                }
            }
        }
    }
    Survey { entries, warnings }
}

fn configure(fleet: &Fleet, report: &ClusterReport) -> Upgrade<'static> {
    let client = client_of(fleet, &report.region);
    let mut up = if report.autopilot {
        client.upgrade_autopilot(&report.id)
    } else {
        client.upgrade(&report.id)
    };
    let spec = &fleet.spec;
    up = up
        .to(spec.target.clone())
        .snapshot(spec.snapshot)
        .retry_failed(spec.retry_failed);
    for item in &spec.skip_checks {
        up = up.skip_check(item.clone());
    }
    let poll = spec.poll.unwrap_or(Poll::FLEET_DEFAULT);
    up.poll_interval(poll.initial.0, poll.max.0)
}

fn stamp(t: &Timestamp) -> String {
    jiff::Timestamp::try_from(t.to_system_time())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Reads one cluster: its plan, and for a cluster at the target, when it got there.
async fn preflight_one(fleet: &Fleet, entry: &mut Entry) {
    let plan: Result<UpgradePlan, Error> = configure(fleet, &entry.report).plan().await;
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            entry.found = match e.kind() {
                ErrorKind::Blocked | ErrorKind::InvalidInput | ErrorKind::Service => {
                    Found::Blocked(e.to_string())
                }
                _ => Found::Unreachable(e.to_string()),
            };
            entry.report.error = Some(e.to_string());
            return;
        }
    };
    let r = &mut entry.report;
    r.phase = plan.cluster_phase.clone();
    r.version_before = plan.current_version.clone();
    r.version_after = plan.current_version.clone();
    r.target = Some(plan.target.clone());
    let task_phase = plan.upgrade_task.as_ref().map(|(_, phase)| phase.as_str());
    entry.found = if plan.already_done {
        let upgraded = task_phase == Some("Success");
        let completed = plan.completed_at.filter(|_| upgraded);
        Found::Done {
            upgraded,
            completed,
        }
    } else if plan.blocked {
        Found::Blocked(plan.next.clone())
    } else {
        match task_phase {
            Some("Failed") => Found::FailedTask,
            Some("Success") | Some("Cancel") | None => Found::Ready,
            Some(_) => Found::Running,
        }
    };
    if let Found::Done {
        completed: Some(t), ..
    } = &entry.found
    {
        entry.report.completed_at = Some(stamp(t));
    }
    if let Found::Blocked(why) = &entry.found {
        entry.report.error = Some(why.clone());
    }
}

/// Selection and pre-flight: every selected cluster read, a bounded number at once.
async fn survey(fleet: &Fleet) -> Survey {
    let mut survey = select(fleet).await;
    let semaphore = Arc::new(Semaphore::new(fleet.read_concurrency));
    // Reads borrow the fleet; they run concurrently on this task, bounded by the semaphore.
    let reads = survey.entries.iter_mut().map(|entry| {
        let semaphore = semaphore.clone();
        async move {
            if !matches!(entry.found, Found::Ready) {
                return;
            }
            let _permit = semaphore.acquire().await;
            preflight_one(fleet, entry).await;
        }
    });
    join_all(reads).await;
    survey
}

/// Polls every future to its end, on this task.
async fn join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

fn settle(entry: &mut Entry, plan_view: bool) {
    let r = &mut entry.report;
    r.outcome = match &entry.found {
        Found::Done { upgraded: true, .. } => ClusterOutcome::Upgraded,
        Found::Done {
            upgraded: false, ..
        } => ClusterOutcome::AlreadyAtTarget,
        Found::Running => ClusterOutcome::Running,
        Found::FailedTask if plan_view => ClusterOutcome::Planned,
        Found::FailedTask => ClusterOutcome::Failed,
        Found::Ready if plan_view => ClusterOutcome::Planned,
        Found::Ready => ClusterOutcome::NotStarted,
        Found::Blocked(_) => ClusterOutcome::Blocked,
        Found::Unreachable(why) => {
            r.error = Some(why.clone());
            ClusterOutcome::Failed
        }
    };
    if entry.found == Found::FailedTask && !plan_view {
        r.error = Some("its newest upgrade task to the target failed".into());
    }
}

fn stage_state(clusters: &[ClusterReport], idle: StageState) -> StageState {
    let any = |o: ClusterOutcome| clusters.iter().any(|c| c.outcome == o);
    if clusters.iter().all(|c| c.outcome.is_done()) {
        StageState::Done
    } else if any(ClusterOutcome::Failed) {
        StageState::Failed
    } else if any(ClusterOutcome::Blocked) {
        StageState::Blocked
    } else if any(ClusterOutcome::Running) || clusters.iter().any(|c| c.outcome.is_done()) {
        StageState::Running
    } else {
        idle
    }
}

fn stages(fleet: &Fleet, survey: Survey, idle: impl Fn(usize) -> StageState) -> Vec<StageReport> {
    let mut stages: Vec<StageReport> = fleet
        .spec
        .stages
        .iter()
        .zip(survey.warnings)
        .map(|(s, warnings)| StageReport {
            name: s.name.clone(),
            state: StageState::NotStarted,
            clusters: Vec::new(),
            warnings,
        })
        .collect();
    for e in survey.entries {
        stages[e.stage].clusters.push(e.report);
    }
    for (i, s) in stages.iter_mut().enumerate() {
        s.state = stage_state(&s.clusters, idle(i));
    }
    stages
}

fn outcome_of(stages: &[StageReport], idle: FleetOutcome) -> FleetOutcome {
    let all = || stages.iter().flat_map(|s| &s.clusters);
    if all().any(|c| c.outcome == ClusterOutcome::Failed) {
        FleetOutcome::Failed
    } else if all().any(|c| c.outcome == ClusterOutcome::Blocked) {
        FleetOutcome::Blocked
    } else if all().all(|c| c.outcome.is_done()) {
        FleetOutcome::Done
    } else {
        idle
    }
}

pub(crate) async fn plan(fleet: &Fleet) -> Result<FleetReport, Error> {
    fleet.check()?;
    let mut survey = survey(fleet).await;
    for e in &mut survey.entries {
        settle(e, true);
    }
    let stages = stages(fleet, survey, |_| StageState::Planned);
    Ok(FleetReport {
        outcome: outcome_of(&stages, FleetOutcome::Planned),
        stages,
    })
}

pub(crate) async fn status(fleet: &Fleet) -> Result<FleetReport, Error> {
    fleet.check()?;
    let mut survey = survey(fleet).await;
    for e in &mut survey.entries {
        settle(e, false);
    }
    let mut stages = stages(fleet, survey, |_| StageState::NotStarted);
    // The first stage not done that needs an approval it lacks waits for it.
    if let Some(i) = stages.iter().position(|s| s.state != StageState::Done)
        && fleet.spec.stages[i].approval
        && !fleet.approvals.contains(&stages[i].name)
        && stages[i].state == StageState::NotStarted
    {
        stages[i].state = StageState::AwaitingApproval;
    }
    let outcome = match outcome_of(&stages, FleetOutcome::InProgress) {
        FleetOutcome::InProgress
            if stages
                .iter()
                .any(|s| s.state == StageState::AwaitingApproval) =>
        {
            FleetOutcome::AwaitingApproval
        }
        other => other,
    };
    Ok(FleetReport { outcome, stages })
}

pub(crate) async fn run(fleet: &Fleet) -> Result<FleetReport, Error> {
    fleet.check()?;
    let mut survey = survey(fleet).await;
    let blocked = survey
        .entries
        .iter()
        .filter(|e| matches!(e.found, Found::Blocked(_)))
        .count();
    fleet.emit(FleetEvent::PreFlight {
        clusters: survey.entries.len(),
        blocked,
    });
    for e in &mut survey.entries {
        settle(e, false);
    }
    let max_failures = fleet.spec.max_failures as usize;
    let mut failures = survey
        .entries
        .iter()
        .filter(|e| e.report.outcome == ClusterOutcome::Failed && e.found != Found::FailedTask)
        .count();
    let finish = |survey: Survey, outcome: FleetOutcome, gate: Option<usize>| {
        let mut stages = stages(fleet, survey, |_| StageState::NotStarted);
        if let Some(i) = gate {
            stages[i].state = StageState::AwaitingApproval;
        }
        let outcome = match outcome_of(&stages, outcome) {
            FleetOutcome::Done => FleetOutcome::Done,
            FleetOutcome::Failed => FleetOutcome::Failed,
            FleetOutcome::Blocked => FleetOutcome::Blocked,
            _ => outcome,
        };
        FleetReport { outcome, stages }
    };
    if blocked > 0 {
        return Ok(finish(survey, FleetOutcome::Blocked, None));
    }
    if failures > max_failures {
        return Ok(finish(survey, FleetOutcome::Failed, None));
    }
    let last = fleet.spec.stages.len().saturating_sub(1);
    for (i, stage) in fleet.spec.stages.iter().enumerate() {
        let work = survey.entries.iter().any(|e| {
            e.stage == i && matches!(e.found, Found::Ready | Found::Running | Found::FailedTask)
        });
        if work {
            let approved = !stage.approval || fleet.approvals.contains(&stage.name);
            let running = survey
                .entries
                .iter()
                .any(|e| e.stage == i && e.found == Found::Running);
            // Upgrades of a gated stage found running (an earlier run had the approval) are
            // followed to their end; without the approval nothing new starts.
            if approved || running {
                fleet.emit(FleetEvent::StageStarted(stage.name.clone()));
                failures += run_stage(fleet, &mut survey.entries, i, failures, approved).await;
            }
            let left = survey
                .entries
                .iter()
                .any(|e| e.stage == i && matches!(e.found, Found::Ready | Found::FailedTask));
            if !approved && left && failures <= max_failures {
                fleet.emit(FleetEvent::AwaitingApproval(stage.name.clone()));
                return Ok(finish(survey, FleetOutcome::AwaitingApproval, Some(i)));
            }
        }
        let clusters: Vec<ClusterReport> = survey
            .entries
            .iter()
            .filter(|e| e.stage == i)
            .map(|e| e.report.clone())
            .collect();
        let state = stage_state(&clusters, StageState::NotStarted);
        if work {
            fleet.emit(FleetEvent::StageFinished {
                stage: stage.name.clone(),
                state,
            });
        }
        if failures > max_failures {
            return Ok(finish(survey, FleetOutcome::Failed, None));
        }
        if i < last
            && let Some(soak) = stage.soak
        {
            soak_after(fleet, &survey.entries, i, &stage.name, soak.0).await;
        }
    }
    Ok(finish(survey, FleetOutcome::Done, None))
}

/// Waits until `soak` has passed since the newest completion the service reports for the
/// stage's upgrades, on the clock of that cluster's region.
async fn soak_after(fleet: &Fleet, entries: &[Entry], stage: usize, name: &str, soak: Duration) {
    let newest = entries
        .iter()
        .filter(|e| e.stage == stage)
        .filter_map(|e| match &e.found {
            Found::Done {
                completed: Some(t), ..
            } => Some((t, &e.report.region)),
            _ => None,
        })
        .max_by_key(|(t, _)| **t);
    let Some((completed, region)) = newest else {
        return;
    };
    let clock = client_of(fleet, region).clock().clone();
    let end = completed.to_system_time() + soak;
    loop {
        let left = since(end, clock.now());
        if left.is_zero() {
            return;
        }
        fleet.emit(FleetEvent::Soaking {
            stage: name.to_owned(),
            left,
        });
        clock.sleep(left).await;
    }
}

/// Runs stage `i`: follows its running upgrades, and (when `start`) starts the others at most
/// `maxConcurrent` at once while failures stay within `maxFailures`. Returns how many failed.
async fn run_stage(
    fleet: &Fleet,
    entries: &mut [Entry],
    i: usize,
    failed_before: usize,
    start: bool,
) -> usize {
    let stage = &fleet.spec.stages[i];
    let max = stage.max_concurrent as usize;
    let max_failures = fleet.spec.max_failures as usize;
    let mut failures = 0;
    let mut running: VecDeque<usize> = VecDeque::new();
    let mut queue: VecDeque<usize> = VecDeque::new();
    for (n, e) in entries.iter().enumerate() {
        if e.stage != i {
            continue;
        }
        match e.found {
            Found::Running => running.push_back(n),
            Found::Ready | Found::FailedTask if start => queue.push_back(n),
            _ => {}
        }
    }
    let mut set: JoinSet<(usize, Result<crate::upgrade::UpgradeReport, Error>)> = JoinSet::new();
    // Which entry each task upgrades, to report a task that ended abnormally.
    let mut tasks: std::collections::HashMap<tokio::task::Id, usize> = Default::default();
    let spawn = |set: &mut JoinSet<_>, n: usize, entry: &mut Entry, resumed: bool| {
        let mut up = configure(fleet, &entry.report);
        if let Some(tx) = fleet.events.clone() {
            let region = entry.report.region.clone();
            up = up.on_event(move |event| {
                let _ = tx.send(FleetEvent::Upgrade {
                    region: region.clone(),
                    event: event.clone(),
                });
            });
        }
        fleet.emit(FleetEvent::ClusterStarted {
            stage: stage.name.clone(),
            region: entry.report.region.clone(),
            id: entry.report.id.clone(),
            resumed,
        });
        entry.report.outcome = ClusterOutcome::Running;
        entry.report.error = None;
        set.spawn(async move { (n, up.run().await) }).id()
    };
    // Upgrades already running at the service are followed first: they count toward the limit.
    for n in running {
        let id = spawn(&mut set, n, &mut entries[n], true);
        tasks.insert(id, n);
    }
    loop {
        while set.len() < max && failed_before + failures <= max_failures {
            let Some(n) = queue.pop_front() else { break };
            let id = spawn(&mut set, n, &mut entries[n], false);
            tasks.insert(id, n);
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let (n, result) = match joined {
            Ok(done) => done,
            Err(e) => {
                // A panicking driver is a bug; its cluster is reported failed, and the fleet goes
                // on within maxFailures.
                tracing::error!(error = %e, "fleet: an upgrade task ended abnormally");
                let Some(&n) = tasks.get(&e.id()) else {
                    failures += 1;
                    continue;
                };
                (
                    n,
                    Err(Error::configuration(format!(
                        "the upgrade task ended abnormally: {e}"
                    ))),
                )
            }
        };
        let entry = &mut entries[n];
        match result {
            Ok(report) => {
                entry.report.version_after = report.version_after.clone();
                entry.report.target = Some(report.target.clone());
                let completed = if report.already_done && report.steps.iter().all(|s| s.resumed) {
                    None
                } else {
                    report.completed_at
                };
                entry.report.completed_at = completed.as_ref().map(stamp);
                entry.report.outcome = if report.already_done && completed.is_none() {
                    ClusterOutcome::AlreadyAtTarget
                } else {
                    ClusterOutcome::Upgraded
                };
                entry.found = Found::Done {
                    upgraded: entry.report.outcome == ClusterOutcome::Upgraded,
                    completed,
                };
            }
            Err(e) => {
                failures += 1;
                entry.report.outcome = ClusterOutcome::Failed;
                entry.report.error = Some(e.to_string());
                entry.found = Found::Unreachable(e.to_string());
            }
        }
        fleet.emit(FleetEvent::ClusterFinished(entry.report.clone()));
    }
    failures
}
