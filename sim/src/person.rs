//! The people at the devices: what they do to their vault folders, and the book the oracle
//! keeps of it. Every line a person writes is a fresh token (`t<n>`), so a note's content
//! says which edits it holds, and no two edits ever write the same bytes: content that comes
//! back is a revert, never a coincidence. Deliberately removing a note's lines (deleting
//! it, rewriting it, wiping a folder, restoring an older version over it) is booked, so a
//! token missing at the end is either booked as removed or lost.

use std::collections::HashSet;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::disk::MemDisk;

/// The vault folders the client syncs by default.
pub const FOLDERS: [&str; 4] = ["thoughts", "questions", "sources", "syntheses"];

/// Note names: case twins, an NFC name and its NFD twin, plain names.
pub const NAMES: [&str; 10] = [
    "alpha",
    "Alpha",
    "beta",
    "caf\u{e9}",
    "cafe\u{301}",
    "gamma",
    "delta",
    "idea",
    "IDEA",
    "notes",
];

/// The oracle's book of what the people did.
#[derive(Debug, Default)]
pub struct Book {
    next: u64,
    /// Tokens a person took out of a note on purpose.
    pub removed: HashSet<String>,
    /// Tokens some committed version held.
    pub acked: HashSet<String>,
}

/// The tokens a note's bytes hold.
pub fn tokens(bytes: &[u8]) -> impl Iterator<Item = &str> {
    std::str::from_utf8(bytes)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with('t') && l.len() > 1 && l[1..].bytes().all(|b| b.is_ascii_digit()))
}

fn is_note(rel: &str) -> bool {
    rel.ends_with(".md") && !rel.split('/').any(|s| s.starts_with('.'))
}

/// The notes on a disk, by path on disk.
pub fn notes(disk: &MemDisk) -> Vec<String> {
    disk.files().into_keys().filter(|p| is_note(p)).collect()
}

