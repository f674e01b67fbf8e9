//! The emulated API: routing, request validation and the answers of every operation.
//!
//! Routes are the spec's: [`ROUTES`] pairs each generated [`Operation`] (method and path
//! template, body rules) with what the service does for it, so the emulator serves exactly the
//! operations of `openapi/`. Routing follows the gateway: an unknown path is `404 APIGW.0101`
//! and a known path with the wrong method is `405`, both before authentication; then a refused
//! signature or token is `401 APIGW.0301`; then the service checks the project, the cluster (and
//! node pool, task, workflow, job or plan), and the body, in that order.
//!
//! A CCE cluster lives under `/api/...`, an Autopilot cluster under `/autopilot/...`; asking for
//! one under the other prefix is a 404 that says so. Bodies are checked with the spec's rule
//! tables ([`checks::check_body`]), then what the service checks beyond the schema (versions,
//! what is under way).

use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Shared;
use super::auth::{self, AuthError, Principal};
use super::state::{Flavour, Refusal, State, UpgradeAction};
use crate::call::Operation;
use crate::checks;
use crate::generated as g;
use crate::generated::types as t;

/// Error code for a missing project, cluster, node pool, task, workflow, job or plan.
const NOT_FOUND: &str = "CCE.01404001";
/// Error code for an invalid request body.
const INVALID: &str = "CCE.01400001";
/// Error code for a request refused because something is under way.
const CONFLICT: &str = "CCE.01400013";

/// An answer, before the transport adds `X-Request-Id`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: ReplyBody,
    pub(crate) headers: Vec<(&'static str, String)>,
}

/// The body of a [`Reply`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReplyBody {
    /// `application/json`.
    Json(Value),
    /// `text/html`.
    Html(&'static str),
    /// `text/plain`.
    Text(&'static str),
    /// No body at all.
    Empty,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: ReplyBody::Json(body),
            headers: Vec::new(),
        }
    }

    fn empty() -> Reply {
        Reply {
            status: 200,
            body: ReplyBody::Empty,
            headers: Vec::new(),
        }
    }

    /// An error in the gateway's and the service's shape.
    pub(crate) fn error(status: u16, code: &str, msg: &str, request_id: &str) -> Reply {
        Reply::json(
            status,
            json!({"error_code": code, "error_msg": msg, "request_id": request_id}),
        )
    }
}

/// What the service does for an operation; CCE and Autopilot twins share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    FeatureGates,
    UpgradeFeatureGates,
    UpgradePaths,
    UpgradeInfo,
    CreateWorkflow,
    ListWorkflows,
    ShowWorkflow,
    UpdateWorkflow,
    CreatePreCheck,
    ListPreChecks,
    ShowPreCheck,
    AddonPreCheck,
    ListAddonPreChecks,
    CreateSnapshot,
    ListSnapshots,
    Upgrade,
    ListUpgrades,
    ShowUpgrade,
    Retry,
    Pause,
    Continue,
    PostCheck,
    SyncNodePool,
    SyncNode,
    BatchSyncNodes,
    ShowJob,
    ListV2Jobs,
    GetV2Job,
    DeleteV2Job,
    ListPlans,
    UpdatePlan,
}

