//! The emulated API: routing, request validation and the answers of every operation.
//!
//! Routes are the spec's: a request is matched against the generated description of every
//! operation (method and path template, body rules), and the operation found is answered by
//! the behaviour of the operation it plays ([`behaviour_of`]: an Autopilot operation plays its
//! CCE twin's). Only behaviour is written here; an operation of the spec without one answers
//! `501` naming it. Routing follows the gateway: an unknown path is `404 APIGW.0101`
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
use super::state::{ClusterFilter, Flavour, Refusal, State, UpgradeAction};
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
/// Error code for an operation of the spec the emulator does not play.
const NOT_PLAYED: &str = "CCE.01501000";

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

/// ListClusters and ListAutopilotClusters: the flavour's clusters, filtered by the `status`,
/// `type` and `version` query parameters.
fn list_clusters(state: &State, flavour: Flavour, cx: &Cx<'_>) -> Value {
    let filter = ClusterFilter {
        phase: cx.query("status"),
        kind: cx.query("type"),
        version: cx.query("version"),
    };
    state.list_clusters(flavour, &filter, cx.detail())
}

/// The id of the operation whose behaviour `id` has: its CCE twin's for an Autopilot operation
/// that has one, else its own.
pub(crate) fn behaviour_of(id: &str) -> &str {
    crate::operations::find(id)
        .filter(|op| op.flavour == Some(crate::Flavour::Autopilot))
        .and_then(|op| op.twin)
        .unwrap_or(id)
}

/// A matched route: the operation, its action, and the decoded path parameters.
#[derive(Debug)]
struct Matched {
    op: &'static Operation<'static>,
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
}

