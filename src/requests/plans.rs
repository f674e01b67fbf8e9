//! Conveniences for the types of `openapi/plans.yaml`. `DelayUpgradePlanRequestBody::new`
//! (`notBefore`) is generated from the spec (`x-new`).

use crate::generated::types::{UpgradePlan, UpgradePlanItems, UpgradePlanList};

impl UpgradePlanList {
    /// The plans, whichever form `items` was sent in (one object, an array, or missing).
    pub fn plans(&self) -> &[UpgradePlan] {
        match &self.items {
            None => &[],
            Some(UpgradePlanItems::Array(plans)) => plans,
            Some(UpgradePlanItems::UpgradePlan(plan)) => std::slice::from_ref(plan),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types::DelayUpgradePlanRequestBody;

    #[test]
    fn delay_request_carries_only_not_before() {
        let body = DelayUpgradePlanRequestBody::new("2025-06-01T02:00:00Z");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"notBefore": "2025-06-01T02:00:00Z"})
        );
    }

    fn plan(uid: &str) -> serde_json::Value {
        json!({
            "kind": "UpgradePlan",
            "apiVersion": "v3",
            "metadata": {"uid": uid},
            "spec": {
                "clusterID": "c", "clusterVersion": "v1.28.3-r0", "targetVersion": "v1.28.5-r0",
                "notBefore": "2025-06-01T02:00:00Z", "notAfter": "2025-06-01T06:00:00Z",
                "notBeforeDeadline": "2025-06-08T02:00:00Z"
            },
            "status": {"phase": "Pending"}
        })
    }

    #[test]
    fn plans_read_from_an_object_an_array_or_nothing() {
        let one: UpgradePlanList =
            serde_json::from_value(json!({"kind": "List", "items": plan("p1")})).unwrap();
        let uids: Vec<_> = one.plans().iter().map(UpgradePlan::uid).collect();
        assert_eq!(uids, [Some("p1")]);

        let two: UpgradePlanList =
            serde_json::from_value(json!({"items": [plan("p1"), plan("p2")]})).unwrap();
        let uids: Vec<_> = two.plans().iter().map(UpgradePlan::uid).collect();
        assert_eq!(uids, [Some("p1"), Some("p2")]);

        let none: UpgradePlanList = serde_json::from_value(json!({"kind": "List"})).unwrap();
        assert!(none.plans().is_empty());
    }
}
