//! The constraints the API documents state, checked before anything is sent.
//!
//! Each failure is an [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the
//! field (as the API spells it) and what to do.

use crate::error::Error;
use crate::types::{
    ApiVersionV3, CreateUpgradeWorkFlowRequestBody, NodeTemplate, PostCheckClusterRequestBody,
    PostCheckTaskKind, UpgradeNodePool, WorkFlowTaskKind,
};

/// The most characters `preInstall` and `postInstall` may have together.
pub const MAX_SCRIPTS_LEN: usize = 10240;

pub(crate) fn id(field: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid_input(
            field,
            "it is empty; pass the id from the console or the API",
        ));
    }
    Ok(())
}

fn fixed<T: PartialEq + std::fmt::Display>(
    field: &str,
    value: &T,
    expected: &T,
) -> Result<(), Error> {
    if value != expected {
        return Err(Error::invalid_input(
            field,
            format!(
                "it is `{value}` but the API only accepts `{expected}` (leave it at its default)"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn create_upgrade_work_flow(
    body: &CreateUpgradeWorkFlowRequestBody,
) -> Result<(), Error> {
    fixed("kind", &body.kind, &WorkFlowTaskKind::WorkFlowTask)?;
    fixed("apiVersion", &body.api_version, &ApiVersionV3::V3)?;
    if body.spec.target_version.trim().is_empty() {
        return Err(Error::invalid_input(
            "spec.targetVersion",
            "it is empty; set the version to upgrade to, e.g. `v1.29`",
        ));
    }
    Ok(())
}

pub(crate) fn create_post_check(body: &PostCheckClusterRequestBody) -> Result<(), Error> {
    fixed("kind", &body.kind, &PostCheckTaskKind::PostCheckTask)?;
    fixed("apiVersion", &body.api_version, &ApiVersionV3::V3)
}

pub(crate) fn upgrade_node_pool(body: &UpgradeNodePool) -> Result<(), Error> {
    let spec = &body.spec;
    id("spec.nodePoolID", &spec.node_pool_id)?;
    if !(1..=20).contains(&spec.max_unavailable) {
        return Err(Error::invalid_input(
            "spec.maxUnavailable",
            format!(
                "it is {}; it must be between 1 and 20 nodes per batch",
                spec.max_unavailable
            ),
        ));
    }
    if let Some(i) = spec.node_ids.iter().position(|n| n.trim().is_empty()) {
        return Err(Error::invalid_input(
            format!("spec.nodeIDs[{i}]"),
            "it is empty; remove it or give a node id",
        ));
    }
    if let Some(template) = &spec.node_template {
        node_template(template)?;
    }
    Ok(())
}

fn node_template(template: &NodeTemplate) -> Result<(), Error> {
    let life_cycle = &template.life_cycle;
    let mut total = 0;
    for (field, script) in [
        (
            "spec.nodeTemplate.lifeCycle.preInstall",
            &life_cycle.pre_install,
        ),
        (
            "spec.nodeTemplate.lifeCycle.postInstall",
            &life_cycle.post_install,
        ),
    ] {
        let Some(script) = script else { continue };
        if let Err(why) = check_base64(script) {
            return Err(Error::invalid_input(
                field,
                format!(
                    "it is not base64 ({why}); encode the script with `echo -n \"script\" | base64`"
                ),
            ));
        }
        total += script.chars().count();
    }
    if total > MAX_SCRIPTS_LEN {
        return Err(Error::invalid_input(
            "spec.nodeTemplate.lifeCycle",
            format!(
                "preInstall and postInstall have {total} characters together; the API allows at most {MAX_SCRIPTS_LEN} after base64 encoding"
            ),
        ));
    }
    let login = &template.login;
    let has_key = login
        .ssh_key
        .as_deref()
        .is_some_and(|k| !k.trim().is_empty());
    match &login.user_password {
        Some(up) if up.password.is_empty() => {
            return Err(Error::invalid_input(
                "spec.nodeTemplate.login.userPassword.password",
                "it is empty; set the login password",
            ));
        }
        Some(up) if up.username.trim().is_empty() => {
            return Err(Error::invalid_input(
                "spec.nodeTemplate.login.userPassword.username",
                "it is empty; leave it at `root` or name the user",
            ));
        }
        Some(_) => {}
        None if has_key => {}
        None => {
            return Err(Error::invalid_input(
                "spec.nodeTemplate.login",
                "it needs `sshKey` (a key pair name) or `userPassword`",
            ));
        }
    }
    Ok(())
}

/// Standard base64 with padding, as `base64` prints it (line breaks are not allowed).
pub(crate) fn check_base64(s: &str) -> Result<(), String> {
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(format!("its length {} is not a multiple of 4", bytes.len()));
    }
    let data_end = bytes.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
    let padding = bytes.len() - data_end;
    if padding > 2 {
        return Err("it has more than two `=` at the end".into());
    }
    if let Some(pos) = bytes[..data_end]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/'))
    {
        return Err(format!(
            "character {:?} at position {pos} is not in the base64 alphabet",
            bytes[pos] as char
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn field_of(r: Result<(), Error>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        e.field().unwrap().to_owned()
    }

    #[test]
    fn max_unavailable_bounds() {
        for ok in [1, 20] {
            upgrade_node_pool(&UpgradeNodePool::new("pool", ok)).unwrap();
        }
        for bad in [0, 21, -1] {
            assert_eq!(
                field_of(upgrade_node_pool(&UpgradeNodePool::new("pool", bad))),
                "spec.maxUnavailable"
            );
        }
        assert_eq!(
            field_of(upgrade_node_pool(&UpgradeNodePool::new(" ", 1))),
            "spec.nodePoolID"
        );
    }

    #[test]
    fn scripts_must_be_base64_and_fit_together() {
        let t = NodeTemplate::with_ssh_key("key")
            .scripts(Some("ZWNobyAx".into()), Some("ZWNobyAx".into()));
        upgrade_node_pool(&UpgradeNodePool::new("p", 1).node_template(t)).unwrap();
        let t = NodeTemplate::with_ssh_key("key").scripts(Some("echo 1".into()), None);
        assert_eq!(
            field_of(upgrade_node_pool(
                &UpgradeNodePool::new("p", 1).node_template(t)
            )),
            "spec.nodeTemplate.lifeCycle.preInstall"
        );
        let half = "A".repeat(5124);
        let t = NodeTemplate::with_ssh_key("key").scripts(Some(half.clone()), Some(half));
        assert_eq!(
            field_of(upgrade_node_pool(
                &UpgradeNodePool::new("p", 1).node_template(t)
            )),
            "spec.nodeTemplate.lifeCycle"
        );
        for bad in ["abc", "ab=c", "a===", "ab\ncd=="] {
            assert!(check_base64(bad).is_err(), "{bad}");
        }
        for good in ["", "ZWNobyAx", "YQ==", "YWI=", "+/+/"] {
            check_base64(good).unwrap();
        }
    }

    #[test]
    fn login_needs_a_key_or_a_password() {
        let mut t = NodeTemplate::with_ssh_key("");
        assert_eq!(
            field_of(upgrade_node_pool(
                &UpgradeNodePool::new("p", 1).node_template(t.clone())
            )),
            "spec.nodeTemplate.login"
        );
        t = NodeTemplate::with_password("root", "");
        assert_eq!(
            field_of(upgrade_node_pool(
                &UpgradeNodePool::new("p", 1).node_template(t)
            )),
            "spec.nodeTemplate.login.userPassword.password"
        );
        upgrade_node_pool(
            &UpgradeNodePool::new("p", 1).node_template(NodeTemplate::with_password("root", "pw")),
        )
        .unwrap();
    }

    #[test]
    fn workflow_needs_a_target_and_fixed_values() {
        create_upgrade_work_flow(&CreateUpgradeWorkFlowRequestBody::new("v1.29")).unwrap();
        assert_eq!(
            field_of(create_upgrade_work_flow(
                &CreateUpgradeWorkFlowRequestBody::new("")
            )),
            "spec.targetVersion"
        );
        let mut body = CreateUpgradeWorkFlowRequestBody::new("v1.29");
        body.kind = WorkFlowTaskKind::from("Other");
        let e = create_upgrade_work_flow(&body).unwrap_err();
        assert_eq!(e.field(), Some("kind"));
        assert!(e.to_string().contains("WorkFlowTask"), "{e}");
        assert_eq!(field_of(id("cluster_id", "")), "cluster_id");
    }
}
