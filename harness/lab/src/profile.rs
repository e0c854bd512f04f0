//! What a node image may ask the lab for beyond the hardened default container (control.md
//! CTL-IMG-2), read from the image's labels, and the whitelist the lab grants from. The decision
//! is made from labels, not from an implementation's name, so a vendor's emulated-firmware image in
//! the same style gets exactly what the reference `mcu` image gets, and an image asking for
//! anything else is refused before it starts rather than run with less (or more) than it declared.
use std::collections::HashMap;

/// Comma list of privileges the image needs: only `net_admin` and `tun` exist (CTL-IMG-2).
pub const LABEL_REQUIRES: &str = "io.ekconform.requires";
/// Comma list of emulators the image can run (`EKC_EMULATOR` picks one; the first is its default).
/// Its presence marks an image that runs emulated hardware.
pub const LABEL_EMULATORS: &str = "io.ekconform.emulators";
/// Memory the node needs, MiB; honoured up to [`MAX_MEMORY_MIB`].
pub const LABEL_MEMORY_MIB: &str = "io.ekconform.memory-mib";

/// The default node limit: what a native node runs in.
pub const DEFAULT_MEMORY_MIB: i64 = 128;
/// The most any image may ask for: four times the native limit, so that a 7-node cluster of
/// emulated nodes still fits several times over in the 24 GiB of the project's machines while a
/// label cannot make one container take the host.
pub const MAX_MEMORY_MIB: i64 = 512;

/// The container settings a node image gets, beyond those every node gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeProfile {
    /// Capabilities added after `cap_drop: ALL`.
    pub cap_add: Vec<String>,
    /// Host devices passed through.
    pub devices: Vec<String>,
    /// Memory limit (and memory+swap limit), bytes.
    pub memory: i64,
    /// Emulators the image can run, default first; empty for a native node.
    pub emulators: Vec<String>,
}

impl Default for NodeProfile {
    fn default() -> Self {
        NodeProfile { cap_add: Vec::new(), devices: Vec::new(), memory: DEFAULT_MEMORY_MIB << 20, emulators: Vec::new() }
    }
}

fn list(v: Option<&String>) -> Vec<String> {
    v.map(|s| s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect()).unwrap_or_default()
}

impl NodeProfile {
    /// The profile an image's labels ask for, or why the lab will not run it.
    pub fn from_labels(labels: &HashMap<String, String>) -> Result<NodeProfile, String> {
        let mut p = NodeProfile { emulators: list(labels.get(LABEL_EMULATORS)), ..Default::default() };
        if let Some(bad) = p.emulators.iter().find(|e| !e.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')) {
            return Err(format!("{LABEL_EMULATORS}: `{bad}` is not an emulator name ([a-z0-9-]+)"));
        }
        for need in list(labels.get(LABEL_REQUIRES)) {
            // CTL-IMG-2 allows these two only to images that run emulated hardware: the emulator's
            // NIC is a TAP bridged to the container's interface, nothing else needs them.
            if p.emulators.is_empty() {
                return Err(format!("{LABEL_REQUIRES}={need}: only an image that runs emulated hardware (label {LABEL_EMULATORS}) may require privileges (CTL-IMG-2)"));
            }
            match need.as_str() {
                "net_admin" => p.cap_add.push("NET_ADMIN".into()),
                "tun" => p.devices.push("/dev/net/tun".into()),
                other => return Err(format!("{LABEL_REQUIRES}: `{other}` is not granted to node images (CTL-IMG-2 allows net_admin and tun)")),
            }
        }
        p.cap_add.dedup();
        p.devices.dedup();
        if let Some(m) = labels.get(LABEL_MEMORY_MIB) {
            let mib: i64 = m.trim().parse().map_err(|_| format!("{LABEL_MEMORY_MIB}={m}: not a whole number of MiB"))?;
            if !(16..=MAX_MEMORY_MIB).contains(&mib) {
                return Err(format!("{LABEL_MEMORY_MIB}={mib}: the lab grants 16 to {MAX_MEMORY_MIB} MiB"));
            }
            p.memory = mib << 20;
        }
        Ok(p)
    }

    /// The `EKC_EMULATOR` value for a run that asked for `wanted` (None: the image's default), or why
    /// this image cannot honour it. Native images ignore the choice: there is nothing to select.
    pub fn emulator_env(&self, wanted: Option<&str>) -> Result<Option<String>, String> {
        match (wanted, self.emulators.first()) {
            (_, None) => Ok(None),
            (None, Some(default)) => Ok(Some(default.clone())),
            (Some(w), Some(_)) if self.emulators.iter().any(|e| e == w) => Ok(Some(w.to_string())),
            (Some(w), Some(_)) => Err(format!("emulator `{w}` is not one this image runs ({LABEL_EMULATORS}={})", self.emulators.join(","))),
        }
    }
}

