//! The emulated API: routing, request validation and the JSON the service answers.
//!
//! Routing follows the gateway: an unknown path is `404 APIGW.0101` and a known path with the
//! wrong method is `405`, both before authentication; then a refused signature or token is
//! `401 APIGW.0301`; then the service checks the project, the cluster (and node pool or task),
//! and the body, in that order.
//!
//! Clusters live under the prefix of their kind: a CCE cluster under `/api/v3/...`, an Autopilot
//! cluster under `/autopilot/v3/...`; asking for one under the other prefix is a 404 that says so.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use super::Shared;
use super::auth::{self, AuthError, Principal};
use super::state::CreateError;

/// Error code for a missing project, cluster, node pool or task.
const NOT_FOUND: &str = "CCE.01404001";
/// Error code for an invalid request body.
const INVALID: &str = "CCE.01400001";
/// Error code for a workflow created while another one runs.
const CONFLICT: &str = "CCE.01400013";
/// Scripts of a node template, together, at most this many characters.
const MAX_SCRIPT_CHARS: usize = 10_240;

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

    /// An error in the gateway's and the service's shape.
    pub(crate) fn error(status: u16, code: &str, msg: &str, request_id: &str) -> Reply {
        Reply::json(
            status,
            json!({"error_code": code, "error_msg": msg, "request_id": request_id}),
        )
    }
}

/// Which API prefix a route was reached under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Api,
    Autopilot,
}

impl Prefix {
    fn as_str(self) -> &'static str {
        match self {
            Prefix::Api => "api",
            Prefix::Autopilot => "autopilot",
        }
    }
}

/// An operation, with its decoded path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    CreateWorkflow(ClusterPath),
    ListWorkflows(ClusterPath),
    ShowTask(ClusterPath, String),
    PostCheck(ClusterPath),
    UpgradeNodePool(ClusterPath, String),
    IamProjects,
}

/// `/{prefix}/v3/projects/{project_id}/clusters/{cluster_id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClusterPath {
    prefix: Prefix,
    project_id: String,
    cluster_id: String,
}

/// What the path and method name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Match {
    Found(Route),
    WrongMethod(&'static str),
    NotFound,
}

/// Matches a raw path and method; path segments are percent-decoded (`+` stays `+`).
fn route(method: &str, raw_path: &str) -> Match {
    let segments: Vec<String> = raw_path
        .split('/')
        .skip(1)
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let by_method = |allowed: &'static str, route: Route| {
        if method == allowed {
            Match::Found(route)
        } else {
            Match::WrongMethod(allowed)
        }
    };
    let cluster = |prefix: Prefix, project: &str, cluster: &str| ClusterPath {
        prefix,
        project_id: project.to_string(),
        cluster_id: cluster.to_string(),
    };
    match s.as_slice() {
        ["v3", "projects"] => by_method("GET", Route::IamProjects),
        [
            prefix @ ("api" | "autopilot"),
            "v3",
            "projects",
            project,
            "clusters",
            id,
            rest @ ..,
        ] => {
            let prefix = if *prefix == "api" {
                Prefix::Api
            } else {
                Prefix::Autopilot
            };
            let c = cluster(prefix, project, id);
            match rest {
                ["operation", "upgradeworkflows"] => match method {
                    "POST" => Match::Found(Route::CreateWorkflow(c)),
                    "GET" => Match::Found(Route::ListWorkflows(c)),
                    _ => Match::WrongMethod("GET, POST"),
                },
                ["operation", "upgrade", "tasks", task] => {
                    by_method("GET", Route::ShowTask(c, task.to_string()))
                }
                ["operation", "postcheck"] => by_method("POST", Route::PostCheck(c)),
                ["nodepools", pool, "operation", "upgrade"] if prefix == Prefix::Api => {
                    by_method("POST", Route::UpgradeNodePool(c, pool.to_string()))
                }
                _ => Match::NotFound,
            }
        }
        _ => Match::NotFound,
    }
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
    let route = match route(method, path) {
        Match::Found(route) => route,
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
            reply.headers.push(("allow", allowed.to_string()));
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
    };
    let result = match &route {
        Route::IamProjects => Ok(cx.iam_projects(path_and_query, query)),
        Route::CreateWorkflow(c) => cx.cluster(c).and_then(|()| cx.create_workflow(c)),
        Route::ListWorkflows(c) => cx.cluster(c).map(|()| cx.list_workflows(c)),
        Route::ShowTask(c, task) => cx.cluster(c).and_then(|()| cx.show_task(c, task)),
        Route::PostCheck(c) => cx.cluster(c).and_then(|()| cx.post_check(c)),
        Route::UpgradeNodePool(c, pool) => {
            cx.cluster(c).and_then(|()| cx.upgrade_node_pool(c, pool))
        }
    };
    result.unwrap_or_else(|e| e)
}

