//! A local CCE emulator: a real HTTP server on `127.0.0.1` that checks signatures the way the
//! Huawei Cloud API gateway does and plays the cluster-upgrade service as `FLOW.md` describes it.
//!
//! There is no network to Huawei Cloud from tests, so the crate ships this stand-in. It routes
//! every operation of the spec in `openapi/` ([`crate::operations::ALL`]: CCE under `/api/...`,
//! Autopilot under `/autopilot/...`, the global ones without a cluster id, and the IAM project
//! lookup `GET /v3/projects?name={region}`) from the generated operation table, and plays each
//! one it has a behaviour for (an Autopilot operation plays its CCE twin's), with answers built
//! from the generated types; any other operation answers `501` naming it.
//!
//! | step | operations (CCE; the Autopilot twin where there is one) |
//! |---|---|
//! | find the cluster | ListClusters (filters `status`, `type`, `version`), ShowCluster |
//! | choose a target | ShowClusterUpgradeInfo, ListClusterUpgradePaths, ListClusterUpgradeFeatureGates, ShowFeatureGates |
//! | workflow | CreateUpgradeWorkFlow (CCE 201, Autopilot 200), ListUpgradeWorkFlows, ShowUpgradeWorkFlow, UpgradeWorkFlowUpdate (cancel) |
//! | pre-check | CreatePreCheck, ShowPreCheck, ListPreCheckTasks, BatchCreateAddonPrecheck, ListAddonPrecheckTasks (CCE) |
//! | backup | CreateClusterMasterSnapshot, ListClusterMasterSnapshotTasks |
//! | upgrade | UpgradeCluster, ShowUpgradeClusterTask, ListUpgradeClusterTasks, RetryUpgradeClusterTask, Pause/ContinueUpgradeClusterTask (CCE only) |
//! | post-check | CreatePostCheck (synchronous) |
//! | node pools, jobs | UpgradeNodePool, SyncNode, BatchSyncNodes (CCE), ShowJob, ShowAutopilotJob, ListAutopilotJobs, GetAutopilotOneJob, DeleteAutopilotJob |
//! | Autopilot plans | ListAutopilotUpgradePlans, UpdateAutopilotUpgradePlan |
//!
//! Requests must be signed with SDK-HMAC-SHA256 using [`Emulator::access_key`] and
//! [`Emulator::secret_key`] (or the temporary pair with its security token), or carry
//! [`Emulator::auth_token`] in `X-Auth-Token`; otherwise the answer is `401 APIGW.0301`, and for
//! a wrong signature the message shows the canonical request the server computed. Every answer
//! carries an `X-Request-Id`; errors are `{"error_code", "error_msg", "request_id"}`. Bodies are
//! checked with the spec's rules and the service's (400 `CCE.01400001` naming the field or the
//! version); a conflict or an expiry (something under way, a task or workflow in the wrong
//! state, a pre-check missing or expired, a cluster not `Available`) is 400 `CCE.01400013`,
//! always. An unknown project, cluster,
//! task, workflow, job, plan or node pool is 404 `CCE.01404001`; a CCE cluster under
//! `/autopilot` (or the reverse) is a 404 that says so.
//!
//! # The model
//!
//! One model of clusters, workflows and tasks; the API flavour is a parameter. Each cluster has
//! an id (`metadata.uid`), a name and tags ([`NewCluster`]; the demo clusters are
//! [`DEMO_CLUSTER_NAME`] and [`DEMO_AUTOPILOT_CLUSTER_NAME`], tagged `env=demo`), a version
//! (answered as its minor version, `spec.version` `v1.28`) and a platform version, and a phase:
//! `Upgrading` while an upgrade task is under way, else `Available`, or the phase a test sets
//! ([`Emulator::set_cluster_phase`]), in which `UpgradeCluster` is refused. The allowed targets
//! come from a small table (`v1.28.15-r0` may go to `v1.28.15-r1.sp1`, `v1.29.10-r0`,
//! `v1.29.15-r0`, `v1.30.14-r0`); a target that is not allowed or not higher is refused; a
//! minor version (`v1.29`) means its latest allowed patch; versions compare as versions, not
//! strings.
//!
//! Workflows do not move by themselves: a new one is `Init`. What runs are the tasks:
//! pre-checks (`Init` → `Running` → `Success`/`Failed`), snapshots (`Init` → `Queuing` →
//! `Running` → `Success`), upgrades (`Init` → `Queuing` → `Running` 0…80% → `Success`; `Pause`
//! and `Failed` where a scenario says), node-pool jobs (`Initializing` → `Running` →
//! `Success`); post-checks answer at once (`Success` once the newest upgrade succeeded). A
//! workflow's phase and `pointStatuses` follow the tasks created for its cluster while it is
//! open: `Init` → `Running` (a task started) → `Success` (after a successful post-check),
//! `Pending` while a task has failed, `Cancel` when cancelled (refused while one of its tasks is
//! initialising, queued, running or paused). One upgrade at a time: `UpgradeCluster` refuses a
//! second upgrade while one is under way, and while the newest one has failed, until it is
//! retried or its workflow cancelled; `CreatePreCheck` and `CreateClusterMasterSnapshot` are
//! refused while an upgrade is under way. With `isOnlyUpgrade: false` an upgrade runs its own
//! pre-check first (it appears in the pre-check list; the upgrade waits in `Init` for it, and
//! fails if it fails); with `true` it needs a passed pre-check for that target that has not
//! expired ([`PRECHECK_VALIDITY`], 30 minutes, on the emulator's clock). When an upgrade succeeds the cluster's version becomes the
//! target. `RetryUpgradeClusterTask` resumes a failed upgrade from where it failed.
//!
//! # Time
//!
//! Never the machine's pace. A task moves one step each time it is read (shown or listed; the
//! read answers the state before the step, so a poller sees every phase), unless
//! [`EmulatorConfig::advance_on_read`] is off, and every task moves `n` steps on
//! [`Emulator::advance`]. Tasks write their timestamps in `+0800 CST` as the documents'
//! examples do (`2024-03-12 16:15:00 +0800 CST`); workflows, clusters and plans in `+0000 UTC`.
//! The emulator's clock (timestamps, pre-check expiry) starts at
//! [`EmulatorConfig::start_time`] (or the real time) and moves only with
//! [`Emulator::advance_clock`]. [`EmulatorConfig::demo`] adds a background ticker (a step and
//! the clock every 500 ms) so a person can watch an upgrade; no test may depend on it.
//!
//! # Scenarios
//!
//! [`Scenario`]s, per cluster ([`Emulator::set_scenario`]) or for all
//! ([`EmulatorConfig::scenario`]): a pre-check Risk item (passes when named in
//! `skippedCheckItemList`, optionally for some node UIDs), an Exception item (never passes), an
//! upgrade failing once at a given progress, a pause at a given progress, slow steps. [`Fault`]s
//! injected with [`Emulator::inject`] make the next requests fail the way networks and gateways
//! do. [`Emulator::requests`] shows everything that arrived, [`Emulator::upgrades_started`] how
//! many upgrades the service acted on.
//!
//! Several emulators can run in one process; each has its own port, keys, ids and state.
//!
//! # Limits
//!
//! The emulator is a server people run on their machines, so a careless or hostile client
//! cannot make it grow without bound or hold it forever:
//! - a request body over [`EmulatorConfig::max_body_bytes`] (1 MiB by default) is answered
//!   `413` and the connection closed: from its `Content-Length` before any of it is read, or,
//!   for a chunked body, as soon as the limit is passed (at most the limit is ever held);
//! - a connection that does not send a complete request head within
//!   [`EmulatorConfig::header_read_timeout`] (30 s by default) is closed by the server; the
//!   same timeout closes a keep-alive connection left idle that long;
//! - at most [`EmulatorConfig::max_connections`] connections (256 by default) are served at
//!   once; one accepted beyond that is answered `503` at once and closed, without reading
//!   from it (it is refused, not queued);
//! - [`Emulator::requests`] keeps at most [`MAX_RECORDED_REQUESTS`] requests and at most
//!   [`MAX_RECORDED_BYTES`] of their bodies and headers, forgetting the oldest first.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use cce_upgrade::emulator::{Emulator, EmulatorConfig, Fault};
//!
//! # async fn example() -> std::io::Result<()> {
//! let emulator = Emulator::start_with(EmulatorConfig::fast()).await?;
//! // Point a client at it:
//! let endpoint = emulator.endpoint(); // "http://127.0.0.1:PORT"
//! let (ak, sk) = (emulator.access_key(), emulator.secret_key());
//! let (project, cluster) = (emulator.project_id(), emulator.cluster_id());
//! # let _ = (endpoint, ak, sk, project, cluster);
//!
//! // The next two requests are throttled, then the service answers again.
//! emulator.inject(Fault::Status { status: 429, retry_after: Some(1) }, 2);
//!
//! // ... run the client: pre-check, upgrade (each read moves a task a step), post-check ...
//! emulator.advance(10); // or move every task along without reading
//!
//! assert_eq!(emulator.cluster_version(emulator.cluster_id()).as_deref(), Some("v1.28.15-r0"));
//! assert!(emulator.requests().iter().all(|r| r.authenticated));
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The emulator needs a tokio runtime (current-thread or multi-thread): [`Emulator::start`]
//! spawns its server on the runtime it is called from.