/// The emulator a node reported in its first log lines: the entrypoint of an emulated image logs
/// one CTL-LOG-1 record `{"msg":"emulator","emulator":...,"version":...,"machine":...}` before the
/// firmware starts, because only the running image knows what actually ran.
pub fn emulator_from_log(log: &str) -> Option<String> {
    log.lines().take(20).find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l.trim()).ok()?;
        if v.get("msg")?.as_str()? != "emulator" {
            return None;
        }
        let part = |k: &str| v.get(k).and_then(|x| x.as_str()).filter(|s| !s.is_empty()).map(String::from);
        let mut s = part("emulator")?;
        if let Some(ver) = part("version") {
            s = format!("{s} {ver}");
        }
        if let Some(m) = part("machine") {
            s = format!("{s} -M {m}");
        }
        Some(s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_native_image_gets_nothing_extra() {
        let p = NodeProfile::from_labels(&labels(&[("io.ekconform.managed", "true")])).unwrap();
        assert_eq!(p, NodeProfile::default());
        assert_eq!(p.memory, 128 << 20);
        assert_eq!(p.emulator_env(Some("qemu")).unwrap(), None);
    }

    #[test]
    fn an_emulated_image_gets_exactly_what_it_declares() {
        let p = NodeProfile::from_labels(&labels(&[(LABEL_REQUIRES, "net_admin, tun"), (LABEL_EMULATORS, "qemu,renode"), (LABEL_MEMORY_MIB, "192")])).unwrap();
        assert_eq!(p.cap_add, ["NET_ADMIN"]);
        assert_eq!(p.devices, ["/dev/net/tun"]);
        assert_eq!(p.memory, 192 << 20);
        assert_eq!(p.emulator_env(None).unwrap().as_deref(), Some("qemu"));
        assert_eq!(p.emulator_env(Some("renode")).unwrap().as_deref(), Some("renode"));
        assert!(p.emulator_env(Some("unicorn")).unwrap_err().contains("qemu,renode"));
        let only_tun = NodeProfile::from_labels(&labels(&[(LABEL_REQUIRES, "tun"), (LABEL_EMULATORS, "qemu")])).unwrap();
        assert!(only_tun.cap_add.is_empty(), "tun alone must not bring NET_ADMIN");
    }

    #[test]
    fn anything_outside_the_whitelist_is_refused() {
        for (kv, want) in [
            (vec![(LABEL_REQUIRES, "net_admin,sys_admin"), (LABEL_EMULATORS, "qemu")], "sys_admin"),
            (vec![(LABEL_REQUIRES, "privileged"), (LABEL_EMULATORS, "qemu")], "privileged"),
            (vec![(LABEL_REQUIRES, "net_admin")], "emulated hardware"),
            (vec![(LABEL_MEMORY_MIB, "4096")], "16 to 512"),
            (vec![(LABEL_MEMORY_MIB, "lots")], "whole number"),
            (vec![(LABEL_EMULATORS, "qemu;rm -rf")], "not an emulator name"),
        ] {
            let err = NodeProfile::from_labels(&labels(&kv)).unwrap_err();
            assert!(err.contains(want), "{kv:?}: {err}");
        }
        // A privilege outside the whitelist is refused under its clause.
        let err = NodeProfile::from_labels(&labels(&[(LABEL_REQUIRES, "sys_admin"), (LABEL_EMULATORS, "qemu")])).unwrap_err();
        assert!(err.contains("CTL-IMG-2"), "{err}");
    }

    #[test]
    fn the_emulator_comes_from_the_log_record() {
        let log = "{\"ts\":\"2026-11-21T05:00:00.000Z\",\"level\":\"info\",\"node\":\"mcu-1\",\"msg\":\"emulator\",\"emulator\":\"qemu-system-arm\",\"version\":\"7.2.15\",\"machine\":\"mps2-an386\",\"nic\":\"lan9118\"}\n{\"ts\":1,\"level\":\"info\",\"node\":\"mcu-1\",\"msg\":\"mcu firmware up\"}\n";
        assert_eq!(emulator_from_log(log).as_deref(), Some("qemu-system-arm 7.2.15 -M mps2-an386"));
        assert_eq!(emulator_from_log("{\"msg\":\"node started\"}\nnot json\n"), None);
    }
}
