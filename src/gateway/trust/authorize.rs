//! Rules 3-6: one push of an identified provider, and a device
//! registering for pushes. Hash lookups only.

use std::collections::HashSet;

use super::udid::{Device, UdidKey};
use super::{env_index, Fx, Identity, ProfileEntry, TrustStore};
use crate::gateway::{Decision, Reason};
use crate::x509ext::Environment;

impl ProfileEntry {
    /// Rule 6: listed (`devices` holds no disabled device: they are taken
    /// out at load), or ProvisionsAllDevices for production and not one of
    /// `disabled`, the disabled devices of the App ID's team.
    #[inline]
    fn provisions(&self, device: &Device<'_>, disabled: &HashSet<UdidKey, Fx>) -> bool {
        if self.all_devices && self.env == Environment::Production {
            // A team without disabled devices (the shared empty set) costs
            // neither a parse nor a hash.
            disabled.is_empty() || device.key().is_none_or(|k| !disabled.contains(&k))
        } else {
            !self.devices.is_empty() && device.key().is_some_and(|k| self.devices.contains(&k))
        }
    }
}

impl TrustStore {
    /// Rules 3-6 for one push of an identified provider at `now` (unix
    /// seconds): hash lookups only. An identity from another snapshot is
    /// denied (the [`Gateway`](crate::gateway::Gateway) identifies again
    /// after a reload).
    #[inline]
    pub(crate) fn authorize_at(
        &self,
        id: &Identity,
        topic: &str,
        env: Environment,
        device: Option<&str>,
        now: i64,
    ) -> Decision {
        let d = &id.data;
        if now >= self.expires_at {
            return Decision::Deny(Reason::ServiceUnavailable);
        }
        if id.generation != self.generation || now >= d.valid_until {
            return Decision::Deny(Reason::BadCertificate);
        }
        let Some(&(_, app)) = d.topics.iter().find(|(t, _)| t == topic) else {
            return Decision::Deny(Reason::TopicDisallowed);
        };
        let e = env_index(env);
        if !d.envs[e] {
            return Decision::Deny(Reason::BadCertificateEnvironment);
        }
        if app == u32::MAX {
            return Decision::Deny(Reason::Forbidden);
        }
        let device = device.map(Device::new);
        self.provisioned(app, env, &d.grants[e], device.as_ref(), now)
    }

    /// Rules 5 and 6 over `candidates` (profile indices): an unexpired
    /// profile of App ID `app` for `env` among them (else `Forbidden`) that
    /// provisions `device`, if any (else `DeviceNotProvisioned`). The
    /// candidates are the profiles listing a certificate (rule 5 with its
    /// fingerprint part), or every profile of the App ID (registrations,
    /// tokens).
    #[inline]
    pub(super) fn provisioned(
        &self,
        app: u32,
        env: Environment,
        candidates: &[u32],
        device: Option<&Device<'_>>,
        now: i64,
    ) -> Decision {
        let mut any = false;
        for &pi in candidates {
            let p = &self.profiles[pi as usize];
            if p.app != app || p.env != env || p.expires_at <= now {
                continue;
            }
            any = true;
            match device {
                None => return Decision::Allow,
                Some(u) if p.provisions(u, &self.app_disabled[app as usize]) => {
                    return Decision::Allow
                }
                Some(_) => {}
            }
        }
        Decision::Deny(if any {
            Reason::DeviceNotProvisioned
        } else {
            Reason::Forbidden
        })
    }

    /// A device registering for pushes at `now` (unix seconds): only an
    /// explicit App ID with push, through an unexpired profile with that
    /// `aps-environment` that provisions the device.
    pub(crate) fn authorize_registration_at(
        &self,
        bundle_id: &str,
        env: Environment,
        udid: &str,
        now: i64,
    ) -> Decision {
        if now >= self.expires_at {
            return Decision::Deny(Reason::ServiceUnavailable);
        }
        if crate::profile::is_wildcard(bundle_id) {
            return Decision::Deny(Reason::Forbidden);
        }
        let Some(&app) = self.apps.get(&bundle_id.to_ascii_lowercase()) else {
            return Decision::Deny(Reason::Forbidden);
        };

        let device = Device::new(udid);
        self.provisioned(app, env, &self.by_app[app as usize], Some(&device), now)
    }
}
