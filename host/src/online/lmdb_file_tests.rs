//! The data-file check against real LMDB files written by heed: sound files whose end holds
//! only free pages pass, files cut anywhere through a used page are refused, and every cut
//! the check accepts is one LMDB then reads and writes without crashing.

use std::path::Path;

use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions, WithoutTls};

use super::check;

fn open_env(dir: &Path) -> Env<WithoutTls> {
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options.map_size(1 << 30).max_dbs(4);
    // SAFETY: each test opens its own directory once.
    unsafe { options.open(dir) }.unwrap()
}

fn data_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("data.mdb")).unwrap().len()
}

/// Whether the file ends before the last page of the newest snapshot.
fn ends_early(env: &Env<WithoutTls>, dir: &Path) -> bool {
    let last = env.info().last_page_number as u64;
    data_len(dir) < (last + 1) * u64::from(env.stat().page_size)
}

/// One write transaction that stores `n` rows of 2,100 bytes (each on overflow pages of its
/// own) and, when `delete`, deletes nine in ten of them again before committing: pages taken
/// at the end of the file and freed in the same transaction are never written, so the file
/// can end before its last page.
fn churn(env: &Env<WithoutTls>, db: Database<Bytes, Bytes>, round: u32, n: u32, delete: bool) {
    let value = vec![round as u8; 2100];
    let mut wtxn = env.write_txn().unwrap();
    for i in 0..n {
        db.put(&mut wtxn, format!("k{round}-{i:06}").as_bytes(), &value)
            .unwrap();
    }
    if delete {
        for i in (0..n).filter(|i| i % 10 != 0) {
            db.delete(&mut wtxn, format!("k{round}-{i:06}").as_bytes())
                .unwrap();
        }
    }
    wtxn.commit().unwrap();
}

/// A store that has had rows deleted (so its free-page list is not empty), closed.
fn churned_store(dir: &Path, rounds: u32, n: u32) {
    let env = open_env(dir);
    let mut wtxn = env.write_txn().unwrap();
    let db: Database<Bytes, Bytes> = env.create_database(&mut wtxn, Some("rows")).unwrap();
    wtxn.commit().unwrap();
    for round in 0..rounds {
        churn(&env, db, round, n + 37 * round, true);
    }
    env.prepare_for_closing().wait();
}

/// Opens the store and touches every page LMDB uses: every record of every database, and a
/// write transaction, which reads the free-page list to reuse pages. On a file missing one
/// of them this kills the test process with SIGBUS.
fn read_everything(dir: &Path) {
    let env = open_env(dir);
    let rtxn = env.read_txn().unwrap();
    let main: Database<Bytes, Bytes> = env.open_database(&rtxn, None).unwrap().unwrap();
    let names: Vec<String> = main
        .iter(&rtxn)
        .unwrap()
        .map(|e| String::from_utf8(e.unwrap().0.to_vec()).unwrap())
        .collect();
    for name in &names {
        let db: Database<Bytes, Bytes> = env.open_database(&rtxn, Some(name)).unwrap().unwrap();
        for entry in db.iter(&rtxn).unwrap() {
            // The bytes themselves: a value on overflow pages is only a pointer until read.
            let (k, v) = entry.unwrap();
            let sum = k.iter().chain(v).fold(0u8, |s, b| s.wrapping_add(*b));
            std::hint::black_box(sum);
        }
    }
    drop(rtxn);
    let mut wtxn = env.write_txn().unwrap();
    let db: Database<Bytes, Bytes> = env.create_database(&mut wtxn, Some("rows")).unwrap();
    for i in 0..200u32 {
        db.put(&mut wtxn, &i.to_be_bytes(), &[1; 300]).unwrap();
    }
    wtxn.commit().unwrap();
    env.prepare_for_closing().wait();
}

#[test]
fn a_sound_store_passes_even_when_it_ends_before_its_last_page() {
    let dir = tempfile::tempdir().unwrap();
    let env = open_env(dir.path());
    let mut wtxn = env.write_txn().unwrap();
    let db: Database<Bytes, Bytes> = env.create_database(&mut wtxn, Some("rows")).unwrap();
    wtxn.commit().unwrap();
    let mut round = 0;
    loop {
        churn(&env, db, round, 100 + 37 * round, true);
        assert_eq!(check(dir.path()).unwrap(), None, "round {round}");
        // The case a check of the length alone gets wrong.
        if ends_early(&env, dir.path()) {
            break;
        }
        round += 1;
        assert!(round < 30, "no commit left the file ending early");
    }
    env.prepare_for_closing().wait();
    assert_eq!(check(dir.path()).unwrap(), None);
    read_everything(dir.path());
}