mod api;
mod auth;
mod clock;
mod fault;
mod ids;
mod scenario;
mod server;
mod state;

impl Emulator {
    /// A client builder pointed at this emulator: its endpoint (also for IAM), region, AK/SK,
    /// project id, and its [clock](Emulator::clock) (the client's waits move the emulator's
    /// clock instead of taking real time). Override any of them before `build()`.
    pub fn client_builder(&self) -> crate::ClientBuilder {
        crate::Client::builder()
            .region(crate::Region::new(self.region().to_owned()))
            .endpoint(self.endpoint())
            .iam_endpoint(self.endpoint())
            .credentials(crate::Credentials::new(
                self.access_key(),
                self.secret_key(),
            ))
            .project_id(self.project_id())
            .clock(self.clock())
    }
}

#[cfg(test)]
mod tests;
mod versions;

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use fault::Fault;
pub use scenario::Scenario;
pub use state::{MAX_RECORDS, NewCluster, PRECHECK_VALIDITY};

use crate::model::ClusterPhase;
use auth::Keys;
use clock::Clock;
use fault::FaultQueue;
use ids::IdGen;
use state::State;

/// The name of the demo CCE cluster ([`Emulator::cluster_id`]); it has the tag `env=demo`.
pub const DEMO_CLUSTER_NAME: &str = "demo-cce";
/// The name of the demo Autopilot cluster ([`Emulator::autopilot_cluster_id`]); it has the tag
/// `env=demo`.
pub const DEMO_AUTOPILOT_CLUSTER_NAME: &str = "demo-autopilot";
/// The version of the demo clusters.
pub const DEMO_VERSION: &str = "v1.28.15-r0";
/// The target of the demo Autopilot cluster's workflow.
pub const DEMO_AUTOPILOT_TARGET: &str = "v1.29.10-r0";

