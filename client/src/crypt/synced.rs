//! What `sync.db` records, as an encrypted listing reads it: each synced version by path key
//! (a brief state entry is named from it) and each synced path by case key (a listed note
//! supersedes its other letter cases), and each synced name by case key (what the server
//! is known to call a note). Built from one read of every row and kept while
//! `sync.db` is unchanged ([`Store::generation`]): a listing's pages, and a watching
//! device's idle syncs, share one read. Reading and keying 10,000 rows takes about 15 ms,
//! which each page of a listing paid twice before.

use std::collections::HashMap;
use std::sync::Arc;

use steel_protocol::VaultPath;
use steel_protocol::wire::Key32;

use super::{Crypt, lock};
use crate::error::Result;
use crate::store::Store;

/// What `sync.db` records, by (path key, version): path and engine hash (hex) of each note
/// recorded at that version.
pub type Recorded = HashMap<(Key32, i64), Vec<(VaultPath, String)>>;

/// `sync.db`'s rows, keyed as an encrypted listing looks them up.
#[derive(Debug, Default)]
pub struct Synced {
    /// The versions this device and the server agree on: a brief entry is resolved here.
    pub recorded: Recorded,
    /// The paths `sync.db` knows the server had, by case key: a listed note under another
    /// letter case of one of them took its place (one path key, one row on the server).
    pub by_case_key: HashMap<String, Vec<String>>,
    /// The one synced name of each case key that has exactly one: what [`Crypt::server_twin`]
    /// starts from.
    pub names: HashMap<String, VaultPath>,
}

/// The memo: the [`Store::generation`] it was read at, and what was read.
pub(super) type Memo = Option<((i64, u64), Arc<Synced>)>;

impl Crypt {
    /// `sync.db`'s rows as [`Synced`], read again only when something was committed since.
    pub fn synced(&self) -> Result<Arc<Synced>> {
        let Some(store) = &self.store else {
            return Ok(Arc::default());
        };
        // Taken before the rows: a commit in between makes the next call read again.
        let generation = store.generation()?;
        let mut memo = lock(&self.synced);
        if let Some((at, synced)) = memo.as_ref()
            && *at == generation
        {
            return Ok(Arc::clone(synced));
        }
        let synced = Arc::new(self.read_synced(store)?);
        *memo = Some((generation, Arc::clone(&synced)));
        Ok(synced)
    }

    fn read_synced(&self, store: &Store) -> Result<Synced> {
        let rows = store.rows()?;
        // Sized for every row at once: growing three maps of 10,000 entries step by step
        // (rehashing each time) was a good part of the first listing's cost.
        let mut out = Synced {
            recorded: HashMap::with_capacity(rows.len()),
            by_case_key: HashMap::with_capacity(rows.len()),
            names: HashMap::with_capacity(rows.len()),
        };
        let mut names: HashMap<String, Vec<VaultPath>> = HashMap::with_capacity(rows.len());
        for (path, row) in rows {
            let Ok(p) = VaultPath::parse(&path) else {
                continue;
            };
            let case_key = p.case_key();
            if let Some(base) = row.base() {
                let key = Key32(self.path_key(&p).0);
                (out.recorded.entry((key, base.number)).or_default()).push((p.clone(), base.hash));
                names.entry(case_key.clone()).or_default().push(p);
            }
            if row.server_version > 0 {
                out.by_case_key.entry(case_key).or_default().push(path);
            }
        }
        let one = names.into_iter().filter(|(_, v)| v.len() == 1);
        out.names
            .extend(one.filter_map(|(k, mut v)| Some((k, v.pop()?))));
        Ok(out)
    }
}
