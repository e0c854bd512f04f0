//! Persistence under `EKC_STATE_DIR` (control.md CTL-PERSIST-1, capability `persist`): the
//! snapshot is written to a temporary file, synced and renamed, so a crash leaves either the old
//! or the new state, never a torn one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::core::Snapshot;

const FILE: &str = "state.json";

pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Creates the directory if needed and checks it is writable.
    pub fn open(dir: &Path) -> Result<Self, String> {
        fs::create_dir_all(dir).map_err(|e| format!("EKC_STATE_DIR {}: cannot create: {e}", dir.display()))?;
        let probe = dir.join(".write-test");
        fs::write(&probe, b"").map_err(|e| format!("EKC_STATE_DIR {}: not writable: {e}", dir.display()))?;
        let _ = fs::remove_file(probe);
        Ok(StateDir { dir: dir.to_path_buf() })
    }

    /// The saved snapshot, if any. A snapshot of another module id or an unreadable one is an error:
    /// silently starting from zero could reuse sequence numbers (KOR-VV-2).
    pub fn load(&self, module_id: u8) -> Result<Option<Snapshot>, String> {
        let path = self.dir.join(FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let snap: Snapshot = serde_json::from_slice(&bytes).map_err(|e| format!("{}: corrupt state: {e}", path.display()))?;
        if snap.module_id != module_id {
            return Err(format!("{}: saved for module {}, not {module_id}", path.display(), snap.module_id));
        }
        Ok(Some(snap))
    }

    pub fn save(&self, snap: &Snapshot) -> std::io::Result<()> {
        let tmp = self.dir.join(format!("{FILE}.tmp"));
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(snap).expect("snapshot serializes"))?;
        f.sync_all()?;
        fs::rename(&tmp, self.dir.join(FILE))?;
        fs::File::open(&self.dir)?.sync_all()
    }
}