/// The note on disk that `path` names, whatever the Unicode normalization of either name.
/// (Two normalization twins on one disk are one note the scan keeps only one of; a person
/// on one device writes the name as that device already spells it.)
fn named(disk: &MemDisk, path: &str) -> Option<String> {
    let key = steel_sync::scan::nfc(path);
    notes(disk)
        .into_iter()
        .find(|p| steel_sync::scan::nfc(p) == key)
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &'a [String]) -> Option<&'a String> {
    (!items.is_empty()).then(|| &items[rng.random_range(0..items.len())])
}

impl Book {
    pub fn token(&mut self) -> String {
        self.next += 1;
        format!("t{}", self.next)
    }

    fn remove_all(&mut self, bytes: &[u8]) {
        self.removed.extend(tokens(bytes).map(str::to_owned));
    }

    /// A new note, or a line added to an existing one of that name. Answers what was done.
    pub fn create(&mut self, rng: &mut ChaCha8Rng, disk: &MemDisk) -> String {
        let folder = FOLDERS[rng.random_range(0..FOLDERS.len())];
        let name = NAMES[rng.random_range(0..NAMES.len())];
        let path = format!("{folder}/{name}.md");
        if let Some(existing) = named(disk, &path) {
            return self.edit_path(rng, disk, &existing);
        }
        let t = self.token();
        disk.put(&path, format!("{t}\n").as_bytes());
        format!("creates {path} [{t}]")
    }

    /// A line inserted somewhere in a note.
    pub fn edit(&mut self, rng: &mut ChaCha8Rng, disk: &MemDisk) -> String {
        match pick(rng, &notes(disk)).cloned() {
            Some(path) => self.edit_path(rng, disk, &path),
            None => self.create(rng, disk),
        }
    }

    fn edit_path(&mut self, rng: &mut ChaCha8Rng, disk: &MemDisk, path: &str) -> String {
        let old = disk.get(path).unwrap_or_default();
        let mut lines: Vec<String> = String::from_utf8_lossy(&old)
            .lines()
            .map(str::to_owned)
            .collect();
        let t = self.token();
        let at = rng.random_range(0..=lines.len());
        lines.insert(at, t.clone());
        disk.put(path, format!("{}\n", lines.join("\n")).as_bytes());
        format!("edits {path} [{t} at {at}]")
    }

    /// The whole note replaced by one new line.
    pub fn rewrite(&mut self, rng: &mut ChaCha8Rng, disk: &MemDisk) -> String {
        let Some(path) = pick(rng, &notes(disk)).cloned() else {
            return self.create(rng, disk);
        };
        self.remove_all(&disk.get(&path).unwrap_or_default());
        let t = self.token();
        disk.put(&path, format!("{t}\n").as_bytes());
        format!("rewrites {path} [{t}]")
    }

    /// A note moved to another name (with a line added: a rename is an edit of its own).
    pub fn rename(&mut self, rng: &mut ChaCha8Rng, disk: &MemDisk) -> String {
        let Some(from) = pick(rng, &notes(disk)).cloned() else {
            return self.create(rng, disk);
        };
        let folder = FOLDERS[rng.random_range(0..FOLDERS.len())];
        let name = NAMES[rng.random_range(0..NAMES.len())];
        let to = format!("{folder}/{name}.md");
        if named(disk, &to).is_some() {
            return self.edit_path(rng, disk, &from);
        }
        let mut bytes = disk.get(&from).unwrap_or_default();
        let t = self.token();
        bytes.extend_from_slice(format!("{t}\n").as_bytes());
        disk.delete(&from);
        disk.put(&to, &bytes);
        format!("renames {from} to {to} [{t}]")
    }

    pub fn delete(&mut self, rng: &mut ChaCha8Rng, disk: &MemDisk) -> String {
        let Some(path) = pick(rng, &notes(disk)).cloned() else {
            return "has nothing to delete".into();
        };
        self.remove_all(&disk.get(&path).unwrap_or_default());
        disk.delete(&path);
        format!("deletes {path}")
    }

    /// Every note of one top folder gone at once (an unmounted drive, a wrong `rm -r`).
    pub fn wipe(&mut self, rng: &mut ChaCha8Rng, disk: &MemDisk) -> String {
        let folder = FOLDERS[rng.random_range(0..FOLDERS.len())];
        let prefix = format!("{folder}/");
        let mut n = 0;
        for path in notes(disk) {
            if path.starts_with(&prefix) {
                self.remove_all(&disk.get(&path).unwrap_or_default());
                disk.delete(&path);
                n += 1;
            }
        }
        format!("wipes {folder}/ ({n} notes)")
    }

    /// Many notes at once (an import): what the mass-delete guard later has to protect.
    pub fn import(&mut self, rng: &mut ChaCha8Rng, disk: &MemDisk) -> String {
        let folder = FOLDERS[rng.random_range(0..FOLDERS.len())];
        let batch = self.next;
        let n = rng.random_range(55..70);
        for i in 0..n {
            let t = self.token();
            disk.put(
                &format!("{folder}/import{batch}/n{i}.md"),
                format!("{t}\n").as_bytes(),
            );
        }
        format!("imports {n} notes into {folder}/import{batch}/")
    }
}

impl crate::world::World {
    /// Device `d` signs out for good; a new device joins in its place with an empty folder.
    /// What the old folder held that the server does not goes with it.
    pub fn replace(&mut self, i: usize, d: usize, rng: &mut ChaCha8Rng) {
        self.log(format!("#{i} D{d} signs out; a new device takes its place"));
        let disk = self.devices[d].disk.clone();
        let mut shared = self.shared();
        let live = crate::vault::live_notes(&shared.server, shared.oracle.vault.as_ref());
        for rel in notes(&disk) {
            let bytes = disk.get(&rel).unwrap_or_default();
            let synced = live.get(&steel_sync::scan::nfc(&rel)) == Some(&bytes);
            if !synced {
                let gone = tokens(&bytes).map(str::to_owned);
                shared.book.removed.extend(gone);
            }
        }
        drop(shared);
        let skew = chrono::TimeDelta::seconds(rng.random_range(-300..300));
        self.devices[d] = self.new_device(d, skew);
    }
}