/// How an [`Emulator`] behaves. Builder-style: `EmulatorConfig::fast().scenario(..)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    pace: Option<Duration>,
    advance_on_read: bool,
    start_time: Option<SystemTime>,
    scenarios: Vec<Scenario>,
    list_items_as_object: bool,
    plan_items_as_array: bool,
    empty_nodepool_response: bool,
    max_body_bytes: usize,
    header_read_timeout: Duration,
    max_connections: usize,
    tls: Option<TlsPem>,
}

/// The emulator's certificate chain and private key, as PEM.
#[derive(Clone, PartialEq, Eq)]
struct TlsPem {
    cert_chain: Vec<u8>,
    key: Vec<u8>,
}

impl fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsPem { key: ** redacted ** }")
    }
}

impl TlsPem {
    /// The server configuration: the `ring` provider, never the process's default.
    fn acceptor(&self) -> std::io::Result<tokio_rustls::TlsAcceptor> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let invalid = |what: &str, e: &dyn fmt::Display| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("EmulatorConfig::tls: {what}: {e}"),
            )
        };
        let chain = CertificateDer::pem_slice_iter(&self.cert_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("the certificate chain is not valid PEM", &e))?;
        if chain.is_empty() {
            return Err(invalid("the certificate chain", &"no CERTIFICATE block"));
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key)
            .map_err(|e| invalid("the private key is not a PEM private key", &e))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| invalid("cannot use the certificate and key", &e))?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// The default of [`EmulatorConfig::max_body_bytes`]: 1 MiB, far above any request of the API.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// The default of [`EmulatorConfig::header_read_timeout`]: 30 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The default of [`EmulatorConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

impl Default for EmulatorConfig {
    /// Tasks advance one step per read and per [`Emulator::advance`] step, nothing moves by
    /// itself, the clock starts at the real time and moves only with
    /// [`Emulator::advance_clock`]; workflow lists as arrays, the plan list's `items` as one
    /// plan (as the official SDK's model has it), node-pool upgrades answered with a job id,
    /// no scenario; the [limits](self#limits) at their defaults.
    fn default() -> Self {
        EmulatorConfig {
            pace: None,
            advance_on_read: true,
            start_time: None,
            scenarios: Vec::new(),
            list_items_as_object: false,
            plan_items_as_array: false,
            empty_nodepool_response: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            tls: None,
        }
    }
}

impl EmulatorConfig {
    /// For tests: the default (every read moves a task one step; nothing moves by itself).
    pub fn fast() -> Self {
        EmulatorConfig::default()
    }