/// One request being answered.
struct Cx<'a> {
    shared: &'a Shared,
    request_id: &'a str,
    body: &'a [u8],
}

impl Cx<'_> {
    fn not_found(&self, msg: String) -> Reply {
        Reply::error(404, NOT_FOUND, &msg, self.request_id)
    }

    fn invalid(&self, msg: impl std::fmt::Display) -> Reply {
        Reply::error(
            400,
            INVALID,
            &format!("Invalid request: {msg}"),
            self.request_id,
        )
    }

    /// Checks the project and that the cluster exists under this prefix.
    fn cluster(&self, c: &ClusterPath) -> Result<(), Reply> {
        if c.project_id != self.shared.project_id {
            return Err(self.not_found(format!("Project {} not found", c.project_id)));
        }
        let now = self.shared.now();
        let mut state = self.shared.state();
        match state.cluster(&c.cluster_id, now) {
            None => Err(self.not_found(format!("Cluster {} not found", c.cluster_id))),
            Some(cluster) if cluster.autopilot != (c.prefix == Prefix::Autopilot) => {
                let (kind, prefix) = if cluster.autopilot {
                    ("an Autopilot", "autopilot")
                } else {
                    ("a CCE", "api")
                };
                Err(self.not_found(format!(
                    "Cluster {} not found under /{}/v3: it is {kind} cluster, served under /{prefix}/v3",
                    c.cluster_id,
                    c.prefix.as_str()
                )))
            }
            Some(_) => Ok(()),
        }
    }

    /// The body as a JSON object.
    fn json_body(&self) -> Result<Map<String, Value>, Reply> {
        match serde_json::from_slice::<Value>(self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(self.invalid("the body must be a JSON object")),
            Err(e) => Err(self.invalid(format!("the body is not valid JSON: {e}"))),
        }
    }

    /// Checks `kind` and `apiVersion`, and returns `spec` (required, an object).
    fn typed_body(&self, kind: &str) -> Result<Map<String, Value>, Reply> {
        let body = self.json_body()?;
        match body.get("kind") {
            Some(Value::String(k)) if k == kind => {}
            None => return Err(self.invalid(format!("kind is required and must be {kind}"))),
            Some(other) => return Err(self.invalid(format!("kind must be {kind}, got {other}"))),
        }
        match body.get("apiVersion") {
            Some(Value::String(v)) if v == "v3" => {}
            None => return Err(self.invalid("apiVersion is required and must be v3")),
            Some(other) => return Err(self.invalid(format!("apiVersion must be v3, got {other}"))),
        }
        match body.get("spec") {
            Some(Value::Object(spec)) => Ok(spec.clone()),
            None | Some(Value::Null) => Err(self.invalid("spec is required")),
            Some(_) => Err(self.invalid("spec must be an object")),
        }
    }

    fn create_workflow(&self, c: &ClusterPath) -> Result<Reply, Reply> {
        let spec = self.typed_body("WorkFlowTask")?;
        let target = match spec.get("targetVersion") {
            Some(Value::String(t)) if !t.trim().is_empty() => t.trim().to_string(),
            _ => return Err(self.invalid("spec.targetVersion is required")),
        };
        let now = self.shared.now();
        let created =
            self.shared
                .state()
                .create_workflow(&c.cluster_id, &target, &self.shared.ids, now, now);
        match created {
            Ok(wf) => Ok(Reply::json(201, wf)),
            Err(CreateError::AlreadyRunning { uid }) => Err(Reply::error(
                400,
                CONFLICT,
                &format!(
                    "Invalid request: an upgrade workflow is already running for cluster {} \
                     (workflow {uid}); wait for it to finish",
                    c.cluster_id
                ),
                self.request_id,
            )),
            Err(CreateError::NotNewer { current }) => Err(self.invalid(format!(
                "spec.targetVersion {target} is not newer than the cluster's current version \
                 {current}"
            ))),
        }
    }

    fn list_workflows(&self, c: &ClusterPath) -> Reply {
        let now = self.shared.now();
        let items = self.shared.state().list(&c.cluster_id, now);
        let mut body = json!({"kind": "List", "apiVersion": "v3"});
        if self.shared.config.list_items_as_object {
            if let Some(newest) = items.into_iter().next() {
                body["items"] = newest;
            }
        } else {
            body["items"] = Value::Array(items);
        }
        Reply::json(200, body)
    }

    fn show_task(&self, c: &ClusterPath, task_id: &str) -> Result<Reply, Reply> {
        let now = self.shared.now();
        let task = self.shared.state().task(&c.cluster_id, task_id, now);
        task.map(|t| Reply::json(200, t)).ok_or_else(|| {
            self.not_found(format!(
                "Upgrade task {task_id} not found in cluster {}",
                c.cluster_id
            ))
        })
    }

    fn post_check(&self, c: &ClusterPath) -> Result<Reply, Reply> {
        let spec = self.typed_body("PostCheckTask")?;
        let now = self.shared.now();
        let outcome = self.shared.state().post_check(&c.cluster_id, now);
        let echo = |key: &str, fallback: &str| match spec.get(key) {
            Some(Value::String(v)) if !v.is_empty() => v.clone(),
            _ => fallback.to_string(),
        };
        Ok(Reply::json(
            200,
            json!({
                "kind": "PostCheckTask",
                "apiVersion": "v3",
                "metadata": {"uid": self.shared.ids.uuid()},
                "spec": {
                    "clusterID": echo("clusterID", &c.cluster_id),
                    "clusterVersion": echo("clusterVersion", &outcome.cluster_version),
                    "targetVersion": echo("targetVersion", &outcome.target_version),
                },
                "status": {"phase": if outcome.success { "Success" } else { "Failed" }},
            }),
        ))
    }

    fn upgrade_node_pool(&self, c: &ClusterPath, pool: &str) -> Result<Reply, Reply> {
        let now = self.shared.now();
        let known = self
            .shared
            .state()
            .cluster(&c.cluster_id, now)
            .is_some_and(|cluster| cluster.nodepools.contains(pool));
        if !known {
            return Err(self.not_found(format!(
                "Node pool {pool} not found in cluster {}",
                c.cluster_id
            )));
        }
        let body = self.json_body()?;
        let spec = match body.get("spec") {
            Some(Value::Object(spec)) => spec,
            None | Some(Value::Null) => return Err(self.invalid("spec is required")),
            Some(_) => return Err(self.invalid("spec must be an object")),
        };
        validate_node_pool_spec(spec, pool).map_err(|msg| self.invalid(msg))?;
        if self.shared.config.empty_nodepool_response {
            return Ok(Reply {
                status: 200,
                body: ReplyBody::Empty,
                headers: Vec::new(),
            });
        }
        Ok(Reply::json(200, json!({"jobid": self.shared.ids.uuid()})))
    }

    fn iam_projects(&self, path_and_query: &str, query: &str) -> Reply {
        let name = query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == "name").then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
        });
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