/// Every operation of the spec and what the service does for it.
pub(crate) static ROUTES: [(&Operation, Action); 50] = [
    (&g::SHOW_FEATURE_GATES, Action::FeatureGates),
    (&g::SHOW_AUTOPILOT_FEATURE_GATES, Action::FeatureGates),
    (
        &g::LIST_CLUSTER_UPGRADE_FEATURE_GATES,
        Action::UpgradeFeatureGates,
    ),
    (
        &g::LIST_AUTOPILOT_CLUSTER_UPGRADE_FEATURE_GATES,
        Action::UpgradeFeatureGates,
    ),
    (&g::LIST_CLUSTER_UPGRADE_PATHS, Action::UpgradePaths),
    (
        &g::LIST_AUTOPILOT_CLUSTER_UPGRADE_PATHS,
        Action::UpgradePaths,
    ),
    (&g::SHOW_CLUSTER_UPGRADE_INFO, Action::UpgradeInfo),
    (&g::SHOW_AUTOPILOT_CLUSTER_UPGRADE_INFO, Action::UpgradeInfo),
    (&g::CREATE_UPGRADE_WORK_FLOW, Action::CreateWorkflow),
    (
        &g::CREATE_AUTOPILOT_UPGRADE_WORK_FLOW,
        Action::CreateWorkflow,
    ),
    (&g::LIST_UPGRADE_WORK_FLOWS, Action::ListWorkflows),
    (&g::LIST_AUTOPILOT_UPGRADE_WORK_FLOWS, Action::ListWorkflows),
    (&g::SHOW_UPGRADE_WORK_FLOW, Action::ShowWorkflow),
    (&g::SHOW_AUTOPILOT_UPGRADE_WORK_FLOW, Action::ShowWorkflow),
    (&g::UPGRADE_WORK_FLOW_UPDATE, Action::UpdateWorkflow),
    (
        &g::UPGRADE_AUTOPILOT_WORK_FLOW_UPDATE,
        Action::UpdateWorkflow,
    ),
    (&g::CREATE_PRE_CHECK, Action::CreatePreCheck),
    (&g::CREATE_AUTOPILOT_PRE_CHECK, Action::CreatePreCheck),
    (&g::LIST_PRE_CHECK_TASKS, Action::ListPreChecks),
    (&g::LIST_AUTOPILOT_PRE_CHECK_TASKS, Action::ListPreChecks),
    (&g::SHOW_PRE_CHECK, Action::ShowPreCheck),
    (&g::SHOW_AUTOPILOT_PRE_CHECK, Action::ShowPreCheck),
    (&g::BATCH_CREATE_ADDON_PRECHECK, Action::AddonPreCheck),
    (&g::LIST_ADDON_PRECHECK_TASKS, Action::ListAddonPreChecks),
    (&g::CREATE_CLUSTER_MASTER_SNAPSHOT, Action::CreateSnapshot),
    (
        &g::CREATE_AUTOPILOT_CLUSTER_MASTER_SNAPSHOT,
        Action::CreateSnapshot,
    ),
    (
        &g::LIST_CLUSTER_MASTER_SNAPSHOT_TASKS,
        Action::ListSnapshots,
    ),
    (
        &g::LIST_AUTOPILOT_CLUSTER_MASTER_SNAPSHOT_TASKS,
        Action::ListSnapshots,
    ),
    (&g::UPGRADE_CLUSTER, Action::Upgrade),
    (&g::UPGRADE_AUTOPILOT_CLUSTER, Action::Upgrade),
    (&g::LIST_UPGRADE_CLUSTER_TASKS, Action::ListUpgrades),
    (
        &g::LIST_AUTOPILOT_UPGRADE_CLUSTER_TASKS,
        Action::ListUpgrades,
    ),
    (&g::SHOW_UPGRADE_CLUSTER_TASK, Action::ShowUpgrade),
    (&g::SHOW_AUTOPILOT_UPGRADE_CLUSTER_TASK, Action::ShowUpgrade),
    (&g::RETRY_UPGRADE_CLUSTER_TASK, Action::Retry),
    (&g::RETRY_AUTOPILOT_UPGRADE_CLUSTER_TASK, Action::Retry),
    (&g::PAUSE_UPGRADE_CLUSTER_TASK, Action::Pause),
    (&g::CONTINUE_UPGRADE_CLUSTER_TASK, Action::Continue),
    (&g::CREATE_POST_CHECK, Action::PostCheck),
    (&g::CREATE_AUTOPILOT_POST_CHECK, Action::PostCheck),
    (&g::UPGRADE_NODE_POOL, Action::SyncNodePool),
    (&g::SYNC_NODE, Action::SyncNode),
    (&g::BATCH_SYNC_NODES, Action::BatchSyncNodes),
    (&g::SHOW_JOB, Action::ShowJob),
    (&g::SHOW_AUTOPILOT_JOB, Action::ShowJob),
    (&g::LIST_AUTOPILOT_JOBS, Action::ListV2Jobs),
    (&g::GET_AUTOPILOT_ONE_JOB, Action::GetV2Job),
    (&g::DELETE_AUTOPILOT_JOB, Action::DeleteV2Job),
    (&g::LIST_AUTOPILOT_UPGRADE_PLANS, Action::ListPlans),
    (&g::UPDATE_AUTOPILOT_UPGRADE_PLAN, Action::UpdatePlan),
];