    /// For demos: besides reads, every task also moves one step every 500 ms on its own (and
    /// the clock with it), so a person can watch a whole upgrade in well under a minute. No
    /// test may depend on this pace.
    pub fn demo() -> Self {
        EmulatorConfig::default().pace(Duration::from_millis(500))
    }

    /// Moves every task one step, and the clock by `step`, every `step` of real time (a
    /// background ticker, for demos). Zero turns the ticker off.
    pub fn pace(mut self, step: Duration) -> Self {
        self.pace = (!step.is_zero()).then_some(step);
        self
    }

    /// Whether a read of a task (show or list) moves it one step (true by default). With
    /// false, tasks move only with [`Emulator::advance`] (or the demo pace).
    pub fn advance_on_read(mut self, yes: bool) -> Self {
        self.advance_on_read = yes;
        self
    }

    /// The wall-clock time the emulator's clock starts at (the real time by default); it then
    /// moves only with [`Emulator::advance_clock`].
    pub fn start_time(mut self, at: SystemTime) -> Self {
        self.start_time = Some(at);
        self
    }

    /// Plays `scenario` on every cluster (the demo ones and those added later); one of the same
    /// kind replaces the earlier.
    pub fn scenario(mut self, scenario: Scenario) -> Self {
        self.scenarios.retain(|s| !s.same_kind(&scenario));
        self.scenarios.push(scenario);
        self
    }

    /// Answer workflow lists with `items` as one object (the newest workflow), as the API page
    /// documents, instead of an array (as the service and the official SDKs do). With no
    /// workflow, `items` is left out. (The plan list answers one object already: see
    /// [`EmulatorConfig::plan_items_as_array`].)
    pub fn list_items_as_object(mut self, yes: bool) -> Self {
        self.list_items_as_object = yes;
        self
    }

    /// Answer `ListAutopilotUpgradePlans` with `items` as an array of plans instead of one plan
    /// object (the official SDK's model, and the default). The client reads either.
    pub fn plan_items_as_array(mut self, yes: bool) -> Self {
        self.plan_items_as_array = yes;
        self
    }

    /// Answer node-pool upgrades with an empty `200` body, as the API page documents, instead
    /// of `{"jobid": "..."}`.
    pub fn empty_nodepool_response(mut self, yes: bool) -> Self {
        self.empty_nodepool_response = yes;
        self
    }

    /// Shorthand for `scenario(Scenario::UpgradeFailsAt { progress: 50 })`: the next upgrade
    /// of every cluster fails at 50% (once; a retry completes it).
    pub fn fail_cluster_task(self, yes: bool) -> Self {
        if yes {
            self.scenario(Scenario::UpgradeFailsAt { progress: 50 })
        } else {
            let mut config = self;
            config
                .scenarios
                .retain(|s| !matches!(s, Scenario::UpgradeFailsAt { .. }));
            config
        }
    }

    /// The largest request body served ([`DEFAULT_MAX_BODY_BYTES`] by default); a larger one
    /// is answered `413` without being read past the limit.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// How long a client may take to send a request head, and how long a keep-alive
    /// connection may stay idle, before the server closes the connection
    /// ([`DEFAULT_HEADER_READ_TIMEOUT`] by default). Zero is taken as one millisecond.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many connections are served at once ([`DEFAULT_MAX_CONNECTIONS`] by default, at
    /// least 1); a connection beyond that is answered `503` and closed.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Serves HTTPS (HTTP/1.1 over TLS) with this certificate chain (PEM, the server's
    /// certificate first) and private key (PEM: PKCS#8, PKCS#1 or SEC1), instead of plain HTTP;
    /// [`Emulator::endpoint`] is then `https://127.0.0.1:{port}`. The certificate must name
    /// `127.0.0.1`. [`Emulator::start_with`] fails when the files cannot be used.
    ///
    /// A client trusts it when its CA is given to
    /// [`ClientBuilder::add_root_certificate`](crate::ClientBuilder::add_root_certificate).
    /// A TLS handshake not done within [`header_read_timeout`](Self::header_read_timeout)
    /// closes the connection.
    pub fn tls(mut self, cert_chain_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.tls = Some(TlsPem {
            cert_chain: cert_chain_pem.into(),
            key: key_pem.into(),
        });
        self
    }
}

/// One request as it reached the emulator (after its body was read, before authentication).
///
/// A request refused as too large (`413`) is recorded with an empty body.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The request target exactly as on the wire: `path?query`.
    pub uri: String,
    /// The headers in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// Whether the signature or token was accepted.
    pub authenticated: bool,
}