#[test]
fn every_cut_through_a_used_page_is_refused_and_every_accepted_cut_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    churned_store(dir.path(), 6, 100);
    let env = open_env(dir.path());
    assert!(
        ends_early(&env, dir.path()),
        "the whole file is a short one too"
    );
    env.prepare_for_closing().wait();
    let bytes = std::fs::read(dir.path().join("data.mdb")).unwrap();
    let len = bytes.len();
    let page = u32::from_ne_bytes(bytes[40..44].try_into().unwrap()) as usize;
    assert!(
        len > 16 * page,
        "a store of {len} bytes is too small to cut"
    );
    let mut cuts: Vec<usize> = (0..=len).step_by(page / 2).collect();
    cuts.extend([1, 100, 151, 152, page + 151, len - 1, len]);
    let (mut accepted, mut refused) = (0, 0);
    for cut in cuts {
        let copy = tempfile::tempdir().unwrap();
        std::fs::write(copy.path().join("data.mdb"), &bytes[..cut]).unwrap();
        match check(copy.path()).unwrap() {
            None => {
                read_everything(copy.path());
                accepted += 1;
            }
            Some(why) => {
                assert!(cut > 0 && cut < len, "cut at {cut} of {len} refused: {why}");
                if cut < page + 152 {
                    assert!(why.contains("too short to hold LMDB's meta page"), "{why}");
                } else {
                    assert!(why.contains("the file has been cut short"), "{why}");
                }
                refused += 1;
            }
        }
    }
    assert!(accepted >= 2, "the whole file and the empty one pass");
    assert!(refused > 10, "only {refused} cuts refused");
    // The cut of issue #21: half the file.
    let copy = tempfile::tempdir().unwrap();
    std::fs::write(copy.path().join("data.mdb"), &bytes[..len / 2]).unwrap();
    let why = check(copy.path())
        .unwrap()
        .expect("half a store is refused");
    assert!(
        why.starts_with(&format!("data.mdb is {} bytes, but page ", len / 2))
            && why.ends_with("the file has been cut short"),
        "{why}"
    );
}

#[test]
fn files_that_are_not_lmdb_are_refused_and_absent_or_empty_ones_pass() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(check(dir.path()).unwrap(), None, "no file yet");
    let file = dir.path().join("data.mdb");
    std::fs::write(&file, b"").unwrap();
    assert_eq!(check(dir.path()).unwrap(), None, "LMDB fills an empty file");
    let cases: [(&[u8], &str); 3] = [
        (&[0; 100], "too short to hold LMDB's meta page 0"),
        (&[0; 8192], "page 0 of data.mdb is not an LMDB meta page"),
        (&[0xab; 8192], "lacks LMDB's magic number"),
    ];
    for (bytes, want) in cases {
        std::fs::write(&file, bytes).unwrap();
        let why = check(dir.path()).unwrap().expect("refused");
        assert!(why.contains(want), "{why}");
    }
}

#[test]
fn a_damaged_free_page_list_is_refused_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    churned_store(dir.path(), 6, 100);
    let mut bytes = std::fs::read(dir.path().join("data.mdb")).unwrap();
    let len = bytes.len();
    // Cut at a page boundary through the used pages, then point both metas' free-page roots
    // at page 0 (a meta page, not a tree page): the check must not read it as free pages.
    let page = u32::from_ne_bytes(bytes[40..44].try_into().unwrap()) as usize;
    bytes.truncate(len / 2 / page * page);
    for meta in [0, page] {
        bytes[meta + 80..meta + 88].copy_from_slice(&0u64.to_ne_bytes());
    }
    std::fs::write(dir.path().join("data.mdb"), &bytes).unwrap();
    let why = check(dir.path()).unwrap().expect("refused");
    assert!(
        why.contains("page 0 of the free-page list is damaged"),
        "{why}"
    );
}
