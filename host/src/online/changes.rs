//! What a store tells the vector index about a table's changes (see
//! [`super::OnlineStore::scan_changes`]).

use super::ReadRow;

/// What [`super::OnlineStore::scan_changes`] hands each row to: the serialized entity key and
/// its row (`None` when the entity has no row any more); an error stops the scan.
pub type RowVisitor<'a> = dyn FnMut(&[u8], Option<ReadRow>) -> anyhow::Result<()> + 'a;

/// Where a table stands: which incarnation of it (a view dropped and applied again gets a new
/// id) and how many write transactions have touched it. Equal versions hold equal rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TableVersion {
    /// The table's id; 0 when the table does not exist.
    pub table_id: u32,
    /// Bumped by every write that stored at least one row.
    pub generation: u64,
}

/// The outcome of [`super::OnlineStore::scan_changes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// The version the visited rows bring the caller to.
    pub version: TableVersion,
    /// True when every row of the table was visited (the caller replaces what it held); false
    /// when only the rows written since the given version were.
    pub full: bool,
}