impl ReceivedRequest {
    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Headers whose values [`ReceivedRequest`]'s `Debug` hides.
const SENSITIVE_HEADERS: [&str; 3] = ["authorization", "x-auth-token", "x-security-token"];

impl fmt::Debug for ReceivedRequest {
    /// Credentials and the body (which may hold node passwords) are not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let shown = if SENSITIVE_HEADERS.contains(&n.as_str()) {
                    "** redacted **"
                } else {
                    v.as_str()
                };
                (n.as_str(), shown)
            })
            .collect();
        f.debug_struct("ReceivedRequest")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("headers", &headers)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("authenticated", &self.authenticated)
            .finish()
    }
}

/// What the server tasks and the handle share.
pub(crate) struct Shared {
    config: EmulatorConfig,
    addr: SocketAddr,
    keys: Keys,
    ids: IdGen,
    project_id: String,
    domain_id: String,
    region: String,
    cluster_id: String,
    nodepool_id: String,
    autopilot_cluster_id: String,
    state: Mutex<State>,
    requests: Mutex<RequestLog>,
    faults: Mutex<FaultQueue>,
}

impl Shared {
    fn new(config: EmulatorConfig, addr: SocketAddr) -> Shared {
        let ids = IdGen::new();
        let keys = Keys {
            access_key: ids.access_key(),
            secret_key: ids.secret_key(),
            temporary_access_key: ids.access_key(),
            temporary_secret_key: ids.secret_key(),
            security_token: ids.token("gQpjbi1ub3J0aC00", 344),
            auth_token: ids.token("MII", 512),
        };
        let start = config.start_time.unwrap_or_else(SystemTime::now);
        let origin = match start.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs())
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000_000),
            Err(e) => -i64::try_from(e.duration().as_secs())
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000_000),
        };
        let mut state = State::new(
            Clock::at_unix_micros(origin),
            config.advance_on_read,
            config.scenarios.clone(),
        );
        let (cluster_id, nodepool_id, autopilot_cluster_id) = (ids.uuid(), ids.uuid(), ids.uuid());
        let demo = NewCluster::cce(&cluster_id, DEMO_VERSION)
            .name(DEMO_CLUSTER_NAME)
            .tag("env", "demo");
        state.add_cluster(&demo, &ids);
        state.add_nodepool(&cluster_id, &nodepool_id);
        let demo = NewCluster::autopilot(&autopilot_cluster_id, DEMO_VERSION)
            .name(DEMO_AUTOPILOT_CLUSTER_NAME)
            .tag("env", "demo");
        state.add_cluster(&demo, &ids);
        let created =
            state.create_workflow(&autopilot_cluster_id, Some(DEMO_AUTOPILOT_TARGET), &ids);
        debug_assert!(created.is_ok(), "the demo workflow is valid");
        Shared {
            config,
            addr,
            keys,
            project_id: ids.hex(32),
            domain_id: ids.hex(32),
            region: "cn-north-4".to_string(),
            cluster_id,
            nodepool_id,
            autopilot_cluster_id,
            ids,
            state: Mutex::new(state),
            requests: Mutex::new(RequestLog::default()),
            faults: Mutex::new(FaultQueue::default()),
        }
    }

    fn endpoint(&self) -> String {
        let scheme = if self.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The state, locked. Never held across an `.await`.
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn record(&self, request: ReceivedRequest) {
        lock(&self.requests).push(request);
    }

    fn take_fault(&self) -> Option<Fault> {
        lock(&self.faults).take()
    }
}

/// Locks a mutex, ignoring poisoning (a panicking test thread must not wedge the emulator).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How many received requests an emulator remembers for [`Emulator::requests`].
pub const MAX_RECORDED_REQUESTS: usize = 100_000;

/// How many bytes of bodies and headers an emulator remembers for [`Emulator::requests`].
pub const MAX_RECORDED_BYTES: usize = 64 << 20;

/// The received requests, newest last, bounded in count and in bytes: a long soak or a flood of
/// large requests must not grow the emulator without bound.
#[derive(Default)]
struct RequestLog {
    requests: VecDeque<ReceivedRequest>,
    bytes: usize,
}

impl RequestLog {
    /// Appends `request`, then forgets the oldest requests until both caps hold again.
    fn push(&mut self, request: ReceivedRequest) {
        self.bytes = self.bytes.saturating_add(recorded_size(&request));
        self.requests.push_back(request);
        while self.requests.len() > MAX_RECORDED_REQUESTS
            || (self.bytes > MAX_RECORDED_BYTES && self.requests.len() > 1)
        {
            let Some(oldest) = self.requests.pop_front() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(recorded_size(&oldest));
        }
    }

    fn to_vec(&self) -> Vec<ReceivedRequest> {
        self.requests.iter().cloned().collect()
    }
}

