//! Checking an LMDB data file (`data.mdb`) before it is memory-mapped.
//!
//! LMDB maps the file and reads its pages through the map, so a page the file no longer
//! holds is not an error but a SIGBUS that kills the process with no message: a `data.mdb`
//! cut short (`truncate`, a disk that filled during a copy, a partial restore) crashed every
//! command that opened the store (issue #21). [`check`] reads the file's meta pages with
//! ordinary reads, before LMDB opens it, and says what is wrong when a page that the newest
//! committed snapshot uses lies past the end of the file.
//!
//! A file may end before its last page legitimately: pages that a write transaction took at
//! the end of the file and freed again before committing are listed as free and never
//! written (LMDB's own `mdb_env_copy` clamps to the file's size for this reason, and a store
//! that has rows deleted shows it within a few commits). LMDB guarantees that every page up
//! to `mm_last_pg` is either used by a database or listed in the free-page database, so when
//! the file is short, the free-page database is read too and only a missing page that is not
//! free makes the file damaged.
//!
//! What this relies on, from LMDB 0.9's `mdb.c` as heed 0.22 builds it (lmdb-master-sys:
//! data version 1, `MDB_DEVEL` off) on a 64-bit target, where page numbers, transaction ids
//! and sizes are 8 bytes, in the machine's byte order (docs/materialization.md lists them too):
//!
//! - Every page starts with a 16-byte header: its page number (u64) at 0, flags (u16) at 10
//!   (branch 0x01, leaf 0x02, overflow 0x04, meta 0x08), and at 12 either `mp_lower` (u16,
//!   the end of the node offsets, which are u16s from byte 16 on) or, on the first page of an
//!   overflow run, the run's page count (u32).
//! - Pages 0 and 1 are the meta pages; the meta record follows the header: magic
//!   `0xBEEFC0DE` (u32) at 16, data version (u32) at 20, then two 48-byte database records,
//!   the free-page database at 40 and the main one at 88. A database record holds `md_pad`
//!   (u32, in the free one the page size) at +0, its depth (u16) at +6 and its root page
//!   (u64, all ones when empty) at +40. Then `mm_last_pg` (u64) at 136 and the committing
//!   transaction's id `mm_txnid` (u64) at 144. The meta with the larger id is the current one.
//! - A node starts with the data size (u32, for a branch node the child's page number's low
//!   32 bits) at 0, flags (u16, for a branch node the page number's high bits) at 4 and the
//!   key's size (u16) at 6; the key follows at 8, then the data. A leaf node with flag 0x01
//!   holds, instead of its data, the page number (u64) of the overflow run that does.
//! - The free-page database maps a transaction id to the pages it freed: a u64 count, then
//!   that many page numbers (u64).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::Context;

const HEADER: u64 = 16;
const P_BRANCH: u16 = 0x01;
const P_LEAF: u16 = 0x02;
const P_OVERFLOW: u16 = 0x04;
const P_META: u16 = 0x08;
const F_BIGDATA: u16 = 0x01;
const MAGIC: u32 = 0xBEEF_C0DE;
const DATA_VERSION: u32 = 1;
/// The root of an empty database.
const NO_PAGE: u64 = u64::MAX;
/// Where the meta record ends (after `mm_txnid`).
const META_END: u64 = 152;
/// Deeper than any B-tree of a file that fits in a 64-bit address space.
const MAX_DEPTH: u32 = 64;

/// What the check found wrong, or that it could not read the file.
enum Fault {
    Damaged(String),
    Io(std::io::Error),
}

impl From<std::io::Error> for Fault {
    fn from(e: std::io::Error) -> Fault {
        Fault::Io(e)
    }
}

fn damaged<T>(why: String) -> Result<T, Fault> {
    Err(Fault::Damaged(why))
}