/// A matched route: the operation, its action, and the decoded path parameters.
#[derive(Debug)]
struct Matched {
    op: &'static Operation,
    action: Action,
    flavour: Flavour,
    params: Vec<(&'static str, String)>,
}

impl Matched {
    fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// What the path and method name.
#[derive(Debug)]
enum Match {
    Found(Matched),
    /// The path exists with these methods.
    WrongMethod(String),
    NotFound,
    IamProjects,
}

/// Matches a raw path and method against the spec's routes; path segments are percent-decoded
/// (`+` stays `+`).
fn route(method: &str, raw_path: &str) -> Match {
    let segments: Vec<String> = raw_path
        .split('/')
        .skip(1)
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    if segments == ["v3", "projects"] {
        return if method == "GET" {
            Match::IamProjects
        } else {
            Match::WrongMethod("GET".into())
        };
    }
    let mut allowed: Vec<&str> = Vec::new();
    for (op, action) in &ROUTES {
        let template: Vec<&str> = op.path.split('/').skip(1).collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        let fits = template.iter().zip(&segments).all(|(t, s)| {
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) if !s.is_empty() => {
                    params.push((name, s.clone()));
                    true
                }
                Some(_) => false,
                None => t == s,
            }
        });
        if !fits {
            continue;
        }
        if op.method.as_str() != method {
            allowed.push(op.method.as_str());
            continue;
        }
        // The parameter names are `'static` in the template.
        let params = params
            .into_iter()
            .map(|(name, value)| (static_name(op.path, name), value))
            .collect();
        let flavour = if op.path.starts_with("/autopilot/") {
            Flavour::Autopilot
        } else {
            Flavour::Cce
        };
        return Match::Found(Matched {
            op,
            action: *action,
            flavour,
            params,
        });
    }
    if allowed.is_empty() {
        Match::NotFound
    } else {
        allowed.sort_unstable();
        allowed.dedup();
        Match::WrongMethod(allowed.join(", "))
    }
}

/// The `'static` slice of `path` equal to `name`.
fn static_name(path: &'static str, name: &str) -> &'static str {
    path.split(['{', '}'])
        .find(|part| *part == name)
        .unwrap_or("")
}

/// Answers one request. `auth` is the verifier's verdict on it.
pub(crate) fn handle(
    shared: &Shared,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    auth: &Result<Principal, AuthError>,
    request_id: &str,
) -> Reply {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let matched = match route(method, path) {
        Match::Found(matched) => Some(matched),
        Match::IamProjects => None,
        Match::NotFound => {
            return Reply::error(
                404,
                "APIGW.0101",
                "The API does not exist or has not been published in the environment",
                request_id,
            );
        }
        Match::WrongMethod(allowed) => {
            let mut reply = Reply::error(
                405,
                "APIGW.0105",
                &format!("Method {method} is not allowed on {path}; use {allowed}"),
                request_id,
            );
            reply.headers.push(("allow", allowed));
            return reply;
        }
    };
    if let Err(e) = auth {
        return Reply::error(401, auth::ERROR_CODE, &e.error_msg(), request_id);
    }
    let cx = Cx {
        shared,
        request_id,
        body,
        query,
    };
    let Some(m) = matched else {
        return cx.iam_projects(path_and_query);
    };
    cx.serve(&m).unwrap_or_else(|e| e)
}

/// One request being answered.
struct Cx<'a> {
    shared: &'a Shared,
    request_id: &'a str,
    body: &'a [u8],
    query: &'a str,
}