/// The bytes a recorded request holds (its strings' lengths).
fn recorded_size(request: &ReceivedRequest) -> usize {
    let headers: usize = request.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    request.method.len() + request.uri.len() + headers + request.body.len()
}

/// A running emulator. Dropping it stops the server; [`Emulator::shutdown`] also waits for it.
///
/// At start it holds, in one project of region `cn-north-4`:
/// - a CCE cluster ([`Emulator::cluster_id`], version `v1.28.15-r0`) with a node pool
///   ([`Emulator::nodepool_id`]) and the `DefaultPool` every CCE cluster has;
/// - an Autopilot cluster ([`Emulator::autopilot_cluster_id`], version `v1.28.15-r0`) with an
///   upgrade workflow to `v1.29.10-r0`, created at start and waiting in `Init`.
pub struct Emulator {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl fmt::Debug for Emulator {
    /// Secrets (secret keys, security token, IAM token) are not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("endpoint", &self.endpoint())
            .field("access_key", &self.access_key())
            .field("secret_key", &"** redacted **")
            .field("temporary_access_key", &self.temporary_access_key())
            .field("temporary_secret_key", &"** redacted **")
            .field("security_token", &"** redacted **")
            .field("auth_token", &"** redacted **")
            .field("project_id", &self.project_id())
            .field("region", &self.region())
            .field("config", &self.shared.config)
            .finish()
    }
}

impl Emulator {
    /// Starts an emulator with [`EmulatorConfig::default`] on `127.0.0.1` and a
    /// free port. Must be called within a tokio runtime.
    pub async fn start() -> std::io::Result<Emulator> {
        Emulator::start_with(EmulatorConfig::default()).await
    }