/// Checks `dir/data.mdb`: `Ok(None)` when LMDB may map it (or it does not exist yet, or is
/// empty, which LMDB fills as a new environment), `Ok(Some(why))` when it lacks pages it
/// needs or is not an LMDB file, and an error when it cannot be read.
pub(crate) fn check(dir: &Path) -> anyhow::Result<Option<String>> {
    let path = dir.join("data.mdb");
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    // 64-bit only: the offsets above are for 8-byte page numbers. On other targets LMDB is
    // left to itself, as before this check existed.
    if usize::BITS != 64 {
        return Ok(None);
    }
    match check_file(file) {
        Ok(()) => Ok(None),
        Err(Fault::Damaged(why)) => Ok(Some(why)),
        Err(Fault::Io(e)) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn check_file(mut file: File) -> Result<(), Fault> {
    if file.metadata()?.len() == 0 {
        // What a crash while LMDB created the environment leaves; LMDB starts it afresh.
        return Ok(());
    }
    // Another process may be writing (a server taking pushes while `materialize` starts).
    // The pages of the snapshot being checked stay as they are until two commits later,
    // when they can be reused; so a verdict that read the free-page list counts only if no
    // commit happened meanwhile, else the check runs again on the newer snapshot.
    let mut attempts = 0;
    loop {
        let mut data = DataFile::new(file)?;
        let verdict = data.check();
        attempts += 1;
        if !data.walked || attempts == 3 || data.still_newest()? {
            return verdict;
        }
        file = data.file;
    }
}

/// The newest committed snapshot's entry points.
struct Meta {
    page_size: u64,
    free_root: u64,
    last_page: u64,
    txnid: u64,
}

struct DataFile {
    file: File,
    /// The file's length, taken after the meta pages were read: a writer in another process
    /// writes a transaction's pages before its meta, so the file is at least as long as the
    /// meta read needs. (Taken before, a commit in between could make a sound file look short.)
    len: u64,
    meta: Meta,
    /// Whether the check read the free-page list, not only the meta pages.
    walked: bool,
}

fn u16_at(b: &[u8], at: u64) -> Option<u16> {
    let at = usize::try_from(at).ok()?;
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: u64) -> Option<u32> {
    let at = usize::try_from(at).ok()?;
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: u64) -> Option<u64> {
    let at = usize::try_from(at).ok()?;
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Reads `n` bytes at `offset`, or `None` when the file ends first.
fn read_at(file: &mut File, offset: u64, n: u64) -> Result<Option<Vec<u8>>, Fault> {
    let Ok(n) = usize::try_from(n) else {
        return damaged(format!("a record of {n} bytes is too large to read"));
    };
    let mut buf = vec![0; n];
    file.seek(SeekFrom::Start(offset))?;
    match file.read_exact(&mut buf) {
        Ok(()) => Ok(Some(buf)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// One meta page's record, checked as LMDB checks it when it opens the file.
fn parse_meta(file: &mut File, page: u64, offset: u64) -> Result<Meta, Fault> {
    let Some(b) = read_at(file, offset, META_END)? else {
        let len = file.metadata()?.len();
        return damaged(format!(
            "data.mdb is {len} bytes, too short to hold LMDB's meta page {page}"
        ));
    };
    // `b` holds the whole record, so every field below is there.
    if u16_at(&b, 10).unwrap_or_default() & P_META == 0 {
        return damaged(format!("page {page} of data.mdb is not an LMDB meta page"));
    }
    if u32_at(&b, 16) != Some(MAGIC) {
        return damaged(format!(
            "page {page} of data.mdb lacks LMDB's magic number: it is not an LMDB file"
        ));
    }
    let version = u32_at(&b, 20).unwrap_or_default();
    if version != DATA_VERSION {
        return damaged(format!(
            "data.mdb is in LMDB data format {version}; this edgefeat reads format {DATA_VERSION}"
        ));
    }
    let page_size = u64::from(u32_at(&b, 40).unwrap_or_default());
    if !page_size.is_power_of_two() || !(256..=65_536).contains(&page_size) {
        return damaged(format!(
            "meta page {page} of data.mdb gives an impossible page size ({page_size})"
        ));
    }
    Ok(Meta {
        page_size,
        free_root: u64_at(&b, 80).unwrap_or_default(),
        last_page: u64_at(&b, 136).unwrap_or_default(),
        txnid: u64_at(&b, 144).unwrap_or_default(),
    })
}

/// The current meta record: of the two meta pages, the one with the larger transaction id,
/// as LMDB picks it.
fn newest_meta(file: &mut File) -> Result<Meta, Fault> {
    let first = parse_meta(file, 0, 0)?;
    let second = parse_meta(file, 1, first.page_size)?;
    if second.page_size != first.page_size {
        return damaged("the two meta pages of data.mdb disagree on the page size".into());
    }
    Ok(if first.txnid < second.txnid {
        second
    } else {
        first
    })
}

impl DataFile {
    fn new(mut file: File) -> Result<DataFile, Fault> {
        let meta = newest_meta(&mut file)?;
        let len = file.metadata()?.len();
        Ok(DataFile {
            file,
            len,
            meta,
            walked: false,
        })
    }

    /// Whether the snapshot checked is still the newest one (a meta page that no longer
    /// reads is a commit in progress: not).
    fn still_newest(&mut self) -> Result<bool, Fault> {
        match newest_meta(&mut self.file) {
            Ok(meta) => Ok(meta.txnid == self.meta.txnid),
            Err(Fault::Damaged(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn check(&mut self) -> Result<(), Fault> {
        let Meta {
            page_size,
            last_page,
            txnid,
            ..
        } = self.meta;
        let needed = last_page
            .checked_add(1)
            .and_then(|pages| pages.checked_mul(page_size));
        let Some(needed) = needed else {
            return damaged(format!(
                "the meta page of data.mdb names an impossible last page ({last_page})"
            ));
        };
        if self.len >= needed {
            return Ok(());
        }
        // The pages from `whole` on are missing (a partial page counts as missing: the map
        // reads zeros past the end of the file, not the page). Each must be a free one.
        let whole = self.len / page_size;
        self.walked = true;
        let mut free = self.free_pages(whole)?;
        free.sort_unstable();
        let used = (whole..=last_page)
            .rev()
            .find(|p| free.binary_search(p).is_err());
        match used {
            None => Ok(()),
            Some(page) => damaged(format!(
                "data.mdb is {} bytes, but page {page} of its last committed transaction ({txnid}) ends at byte {}: the file has been cut short",
                self.len,
                (page + 1) * page_size
            )),
        }
    }

    /// `n` bytes at page `page` (plus `skip` bytes), which must lie within the file and the
    /// snapshot.
    fn read_page(&mut self, page: u64, skip: u64, n: u64) -> Result<Vec<u8>, Fault> {
        let Meta {
            page_size,
            last_page,
            ..
        } = self.meta;
        let start = page
            .checked_mul(page_size)
            .and_then(|o| o.checked_add(skip));
        let end = start.and_then(|s| s.checked_add(n));
        match (start, end) {
            (Some(start), Some(end)) if page <= last_page && end <= self.len => {
                match read_at(&mut self.file, start, n)? {
                    Some(b) => Ok(b),
                    None => damaged(format!("data.mdb ended while page {page} was read")),
                }
            }
            _ => damaged(format!(
                "data.mdb is {} bytes, but page {page} of its free-page list ends at byte {}: the file has been cut short",
                self.len,
                end.unwrap_or(u64::MAX)
            )),
        }
    }

    /// The free pages numbered `from` or more, from the free-page database of the snapshot.
    fn free_pages(&mut self, from: u64) -> Result<Vec<u64>, Fault> {
        let mut free = Vec::new();
        if self.meta.free_root == NO_PAGE {
            return Ok(free);
        }
        let bad = |page: u64, what: &str| {
            Fault::Damaged(format!(
                "page {page} of the free-page list is damaged: {what}"
            ))
        };
        let mut stack = vec![(self.meta.free_root, 1)];
        let mut visited = 0u64;
        while let Some((page, depth)) = stack.pop() {
            visited += 1;
            if depth > MAX_DEPTH || visited > self.meta.last_page {
                return Err(bad(page, "the tree loops"));
            }
            let b = self.read_page(page, 0, self.meta.page_size)?;
            if u64_at(&b, 0) != Some(page) {
                return Err(bad(page, "it holds another page number"));
            }
            let flags = u16_at(&b, 10).unwrap_or_default();
            let lower = u64::from(u16_at(&b, 12).unwrap_or_default());
            if lower < HEADER || lower > self.meta.page_size {
                return Err(bad(page, "its node count is impossible"));
            }
            for i in 0..(lower - HEADER) / 2 {
                let node = u64::from(u16_at(&b, HEADER + 2 * i).unwrap_or_default());
                let (Some(size), Some(node_flags), Some(key_size)) =
                    (u32_at(&b, node), u16_at(&b, node + 4), u16_at(&b, node + 6))
                else {
                    return Err(bad(page, "a node lies outside it"));
                };
                if flags & P_BRANCH != 0 {
                    stack.push((u64::from(size) | (u64::from(node_flags) << 32), depth + 1));
                    continue;
                }
                if flags & P_LEAF == 0 {
                    return Err(bad(page, "it is neither a branch nor a leaf"));
                }
                let at = node + 8 + u64::from(key_size);
                let size = u64::from(size);
                let ids = if node_flags & F_BIGDATA != 0 {
                    let Some(run) = u64_at(&b, at) else {
                        return Err(bad(page, "an overflow reference lies outside it"));
                    };
                    let head = self.read_page(run, 0, HEADER)?;
                    if u64_at(&head, 0) != Some(run)
                        || u16_at(&head, 10).unwrap_or_default() & P_OVERFLOW == 0
                    {
                        return Err(bad(run, "it is not an overflow page"));
                    }
                    self.read_page(run, HEADER, size)?
                } else {
                    let range = usize::try_from(at)
                        .ok()
                        .zip(usize::try_from(at + size).ok());
                    match range.and_then(|(s, e)| b.get(s..e)) {
                        Some(ids) => ids.to_vec(),
                        None => return Err(bad(page, "a record lies outside it")),
                    }
                };
                let count = u64_at(&ids, 0).unwrap_or_default();
                let record = count.checked_add(1).and_then(|n| n.checked_mul(8));
                if record.is_none_or(|n| n > size) {
                    return Err(bad(page, "a record is shorter than its page count"));
                }
                free.extend(
                    (1..=count)
                        .filter_map(|j| u64_at(&ids, 8 * j))
                        .filter(|p| *p >= from),
                );
            }
        }
        Ok(free)
    }
}

/// Cuts `dir/data.mdb` to half its length, as the probe of issue #21 did (`truncate -s`);
/// returns the new length. For the stores' own tests.
#[cfg(test)]
pub(crate) fn cut_in_half(dir: &Path) -> u64 {
    let data = dir.join("data.mdb");
    let half = std::fs::metadata(&data).unwrap().len() / 2;
    let file = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    file.set_len(half).unwrap();
    half
}

#[cfg(test)]
#[path = "lmdb_file_tests.rs"]
mod tests;
