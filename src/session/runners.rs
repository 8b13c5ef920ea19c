//! One runner per plan target, made with the capture's settings.
use crate::capture::TargetRunner;
use crate::model::CapturePlan;
use crate::secret::SecretValue;
use std::collections::BTreeMap;

/// One runner per plan target, made with this capture's settings: database targets get their
/// resolved password, SSH targets the SSH context (inventory, secrets, `--accept-new`).
pub fn runners_for(
    plan: &CapturePlan,
    secrets: &BTreeMap<String, SecretValue>,
    ssh: &crate::ssh::SshContext,
) -> Vec<Result<TargetRunner, String>> {
    plan.targets
        .iter()
        .map(
            |target| match (target.kind().is_database(), &target.password_secret) {
                (true, Some(name)) => {
                    TargetRunner::for_database_in(target, secrets.get(name).cloned(), ssh)
                }
                _ => TargetRunner::for_target_in(target, ssh),
            },
        )
        .collect()
}