    /// Starts an emulator with `config` on `127.0.0.1` and a free port. Must be called within
    /// a tokio runtime.
    pub async fn start_with(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let tls = config.tls.as_ref().map(TlsPem::acceptor).transpose()?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let shared = Arc::new(Shared::new(config, listener.local_addr()?));
        let (shutdown, signal) = watch::channel(false);
        if let Some(pace) = shared.config.pace {
            tokio::spawn(tick(shared.clone(), pace, shutdown.subscribe()));
        }
        let server = tokio::spawn(server::serve(listener, tls, shared.clone(), signal));
        tracing::debug!(endpoint = %shared.endpoint(), "emulator: started");
        Ok(Emulator {
            shared,
            shutdown,
            server: Some(server),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.shared.endpoint()
    }

    /// The permanent access key (AK) it accepts.
    pub fn access_key(&self) -> &str {
        &self.shared.keys.access_key
    }

    /// The secret key (SK) of [`Emulator::access_key`]; random, different for every emulator.
    pub fn secret_key(&self) -> &str {
        &self.shared.keys.secret_key
    }

    /// A temporary access key, valid only with [`Emulator::security_token`] in a signed
    /// `X-Security-Token` header.
    pub fn temporary_access_key(&self) -> &str {
        &self.shared.keys.temporary_access_key
    }

    /// The secret key of [`Emulator::temporary_access_key`].
    pub fn temporary_secret_key(&self) -> &str {
        &self.shared.keys.temporary_secret_key
    }

    /// The security token that goes with the temporary keys.
    pub fn security_token(&self) -> &str {
        &self.shared.keys.security_token
    }

    /// An IAM token accepted in `X-Auth-Token` (such requests carry no signature).
    pub fn auth_token(&self) -> &str {
        &self.shared.keys.auth_token
    }

    /// The project id (32 hex digits) of region [`Emulator::region`].
    pub fn project_id(&self) -> &str {
        &self.shared.project_id
    }

    /// The region, `cn-north-4`.
    pub fn region(&self) -> &str {
        &self.shared.region
    }

    /// The demo CCE cluster (version `v1.28.15-r0` at start).
    pub fn cluster_id(&self) -> &str {
        &self.shared.cluster_id
    }

    /// The demo node pool of [`Emulator::cluster_id`].
    pub fn nodepool_id(&self) -> &str {
        &self.shared.nodepool_id
    }

    /// The demo Autopilot cluster, whose upgrade workflow (`v1.28.15-r0` → `v1.29.10-r0`) was
    /// created at start and waits in `Init`.
    pub fn autopilot_cluster_id(&self) -> &str {
        &self.shared.autopilot_cluster_id
    }

    /// Adds a cluster (or replaces its version and kind). Ids may contain anything, spaces,
    /// `+`, `%` or non-ASCII included: request paths are percent-decoded before lookup.
    /// An Autopilot cluster is served under `/autopilot/...`, a CCE cluster under `/api/...`;
    /// a CCE cluster also gets a `DefaultPool` node pool. The scenarios of
    /// [`EmulatorConfig::scenario`] apply to it.
    /// Its name is its id, and it has no tags: [`Emulator::add_cluster_with`] sets them.
    pub fn add_cluster(&self, id: &str, version: &str, autopilot: bool) {
        let cluster = if autopilot {
            NewCluster::autopilot(id, version)
        } else {
            NewCluster::cce(id, version)
        };
        self.add_cluster_with(cluster);
    }

    /// Adds a cluster with its name and tags (or replaces its name, tags, version and kind: its
    /// node pools, tasks and workflows stay), as [`Emulator::add_cluster`] does.
    ///
    /// ```no_run
    /// # use cce_upgrade::emulator::{Emulator, EmulatorConfig, NewCluster};
    /// # async fn example() -> std::io::Result<()> {
    /// let emulator = Emulator::start_with(EmulatorConfig::fast()).await?;
    /// emulator.add_cluster_with(NewCluster::cce("prod-id", "v1.28.15-r0").name("prod").tag("env", "prod"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn add_cluster_with(&self, cluster: NewCluster) {
        self.shared.state().add_cluster(&cluster, &self.shared.ids);
    }

    /// Sets the phase the cluster answers in `status.phase` from now on, e.g.
    /// `Hibernation` or `Unavailable`; in any phase but `Available`, `UpgradeCluster` is refused
    /// (400 `CCE.01400013`, naming the phase). `Available` gives the cluster back its own phase:
    /// `Upgrading` while an upgrade task is under way, else `Available`.
    ///
    /// # Panics
    /// If there is no such cluster.
    pub fn set_cluster_phase(&self, cluster_id: &str, phase: impl Into<ClusterPhase>) {
        let phase = phase.into();
        let phase = (phase != ClusterPhase::Available).then_some(phase);
        assert!(
            self.shared.state().set_cluster_phase(cluster_id, phase),
            "set_cluster_phase: no cluster {cluster_id:?}"
        );
    }

    /// The cluster's phase as `ShowCluster` answers it now.
    pub fn cluster_phase(&self, cluster_id: &str) -> Option<ClusterPhase> {
        let state = self.shared.state();
        state
            .cluster(cluster_id)
            .map(|_| state.cluster_phase(cluster_id))
    }

    /// Adds a node pool to a cluster.
    ///
    /// # Panics
    /// If there is no such cluster: add it first with [`Emulator::add_cluster`].
    pub fn add_nodepool(&self, cluster_id: &str, nodepool_id: &str) {
        assert!(
            self.shared.state().add_nodepool(cluster_id, nodepool_id),
            "add_nodepool: no cluster {cluster_id:?}; add it first with add_cluster"
        );
    }

    /// Plays `scenario` on a cluster from now on (replacing one of the same kind).
    ///
    /// # Panics
    /// If there is no such cluster.
    pub fn set_scenario(&self, cluster_id: &str, scenario: Scenario) {
        assert!(
            self.shared.state().set_scenario(cluster_id, scenario),
            "set_scenario: no cluster {cluster_id:?}"
        );
    }

    /// Removes every scenario of a cluster (a pre-check Exception is then "fixed").
    ///
    /// # Panics
    /// If there is no such cluster.
    pub fn clear_scenarios(&self, cluster_id: &str) {
        assert!(
            self.shared.state().clear_scenarios(cluster_id),
            "clear_scenarios: no cluster {cluster_id:?}"
        );
    }

    /// Moves every unfinished task `steps` steps (see the [time](self#time) section).
    pub fn advance(&self, steps: u32) {
        self.shared.state().advance(steps);
    }

    /// Moves the emulator's clock forward by `by` (timestamps, pre-check expiry). Tasks do not
    /// move with it.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.state().advance_clock(by);
    }

    /// The emulator's clock as a [`Clock`](crate::clock::Clock) for a client: `now` is the
    /// emulator's time and `sleep` moves the emulator's clock forward instead of waiting, so a
    /// client polling with any interval runs at the pace of the requests alone.
    /// [`Emulator::client_builder`] sets it on the clients it configures.
    pub fn clock(&self) -> Arc<dyn crate::clock::Clock> {
        Arc::new(EmulatorClock {
            shared: self.shared.clone(),
        })
    }

    /// The emulator's clock now, as the service writes timestamps
    /// (`2024-03-12 08:15:00 +0000 UTC`).
    pub fn now(&self) -> String {
        self.shared.state().now_timestamp()
    }

    /// The cluster's current version (the target once an upgrade task succeeded).
    pub fn cluster_version(&self, cluster_id: &str) -> Option<String> {
        self.shared
            .state()
            .cluster(cluster_id)
            .map(|c| c.version.clone())
    }