/// Checks an UpgradeNodePool `spec`; the error names the field.
fn validate_node_pool_spec(spec: &Map<String, Value>, pool: &str) -> Result<(), String> {
    match spec.get("nodePoolID") {
        Some(Value::String(id)) if id == pool => {}
        Some(Value::String(id)) if !id.is_empty() => {
            return Err(format!(
                "spec.nodePoolID {id} does not match the node pool {pool} in the path"
            ));
        }
        _ => return Err("spec.nodePoolID is required".into()),
    }
    match spec.get("maxUnavailable") {
        None | Some(Value::Null) => return Err("spec.maxUnavailable is required".into()),
        Some(v) if v.as_i64().is_some_and(|n| (1..=20).contains(&n)) => {}
        Some(v) => {
            return Err(format!(
                "spec.maxUnavailable must be an integer from 1 to 20, got {v}"
            ));
        }
    }
    if let Some(ids) = spec.get("nodeIDs")
        && !ids
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string))
    {
        return Err("spec.nodeIDs must be an array of node ids".into());
    }
    let template = match spec.get("nodeTemplate") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(t)) => t,
        Some(_) => return Err("spec.nodeTemplate must be an object".into()),
    };
    if let Some(life_cycle) = template.get("lifeCycle") {
        let mut total = 0;
        for script in ["preInstall", "postInstall"] {
            match life_cycle.get(script) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) if is_base64(s) => total += s.chars().count(),
                Some(_) => {
                    return Err(format!(
                        "spec.nodeTemplate.lifeCycle.{script} must be base64-encoded \
                         (echo -n \"script\" | base64)"
                    ));
                }
            }
        }
        if total > MAX_SCRIPT_CHARS {
            return Err(format!(
                "spec.nodeTemplate.lifeCycle: preInstall and postInstall together must not \
                 exceed {MAX_SCRIPT_CHARS} characters, got {total}"
            ));
        }
    }
    if let Some(login) = template.get("login") {
        let ssh_key = login
            .get("sshKey")
            .and_then(Value::as_str)
            .is_some_and(|k| !k.is_empty());
        match login.get("userPassword") {
            Some(Value::Object(up)) => {
                let password = up.get("password").and_then(Value::as_str);
                if password.is_none_or(str::is_empty) {
                    return Err("spec.nodeTemplate.login.userPassword.password is required".into());
                }
            }
            _ if ssh_key => {}
            _ => return Err("spec.nodeTemplate.login requires sshKey or userPassword".into()),
        }
    }
    Ok(())
}

