//! Fly's documented rate limits (notes §6: "per action (Create Machine, Start Machine, ...),
//! scoped per identifier (machine ID or app ID): 1 req/s, burst 3. Get Machine: 5 req/s, burst
//! 10. App deletions: 100/min"), as one limiter bucket per (action, identifier).

use crate::net::limiter::Rate;

/// One Machines API action: the unit Fly rate-limits (together with an identifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ListApps,
    CreateApp,
    GetApp,
    DeleteApp,
    ListMachines,
    CreateMachine,
    GetMachine,
    UpdateMachine,
    DeleteMachine,
    WaitMachine,
    AcquireLease,
    GetLease,
    ReleaseLease,
    ListSecrets,
    SetSecrets,
    ListIps,
    AssignIp,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::ListApps => "list_apps",
            Action::CreateApp => "create_app",
            Action::GetApp => "get_app",
            Action::DeleteApp => "delete_app",
            Action::ListMachines => "list_machines",
            Action::CreateMachine => "create_machine",
            Action::GetMachine => "get_machine",
            Action::UpdateMachine => "update_machine",
            Action::DeleteMachine => "delete_machine",
            Action::WaitMachine => "wait_machine",
            Action::AcquireLease => "acquire_lease",
            Action::GetLease => "get_lease",
            Action::ReleaseLease => "release_lease",
            Action::ListSecrets => "list_secrets",
            Action::SetSecrets => "set_secrets",
            Action::ListIps => "list_ips",
            Action::AssignIp => "assign_ip",
        }
    }

    /// A read: repeating it is harmless.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Action::ListApps
                | Action::GetApp
                | Action::ListMachines
                | Action::GetMachine
                | Action::WaitMachine
                | Action::GetLease
                | Action::ListSecrets
                | Action::ListIps
        )
    }

    /// The documented rate of this action, per identifier.
    pub fn rate(self) -> Rate {
        match self {
            Action::GetMachine => Rate::per_second(5.0, 10.0),
            // 100/min; the docs give no burst: keep a modest one.
            Action::DeleteApp => Rate::per_minute(100.0, 10.0),
            _ => Rate::per_second(1.0, 3.0),
        }
    }

    /// The limiter bucket of this action for `app`. Fly scopes limits "per identifier (machine
    /// ID or app ID)": scalewize runs one machine per app, so keying machine actions by app is
    /// the same pace under either reading. App deletions share one bucket per org: the limit
    /// is stated for deletions as such, not per app; listing apps is an org-wide call.
    pub fn bucket(self, app: &str, org: &str) -> String {
        match self {
            Action::DeleteApp | Action::ListApps => format!("{}:org:{org}", self.name()),
            _ => format!("{}:{app}", self.name()),
        }
    }

    /// Requests in one lane go one at a time, and a 429 holds the whole lane back: app creation
    /// names an app that does not exist yet, so an implementation may well scope its limit to
    /// the org; one create at a time (each is quick) never reaches such a bucket early.
    pub fn lane(self, app: &str, org: &str) -> String {
        match self {
            Action::CreateApp => format!("{}:org:{org}", self.name()),
            _ => self.bucket(app, org),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn documented_rates() {
        assert_eq!(Action::CreateMachine.rate(), Rate::per_second(1.0, 3.0));
        assert_eq!(Action::GetMachine.rate(), Rate::per_second(5.0, 10.0));
        let d = Action::DeleteApp.rate();
        assert_eq!(d.per, Duration::from_secs(60));
        assert_eq!(d.rate, 100.0);
        assert_eq!(
            Action::DeleteApp.bucket("sw-a-b", "acme"),
            "delete_app:org:acme"
        );
        assert_eq!(
            Action::UpdateMachine.bucket("sw-a-b", "acme"),
            "update_machine:sw-a-b"
        );
        assert_eq!(
            Action::CreateApp.bucket("sw-a-b", "acme"),
            "create_app:sw-a-b"
        );
        assert_eq!(
            Action::CreateApp.lane("sw-a-b", "acme"),
            "create_app:org:acme"
        );
    }
}