    /// The cluster's platform version (e.g. `cce.5.0.0`), which follows its version.
    pub fn cluster_platform_version(&self, cluster_id: &str) -> Option<String> {
        self.shared
            .state()
            .cluster(cluster_id)
            .map(|c| c.platform_version.clone())
    }

    /// How many `UpgradeCluster` (or `UpgradeAutopilotCluster`) requests the service acted on
    /// for the cluster, i.e. created an upgrade task for (refused ones do not count).
    pub fn upgrades_started(&self, cluster_id: &str) -> usize {
        self.shared
            .state()
            .cluster(cluster_id)
            .map_or(0, |c| c.upgrades_started)
    }

    /// The cluster's upgrade workflows as a list request would return them now, newest first.
    pub fn workflows(&self, cluster_id: &str) -> Vec<Value> {
        self.shared.state().workflows(cluster_id)
    }

    /// The cluster's pre-check tasks as a list request would return them, newest first
    /// (observing does not move them).
    pub fn pre_checks(&self, cluster_id: &str) -> Vec<Value> {
        self.shared.state().prechecks_of(cluster_id)
    }

    /// The cluster's upgrade tasks as a list request would return them, newest first
    /// (observing does not move them).
    pub fn upgrade_tasks(&self, cluster_id: &str) -> Vec<Value> {
        self.shared.state().upgrades_of(cluster_id)
    }

    /// Every request that reached the server so far, in arrival order (in a very long run, the
    /// most recent ones: at most [`MAX_RECORDED_REQUESTS`] requests and [`MAX_RECORDED_BYTES`]
    /// are kept).
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        lock(&self.shared.requests).to_vec()
    }

    /// Plays `fault` on the next `count` requests (to any route), after any faults already
    /// queued.
    pub fn inject(&self, fault: Fault, count: usize) {
        lock(&self.shared.faults).push(fault, count);
    }

    /// Stops accepting connections, lets requests in flight finish (cutting injected delays
    /// short), closes idle connections, and returns when the server has stopped.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take()
            && let Err(error) = server.await
        {
            tracing::warn!(%error, "emulator: the server task failed");
        }
    }
}

/// The emulator's clock, seen by a client: sleeping moves it.
struct EmulatorClock {
    shared: Arc<Shared>,
}

impl fmt::Debug for EmulatorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmulatorClock")
    }
}

impl crate::clock::Clock for EmulatorClock {
    fn now(&self) -> SystemTime {
        let micros = self.shared.state().now_unix_micros();
        match u64::try_from(micros) {
            Ok(m) => SystemTime::UNIX_EPOCH + Duration::from_micros(m),
            Err(_) => SystemTime::UNIX_EPOCH,
        }
    }

    fn sleep(
        &self,
        duration: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        self.shared.state().advance_clock(duration);
        // Let other tasks (the server, other clients) run, as a real wait would.
        Box::pin(tokio::task::yield_now())
    }
}

/// The demo pace: every `pace`, every task moves one step and the clock moves by `pace`.
async fn tick(shared: Arc<Shared>, pace: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(pace) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let mut state = shared.state();
        state.advance(1);
        state.advance_clock(pace);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

#[cfg(test)]
mod request_log_tests {
    use super::*;

    fn request(body_bytes: usize) -> ReceivedRequest {
        ReceivedRequest {
            method: "POST".to_string(),
            uri: "/".to_string(),
            headers: vec![("host".to_string(), "x".to_string())],
            body: vec![b'a'; body_bytes],
            authenticated: false,
        }
    }

    #[test]
    fn the_log_forgets_the_oldest_requests_past_its_byte_cap() {
        let mut log = RequestLog::default();
        let each = DEFAULT_MAX_BODY_BYTES;
        let pushed = MAX_RECORDED_BYTES / each + 10;
        for _ in 0..pushed {
            log.push(request(each));
        }
        let kept = log.to_vec();
        assert!(kept.len() < pushed, "kept all {pushed}");
        let bytes: usize = kept.iter().map(recorded_size).sum();
        assert!(bytes <= MAX_RECORDED_BYTES, "{bytes} bytes kept");
        assert_eq!(bytes, log.bytes);
        // The newest are the ones kept.
        log.push(request(1));
        assert_eq!(log.to_vec().last().unwrap().body.len(), 1);
    }

    #[test]
    fn the_log_keeps_at_most_the_request_cap() {
        let mut log = RequestLog::default();
        for _ in 0..MAX_RECORDED_REQUESTS + 5 {
            log.push(request(0));
        }
        assert_eq!(log.to_vec().len(), MAX_RECORDED_REQUESTS);
    }
}