/// Matches a raw path and method against the spec's routes; path segments are percent-decoded
/// (`+` stays `+`).
fn route(method: &str, raw_path: &str) -> Match {
    let segments: Vec<String> = raw_path
        .split('/')
        .skip(1)
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let mut allowed: Vec<&str> = Vec::new();
    for op in g::CALLS {
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
        Match::Found(matched) => matched,
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
    cx.serve(&matched).unwrap_or_else(|e| e)
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
        // What is hand-written is behaviour, by the operation it plays; routing is the spec's.
        let plays = behaviour_of(m.op.id);
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
        match plays {
            "ListClusters" | "ListAutopilotClusters" => ok(list_clusters(state, m.flavour, self)),
            "ShowCluster" | "ShowAutopilotCluster" => state
                .show_cluster(&cluster, m.flavour, self.detail())
                .map(|v| Reply::json(200, v))
                .map_err(refused),
            "ShowFeatureGates" => ok(State::feature_gates()),
            "ListClusterUpgradeFeatureGates" => ok(State::upgrade_feature_gates()),
            "ListClusterUpgradePaths" => ok(State::upgrade_paths()),
            "ShowClusterUpgradeInfo" => ok(state.upgrade_info(&cluster)),
            "CreateUpgradeWorkFlow" => {
                let body: t::CreateUpgradeWorkFlowRequestBody = self.body(m)?;
                let created = state
                    .create_workflow(&cluster, Some(&body.spec.target_version), ids)
                    .map_err(refused)?;
                // CCE documents 201, Autopilot 200.
                let status = if m.flavour == Flavour::Cce { 201 } else { 200 };
                Ok(Reply::json(status, created))
            }
            "ListUpgradeWorkFlows" => {
                ok(state.list_workflows(&cluster, config.list_items_as_object))
            }
            "ShowUpgradeWorkFlow" => state
                .show_workflow(&cluster, m.param("upgrade_workflow_id"))
                .map(|v| Reply::json(200, v))
                .map_err(refused),
            "UpgradeWorkFlowUpdate" => {
                let body: t::UpgradeWorkFlowUpdateRequestBody = self.body(m)?;
                let phase = body.status.as_ref().and_then(|s| s.phase.as_ref());
                state
                    .update_workflow(&cluster, m.param("upgrade_workflow_id"), phase)
                    .map(|v| Reply::json(200, v))
                    .map_err(refused)
            }
            "CreatePreCheck" => {
                let body: t::PreCheckClusterRequestBody = self.body(m)?;
                state
                    .create_precheck(&cluster, &body.spec, ids)
                    .map(|v| Reply::json(200, v))
                    .map_err(refused)
            }
            "ListPreCheckTasks" => ok(state.list_prechecks(&cluster)),
            "ShowPreCheck" => state
                .show_precheck(&cluster, m.param("task_id"))
                .map(|v| Reply::json(200, v))
                .map_err(refused),
            "BatchCreateAddonPrecheck" => {
                let body: t::AddonCheckRequestBody = self.body(m)?;
                if body.spec.cluster_id != cluster {
                    return Err(self.invalid(format!(
                        "spec.clusterID {} is not the cluster {cluster} of the path",
                        body.spec.cluster_id
                    )));
                }
                ok(state.addon_check(&cluster, &body, ids))
            }
            "ListAddonPrecheckTasks" => ok(state.list_addon_checks(
                &cluster,
                self.query("type").as_deref(),
                self.query("task_id").as_deref(),
                self.query("addon_instance_id").as_deref(),
            )),
            "CreateClusterMasterSnapshot" => state
                .create_snapshot(&cluster, ids)
                .map(|v| Reply::json(200, v))
                .map_err(refused),
            "ListClusterMasterSnapshotTasks" => ok(state.list_snapshots(&cluster)),
            "UpgradeCluster" => {
                let body: t::UpgradeClusterRequestBody = self.body(m)?;
                let Some(action) = body.spec.cluster_upgrade_action else {
                    return Err(self.invalid("spec.clusterUpgradeAction is required"));
                };
                state
                    .upgrade(&cluster, &action, ids)
                    .map(|v| Reply::json(200, v))
                    .map_err(refused)
            }
            "ListUpgradeClusterTasks" => ok(state.list_upgrades(&cluster)),
            "ShowUpgradeClusterTask" => state
                .show_upgrade(&cluster, m.param("task_id"))
                .map(|v| Reply::json(200, v))
                .map_err(refused),
            "RetryUpgradeClusterTask"
            | "PauseUpgradeClusterTask"
            | "ContinueUpgradeClusterTask" => {
                let action = match plays {
                    "RetryUpgradeClusterTask" => UpgradeAction::Retry,
                    "PauseUpgradeClusterTask" => UpgradeAction::Pause,
                    _ => UpgradeAction::Continue,
                };
                state
                    .act_on_upgrade(&cluster, action)
                    .map(|()| Reply::empty())
                    .map_err(refused)
            }
            "CreatePostCheck" => {
                let body: t::PostCheckClusterRequestBody = self.body(m)?;
                ok(state.post_check(&cluster, &body.spec, ids))
            }
            "UpgradeNodePool" => {
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
            "SyncNode" => Ok(Reply {
                status: 200,
                body: ReplyBody::Text("Sync node success"),
                headers: Vec::new(),
            }),
            "BatchSyncNodes" => Ok(Reply {
                status: 200,
                body: ReplyBody::Text("Start to batch sync nodes"),
                headers: Vec::new(),
            }),
            "ShowJob" => state
                .show_job(m.param("job_id"), m.flavour)
                .map(|v| Reply::json(200, v))
                .map_err(refused),
            "ListAutopilotJobs" => ok(state.list_v2_jobs()),
            "GetAutopilotOneJob" => state
                .get_v2_job(m.param("job_id"))
                .map(|v| Reply::json(200, v))
                .map_err(refused),
            "DeleteAutopilotJob" => state
                .delete_v2_job(m.param("job_id"))
                .map(|()| Reply::empty())
                .map_err(refused),
            "ListAutopilotUpgradePlans" => {
                ok(state.list_plans(&cluster, !config.plan_items_as_array))
            }
            "UpdateAutopilotUpgradePlan" => {
                let body: t::DelayUpgradePlanRequestBody = self.body(m)?;
                state
                    .postpone_plan(&cluster, m.param("upgrade_plan_id"), &body.not_before)
                    .map(|v| Reply::json(200, v))
                    .map_err(refused)
            }
            "KeystoneListProjects" => Ok(self.iam_projects()),
            _ => Ok(Reply::error(
                501,
                NOT_PLAYED,
                &format!(
                    "The emulator does not play {}: give it a behaviour in src/emulator/api.rs",
                    m.op.id
                ),
                self.request_id,
            )),
        }
    }

    /// Whether the query asks for details (`detail=true`).
    fn detail(&self) -> bool {
        self.query("detail")
            .is_some_and(|d| d.eq_ignore_ascii_case("true"))
    }

    fn iam_projects(&self) -> Reply {
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
                    "self": format!("{endpoint}/v3/projects{}", if self.query.is_empty() {
                        String::new()
                    } else {
                        format!("?{}", self.query)
                    }),
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

    fn found(method: &str, path: &str) -> (&'static str, Flavour, Vec<(&'static str, String)>) {
        match route(method, path) {
            Match::Found(m) => (m.op.id, m.flavour, m.params),
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn every_operation_of_the_spec_is_routed_to_itself() {
        for op in crate::operations::ALL {
            let path = op
                .path
                .replace("{project_id}", "p")
                .replace("{cluster_id}", "c")
                .replace(['{', '}'], "");
            let (found, _, _) = found(op.method, &path);
            assert_eq!(found, op.id);
        }
    }

    #[test]
    fn an_autopilot_operation_plays_its_cce_twin() {
        assert_eq!(
            behaviour_of("ShowAutopilotUpgradeClusterTask"),
            "ShowUpgradeClusterTask"
        );
        assert_eq!(
            behaviour_of("ShowUpgradeClusterTask"),
            "ShowUpgradeClusterTask"
        );
        assert_eq!(behaviour_of("ListAutopilotJobs"), "ListAutopilotJobs");
        assert_eq!(behaviour_of("NoSuchOperation"), "NoSuchOperation");
    }

    #[test]
    fn an_operation_without_a_behaviour_answers_501_naming_it() {
        static UNPLAYED: Operation<'static> = Operation {
            id: "NotPlayedHere",
            method: reqwest::Method::GET,
            path: "/api/v3/unplayed",
            params: &[],
            query: &[],
            body: None,
            server: None,
        };
        let shared = Shared::new(
            super::super::EmulatorConfig::fast(),
            "127.0.0.1:1".parse().expect("an address"),
        );
        let cx = Cx {
            shared: &shared,
            request_id: "r-1",
            body: b"",
            query: "",
        };
        let matched = Matched {
            op: &UNPLAYED,
            flavour: Flavour::Cce,
            params: Vec::new(),
        };
        let reply = cx.serve(&matched).unwrap_or_else(|e| e);
        assert_eq!(reply.status, 501);
        let ReplyBody::Json(body) = reply.body else {
            panic!("{reply:?}")
        };
        assert_eq!(body["error_code"], NOT_PLAYED);
        assert_eq!(body["request_id"], "r-1");
        let msg = body["error_msg"].as_str().expect("a message");
        assert!(msg.contains("NotPlayedHere"), "{msg}");
    }

    #[test]
    fn routes_decode_segments_and_tell_the_flavour() {
        let (id, flavour, params) = found(
            "GET",
            "/api/v3/projects/p/clusters/a%20b+c%25%E4%B8%AD/operation/upgrade/tasks/t%2F1",
        );
        assert_eq!(id, "ShowUpgradeClusterTask");
        assert_eq!(flavour, Flavour::Cce);
        assert_eq!(
            params,
            [
                ("project_id", "p".to_string()),
                ("cluster_id", "a b+c%中".to_string()),
                ("task_id", "t/1".to_string())
            ]
        );
        let (id, flavour, _) = found(
            "POST",
            "/autopilot/v3/projects/p/clusters/c/operation/postcheck",
        );
        assert_eq!(
            (id, flavour),
            ("CreateAutopilotPostCheck", Flavour::Autopilot)
        );
        assert_eq!(found("GET", "/v3/projects").0, "KeystoneListProjects");
        match route("POST", "/v3/projects") {
            Match::WrongMethod(allowed) => assert_eq!(allowed, "GET"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_paths_and_wrong_methods() {
        for path in [
            "/",
            "/api/v3/projects/p/clusters/c/operation/upgradeworkflows/",
            "/autopilot/v3/projects/p/clusters/c/nodepools/np/operation/upgrade",
            "/autopilot/v3/projects/p/clusters/c/operation/upgrade/pause",
            "/api/v2/projects/p/clusters/c/operation/postcheck",
            "/api/v3/projects/p/clusters/c/nodes",
        ] {
            assert!(matches!(route("GET", path), Match::NotFound), "{path}");
        }
        match route("DELETE", "/api/v3/projects/p/clusters/c") {
            Match::WrongMethod(allowed) => assert_eq!(allowed, "GET"),
            other => panic!("{other:?}"),
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