impl Cx<'_> {
    fn refusal(&self, refusal: Refusal) -> Reply {
        match refusal {
            Refusal::NotFound(msg) => Reply::error(404, NOT_FOUND, &msg, self.request_id),
            Refusal::Invalid(msg) => Reply::error(
                400,
                INVALID,
                &format!("Invalid request: {msg}"),
                self.request_id,
            ),
            Refusal::Conflict(msg) => Reply::error(
                400,
                CONFLICT,
                &format!("Invalid request: {msg}"),
                self.request_id,
            ),
        }
    }

    fn invalid(&self, msg: impl Into<String>) -> Reply {
        self.refusal(Refusal::Invalid(msg.into()))
    }

    /// The body, checked with the operation's rules and read as `T`.
    fn body<T: DeserializeOwned>(&self, m: &Matched) -> Result<T, Reply> {
        let mut json = match serde_json::from_slice::<Value>(self.body) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return Err(self.invalid("the body must be a JSON object")),
            Err(e) => return Err(self.invalid(format!("the body is not valid JSON: {e}"))),
        };
        if let Some(rules) = m.op.body {
            let params: Vec<(&'static str, &str)> =
                m.params.iter().map(|(n, v)| (*n, v.as_str())).collect();
            checks::check_body(rules, &mut json, &params)
                .map_err(|e| self.invalid(e.to_string()))?;
        }
        serde_json::from_value(json)
            .map_err(|e| self.invalid(format!("the body does not fit: {e}")))
    }

    fn query(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
        })
    }

    fn serve(&self, m: &Matched) -> Result<Reply, Reply> {
        // The query's values, with the same generated checks the client runs before sending.
        for (name, value) in form_urlencoded::parse(self.query.as_bytes()) {
            if let Some((name, checks)) = m.op.query.iter().find(|(n, _)| *n == name) {
                checks::check_query(name, checks, &value)
                    .map_err(|e| self.invalid(e.to_string()))?;
            }
        }
        let ids = &self.shared.ids;
        let config = &self.shared.config;
        let project = m.param("project_id");
        if m.params.iter().any(|(n, _)| *n == "project_id") && project != self.shared.project_id {
            return Err(self.refusal(Refusal::NotFound(format!("Project {project} not found"))));
        }
        let cluster = m.param("cluster_id").to_string();
        let mut state = self.shared.state();
        let state: &mut State = &mut state;
        if m.params.iter().any(|(n, _)| *n == "cluster_id") {
            state
                .check_cluster(&cluster, m.flavour)
                .map_err(|r| self.refusal(r))?;
        }
        let ok = |v: Value| Ok(Reply::json(200, v));
        let refused = |r: Refusal| self.refusal(r);
        match m.action {
            Action::FeatureGates => ok(State::feature_gates()),
            Action::UpgradeFeatureGates => ok(State::upgrade_feature_gates()),
            Action::UpgradePaths => ok(State::upgrade_paths()),
            Action::UpgradeInfo => ok(state.upgrade_info(&cluster)),
            Action::CreateWorkflow => {
                let body: t::CreateUpgradeWorkFlowRequestBody = self.body(m)?;
                let created = state
                    .create_workflow(&cluster, Some(&body.spec.target_version), ids)
                    .map_err(refused)?;
                // CCE documents 201, Autopilot 200.
                let status = if m.flavour == Flavour::Cce { 201 } else { 200 };
                Ok(Reply::json(status, created))
            }
            Action::ListWorkflows => {
                ok(state.list_workflows(&cluster, config.list_items_as_object))
            }
            Action::ShowWorkflow => state
                .show_workflow(&cluster, m.param("upgrade_workflow_id"))
                .map(|v| Reply::json(200, v))
                .map_err(refused),
            Action::UpdateWorkflow => {
                let body: t::UpgradeWorkFlowUpdateRequestBody = self.body(m)?;
                let phase = body.status.as_ref().and_then(|s| s.phase.as_ref());
                state
                    .update_workflow(&cluster, m.param("upgrade_workflow_id"), phase)
                    .map(|v| Reply::json(200, v))
                    .map_err(refused)
            }
            Action::CreatePreCheck => {
                let body: t::PreCheckClusterRequestBody = self.body(m)?;
                state
                    .create_precheck(&cluster, &body.spec, ids)
                    .map(|v| Reply::json(200, v))
                    .map_err(refused)
            }
            Action::ListPreChecks => ok(state.list_prechecks(&cluster)),
            Action::ShowPreCheck => state
                .show_precheck(&cluster, m.param("task_id"))
                .map(|v| Reply::json(200, v))
                .map_err(refused),
            Action::AddonPreCheck => {
                let body: t::AddonCheckRequestBody = self.body(m)?;
                if body.spec.cluster_id != cluster {
                    return Err(self.invalid(format!(
                        "spec.clusterID {} is not the cluster {cluster} of the path",
                        body.spec.cluster_id
                    )));
                }
                ok(state.addon_check(&cluster, &body, ids))
            }
            Action::ListAddonPreChecks => ok(state.list_addon_checks(
                &cluster,
                self.query("type").as_deref(),
                self.query("task_id").as_deref(),
                self.query("addon_instance_id").as_deref(),
            )),
            Action::CreateSnapshot => ok(state.create_snapshot(&cluster, ids)),
            Action::ListSnapshots => ok(state.list_snapshots(&cluster)),
            Action::Upgrade => {
                let body: t::UpgradeClusterRequestBody = self.body(m)?;
                let Some(action) = body.spec.cluster_upgrade_action else {
                    return Err(self.invalid("spec.clusterUpgradeAction is required"));
                };
                state
                    .upgrade(&cluster, &action, ids)
                    .map(|v| Reply::json(200, v))
                    .map_err(refused)
            }
            Action::ListUpgrades => ok(state.list_upgrades(&cluster)),
            Action::ShowUpgrade => state
                .show_upgrade(&cluster, m.param("task_id"))
                .map(|v| Reply::json(200, v))
                .map_err(refused),
            Action::Retry | Action::Pause | Action::Continue => {
                let action = match m.action {
                    Action::Retry => UpgradeAction::Retry,
                    Action::Pause => UpgradeAction::Pause,
                    _ => UpgradeAction::Continue,
                };
                state
                    .act_on_upgrade(&cluster, action)
                    .map(|()| Reply::empty())
                    .map_err(refused)
            }
            Action::PostCheck => {
                let body: t::PostCheckClusterRequestBody = self.body(m)?;
                ok(state.post_check(&cluster, &body.spec, ids))
            }
            Action::SyncNodePool => {
                let pool = m.param("nodepool_id");
                let known = state
                    .cluster(&cluster)
                    .is_some_and(|c| c.nodepools.contains(pool));
                if !known {
                    return Err(refused(Refusal::NotFound(format!(
                        "Node pool {pool} not found in cluster {cluster}"
                    ))));
                }
                let _body: t::UpgradeNodePool = self.body(m)?;
                let job = state.sync_nodepool(&cluster, pool, ids);
                if config.empty_nodepool_response {
                    return Ok(Reply::empty());
                }
                ok(json!({ "jobid": job }))
            }
            Action::SyncNode => Ok(Reply {
                status: 200,
                body: ReplyBody::Text("Sync node success"),
                headers: Vec::new(),
            }),
            Action::BatchSyncNodes => Ok(Reply {
                status: 200,
                body: ReplyBody::Text("Start to batch sync nodes"),
                headers: Vec::new(),
            }),
            Action::ShowJob => state
                .show_job(m.param("job_id"), m.flavour)
                .map(|v| Reply::json(200, v))
                .map_err(refused),
            Action::ListV2Jobs => ok(state.list_v2_jobs()),
            Action::GetV2Job => state
                .get_v2_job(m.param("job_id"))
                .map(|v| Reply::json(200, v))
                .map_err(refused),
            Action::DeleteV2Job => state
                .delete_v2_job(m.param("job_id"))
                .map(|()| Reply::empty())
                .map_err(refused),
            Action::ListPlans => ok(state.list_plans(&cluster, config.list_items_as_object)),
            Action::UpdatePlan => {
                let body: t::DelayUpgradePlanRequestBody = self.body(m)?;
                state
                    .postpone_plan(&cluster, m.param("upgrade_plan_id"), &body.not_before)
                    .map(|v| Reply::json(200, v))
                    .map_err(refused)
            }
        }
    }

    fn iam_projects(&self, path_and_query: &str) -> Reply {
        let name = self.query("name");
        let shared = self.shared;
        let endpoint = shared.endpoint();
        let projects = if name.as_deref().is_none_or(|n| n == shared.region) {
            vec![json!({
                "id": shared.project_id,
                "name": shared.region,
                "domain_id": shared.domain_id,
                "parent_id": shared.domain_id,
                "description": "",
                "enabled": true,
                "is_domain": false,
                "links": {"self": format!("{endpoint}/v3/projects/{}", shared.project_id)},
            })]
        } else {
            Vec::new()
        };
        Reply::json(
            200,
            json!({
                "projects": projects,
                "links": {
                    "self": format!("{endpoint}{path_and_query}"),
                    "previous": null,
                    "next": null,
                },
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(method: &str, path: &str) -> (Action, Flavour, Vec<(&'static str, String)>) {
        match route(method, path) {
            Match::Found(m) => (m.action, m.flavour, m.params),
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn every_operation_of_the_spec_is_routed_once() {
        let mut ids: Vec<&str> = ROUTES.iter().map(|(op, _)| op.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 50);
        for (op, action) in &ROUTES {
            let path = op
                .path
                .replace("{project_id}", "p")
                .replace("{cluster_id}", "c")
                .replace(['{', '}'], "");
            let (found, _, _) = found(op.method.as_str(), &path);
            assert_eq!(found, *action, "{}", op.id);
        }
    }

    #[test]
    fn routes_decode_segments_and_tell_the_flavour() {
        let (action, flavour, params) = found(
            "GET",
            "/api/v3/projects/p/clusters/a%20b+c%25%E4%B8%AD/operation/upgrade/tasks/t%2F1",
        );
        assert_eq!(action, Action::ShowUpgrade);
        assert_eq!(flavour, Flavour::Cce);
        assert_eq!(
            params,
            [
                ("project_id", "p".to_string()),
                ("cluster_id", "a b+c%中".to_string()),
                ("task_id", "t/1".to_string())
            ]
        );
        let (action, flavour, _) = found(
            "POST",
            "/autopilot/v3/projects/p/clusters/c/operation/postcheck",
        );
        assert_eq!((action, flavour), (Action::PostCheck, Flavour::Autopilot));
        assert!(matches!(route("GET", "/v3/projects"), Match::IamProjects));
    }

    #[test]
    fn unknown_paths_and_wrong_methods() {
        for path in [
            "/",
            "/api/v3/projects/p/clusters/c",
            "/api/v3/projects/p/clusters/c/operation/upgradeworkflows/",
            "/autopilot/v3/projects/p/clusters/c/nodepools/np/operation/upgrade",
            "/autopilot/v3/projects/p/clusters/c/operation/upgrade/pause",
            "/api/v2/projects/p/clusters/c/operation/postcheck",
        ] {
            assert!(matches!(route("GET", path), Match::NotFound), "{path}");
        }
        match route(
            "DELETE",
            "/api/v3/projects/p/clusters/c/operation/upgradeworkflows",
        ) {
            Match::WrongMethod(allowed) => assert_eq!(allowed, "GET, POST"),
            other => panic!("{other:?}"),
        }
        match route("GET", "/api/v3/projects/p/clusters/c/operation/postcheck") {
            Match::WrongMethod(allowed) => assert_eq!(allowed, "POST"),
            other => panic!("{other:?}"),
        }
    }
}