/// Whether `s` is standard base64 (RFC 4648 alphabet, padded to a multiple of 4).
pub(crate) fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let padding = b.iter().rev().take_while(|&&c| c == b'=').count();
    padding <= 2
        && b[..b.len() - padding]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(method: &str, path: &str) -> Route {
        match route(method, path) {
            Match::Found(r) => r,
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn routes_match_both_prefixes_and_decode_segments() {
        let c = |prefix, cluster: &str| ClusterPath {
            prefix,
            project_id: "p".into(),
            cluster_id: cluster.into(),
        };
        assert_eq!(
            found(
                "POST",
                "/api/v3/projects/p/clusters/c/operation/upgradeworkflows"
            ),
            Route::CreateWorkflow(c(Prefix::Api, "c"))
        );
        assert_eq!(
            found(
                "GET",
                "/autopilot/v3/projects/p/clusters/c/operation/upgradeworkflows"
            ),
            Route::ListWorkflows(c(Prefix::Autopilot, "c"))
        );
        assert_eq!(
            found(
                "GET",
                "/api/v3/projects/p/clusters/a%20b+c%25%E4%B8%AD/operation/upgrade/tasks/t%2F1"
            ),
            Route::ShowTask(c(Prefix::Api, "a b+c%中"), "t/1".into())
        );
        assert_eq!(
            found(
                "POST",
                "/autopilot/v3/projects/p/clusters/c/operation/postcheck"
            ),
            Route::PostCheck(c(Prefix::Autopilot, "c"))
        );
        assert_eq!(
            found(
                "POST",
                "/api/v3/projects/p/clusters/c/nodepools/np/operation/upgrade"
            ),
            Route::UpgradeNodePool(c(Prefix::Api, "c"), "np".into())
        );
        assert_eq!(found("GET", "/v3/projects"), Route::IamProjects);
    }

    #[test]
    fn unknown_paths_and_wrong_methods() {
        for path in [
            "/",
            "/api/v3/projects/p/clusters/c",
            "/api/v3/projects/p/clusters/c/operation/upgradeworkflows/",
            "/autopilot/v3/projects/p/clusters/c/nodepools/np/operation/upgrade",
            "/api/v2/projects/p/clusters/c/operation/postcheck",
        ] {
            assert_eq!(route("GET", path), Match::NotFound, "{path}");
        }
        assert_eq!(
            route(
                "DELETE",
                "/api/v3/projects/p/clusters/c/operation/upgradeworkflows"
            ),
            Match::WrongMethod("GET, POST")
        );
        assert_eq!(
            route("GET", "/api/v3/projects/p/clusters/c/operation/postcheck"),
            Match::WrongMethod("POST")
        );
    }

    #[test]
    fn base64_is_checked_by_hand() {
        for ok in ["", "ZWNobyAx", "ZWNobyAxMg==", "ZWNobyAxMjM=", "a+/="] {
            assert!(is_base64(ok), "{ok}");
        }
        for bad in [
            "ZWNobyAx=",
            "ZWNoby",
            "echo 1",
            "ZW=N",
            "Z===",
            "ZWNo\nbyAx",
            "ZWNo-_Ax",
        ] {
            assert!(!is_base64(bad), "{bad}");
        }
    }

    #[test]
    fn node_pool_specs_are_validated_field_by_field() {
        let check = |spec: Value| {
            validate_node_pool_spec(spec.as_object().unwrap(), "np")
                .err()
                .unwrap_or_default()
        };
        assert_eq!(check(json!({"nodePoolID": "np", "maxUnavailable": 1})), "");
        assert!(check(json!({"maxUnavailable": 1})).contains("spec.nodePoolID is required"));
        assert!(
            check(json!({"nodePoolID": "", "maxUnavailable": 1}))
                .contains("spec.nodePoolID is required")
        );
        assert!(
            check(json!({"nodePoolID": "other", "maxUnavailable": 1})).contains("does not match")
        );
        assert!(check(json!({"nodePoolID": "np"})).contains("spec.maxUnavailable is required"));
        for bad in [json!(0), json!(21), json!(1.5), json!("1")] {
            assert!(
                check(json!({"nodePoolID": "np", "maxUnavailable": bad})).contains("from 1 to 20"),
                "{bad}"
            );
        }
        let with_template =
            |t: Value| check(json!({"nodePoolID": "np", "maxUnavailable": 20, "nodeTemplate": t}));
        assert_eq!(
            with_template(
                json!({"lifeCycle": {"preInstall": "ZWNobyAx", "postInstall": "ZWNobyAx"},
                                 "login": {"userPassword": {"username": "root", "password": "x"}}})
            ),
            ""
        );
        assert_eq!(with_template(json!({"login": {"sshKey": "kp"}})), "");
        assert!(
            with_template(json!({"lifeCycle": {"preInstall": "echo 1"}}))
                .contains("preInstall must be base64")
        );
        let long = "QUJD".repeat(1_281); // 5124 characters
        assert_eq!(
            with_template(
                json!({"lifeCycle": {"preInstall": "QUJD".repeat(1_280), "postInstall": "QUJD".repeat(1_280)}})
            ),
            ""
        );
        assert!(
            with_template(
                json!({"lifeCycle": {"preInstall": long, "postInstall": "QUJD".repeat(1_280)}})
            )
            .contains("10240")
        );
        assert!(with_template(json!({"login": {}})).contains("requires sshKey or userPassword"));
        assert!(
            with_template(json!({"login": {"userPassword": {"username": "root"}}}))
                .contains("password is required")
        );
    }
}
