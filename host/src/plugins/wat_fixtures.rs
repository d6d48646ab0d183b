//! Hand-written WebAssembly components (WAT text) for testing the plugin host without the
//! wasm32 target: each one is a complete `edgefeat:plugin/transformer` that describes itself
//! exactly as the demo plugin does (so it passes validation against the demo repo's
//! `transformed_conv_rate` view) and misbehaves in one chosen way in `transform`.
//!
//! `wat` is only a dev-dependency, so this module gives the text and tests compile it:
//! `wat::parse_str(wat_text(Behaviour::Ok))`.
//!
//! The canonical ABI layouts written by hand here (all align 4 unless said):
//!
//! | type | size | layout |
//! |---|---|---|
//! | `string`, `list<T>` | 8 | ptr, len |
//! | `field` | 12 | name @0, type (enum, u8) @8 |
//! | `transform-info` | 32 | name @0, version @8, inputs @16, outputs @24 |
//! | `column-data` | 12 | case (u8) @0, list @4; `float64` is case 4 (align 8 elements) |
//! | `option<list<bool>>` | 12 | 0 = none, 1 = some @0, list @4 |
//! | `column` | 32 | name @0, data @8, valid @20 |
//! | `batch` | 12 | num-rows @0, columns @4 |
//! | `result<batch, plugin-error>` | 16 | 0 = ok, 1 = err @0, payload @4 |
//!
//! `describe` returns a pointer to a `transform-info` in static data; `transform` takes the
//! flattened batch (num-rows, columns ptr, columns len) and returns a pointer to its result.
//! Memory comes from a bump allocator (`realloc`) that `post-return` resets after each call,
//! so a reused instance does not grow.

use std::fmt::Write;

/// What the fixture's `transform` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Returns `num-rows` rows, both outputs valid and 42.5 everywhere.
    Ok,
    /// Loops forever.
    InfiniteLoop,
    /// Grows its memory by 2048 pages (128 MiB), trapping if that fails.
    GrowMemory,
    /// Traps (`unreachable`) when called with 2 rows; otherwise as [`Behaviour::Ok`].
    TrapOnTwoRows,
    /// Returns `num-rows + 1` rows (columns of that length too).
    WrongRowCount,
    /// Loops forever in the core module's start function, i.e. while being instantiated.
    /// Not in [`Behaviour::ALL`]: it never loads.
    LoopAtStart,
}

/// The value every output row of the well-behaved fixtures holds.
pub const VALUE: f64 = 42.5;

impl Behaviour {
    /// Every behaviour.
    pub const ALL: [Behaviour; 5] = [
        Behaviour::Ok,
        Behaviour::InfiniteLoop,
        Behaviour::GrowMemory,
        Behaviour::TrapOnTwoRows,
        Behaviour::WrongRowCount,
    ];

    /// The version string `describe()` returns: `wat-<behaviour>`.
    pub fn version(self) -> &'static str {
        match self {
            Behaviour::Ok => "wat-ok",
            Behaviour::InfiniteLoop => "wat-infinite-loop",
            Behaviour::GrowMemory => "wat-grow-memory",
            Behaviour::TrapOnTwoRows => "wat-trap-on-two-rows",
            Behaviour::WrongRowCount => "wat-wrong-row-count",
            Behaviour::LoopAtStart => "wat-loop-at-start",
        }
    }

    /// The body of the core `transform` function; parameter 0 is `num-rows`.
    fn body(self) -> &'static str {
        match self {
            Behaviour::Ok => "(call $fill (local.get 0))",
            Behaviour::InfiniteLoop => "(loop $spin (br $spin)) unreachable",
            Behaviour::GrowMemory => {
                "(if (i32.eq (memory.grow (i32.const 2048)) (i32.const -1)) (then unreachable))
                 (call $fill (local.get 0))"
            }
            Behaviour::TrapOnTwoRows => {
                "(if (i32.eq (local.get 0) (i32.const 2)) (then unreachable))
                 (call $fill (local.get 0))"
            }
            Behaviour::WrongRowCount => "(call $fill (i32.add (local.get 0) (i32.const 1)))",
            Behaviour::LoopAtStart => "(call $fill (local.get 0))",
        }
    }

    /// The core module's start function, if it has one.
    fn start(self) -> &'static str {
        match self {
            Behaviour::LoopAtStart => "(func $start (loop $spin (br $spin))) (start $start)",
            _ => "",
        }
    }
}

/// Where the static data starts in linear memory.
const DATA_BASE: u32 = 1024;

/// The `value-type` enum indexes used by the description.
const INT64: u8 = 2;
const FLOAT64: u8 = 4;

/// Static data with pointers into itself, laid out from [`DATA_BASE`].
#[derive(Default)]
struct Image {
    bytes: Vec<u8>,
}

impl Image {
    fn addr(&self) -> u32 {
        DATA_BASE + self.bytes.len() as u32
    }

    fn align(&mut self, to: usize) {
        while !self.bytes.len().is_multiple_of(to) {
            self.bytes.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// Stores `s`'s bytes and returns (ptr, len).
    fn str(&mut self, s: &str) -> (u32, u32) {
        let at = self.addr();
        self.bytes.extend_from_slice(s.as_bytes());
        (at, s.len() as u32)
    }

    /// Stores a `list<field>` and returns (ptr, len).
    fn fields(&mut self, fields: &[(&str, u8)]) -> (u32, u32) {
        let names: Vec<(u32, u32)> = fields.iter().map(|(n, _)| self.str(n)).collect();
        self.align(4);
        let at = self.addr();
        for ((ptr, len), (_, ty)) in names.iter().zip(fields) {
            self.u32(*ptr);
            self.u32(*len);
            self.bytes.extend_from_slice(&[*ty, 0, 0, 0]);
        }
        (at, fields.len() as u32)
    }

    /// The data as a WAT string literal.
    fn literal(&self) -> String {
        self.bytes
            .iter()
            .fold(String::with_capacity(self.bytes.len() * 3), |mut s, b| {
                let _ = write!(s, "\\{b:02x}");
                s
            })
    }
}

/// The WAT text of a `transformer` component with `behaviour`.
pub fn wat_text(behaviour: Behaviour) -> String {
    let mut img = Image::default();
    let name = img.str("transformed_conv_rate");
    let version = img.str(behaviour.version());
    let inputs = img.fields(&[
        ("conv_rate", FLOAT64),
        ("val_to_add", INT64),
        ("val_to_add_2", INT64),
    ]);
    let outputs = img.fields(&[
        ("conv_rate_plus_val1", FLOAT64),
        ("conv_rate_plus_val2", FLOAT64),
    ]);
    let out1 = img.str("conv_rate_plus_val1");
    let out2 = img.str("conv_rate_plus_val2");
    img.align(4);
    let info = img.addr();
    for (ptr, len) in [name, version, inputs, outputs] {
        img.u32(ptr);
        img.u32(len);
    }
    img.align(8);
    let heap = img.addr();
    let data = img.literal();
    let body = behaviour.body();
    let start = behaviour.start();
    let (out1_ptr, out1_len) = out1;
    let (out2_ptr, out2_len) = out2;
    format!(
        r#"(component
  (core module $m
    (memory (export "mem") 1)
    (global $heap (mut i32) (i32.const {heap}))
    (data (i32.const {DATA_BASE}) "{data}")

    ;; A bump allocator: aligns, grows memory when needed, never frees (post-return resets it).
    (func $realloc (export "realloc")
      (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
      (local $p i32) (local $end i32) (local $have i32)
      (local.set $p
        (i32.and
          (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
          (i32.sub (i32.const 0) (local.get $align))))
      (local.set $end (i32.add (local.get $p) (local.get $size)))
      (local.set $have (i32.shl (memory.size) (i32.const 16)))
      (if (i32.gt_u (local.get $end) (local.get $have))
        (then
          (if (i32.eq
                (memory.grow
                  (i32.shr_u
                    (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535))
                    (i32.const 16)))
                (i32.const -1))
            (then unreachable))))
      (global.set $heap (local.get $end))
      (if (local.get $old)
        (then (memory.copy (local.get $p) (local.get $old) (local.get $old_size))))
      (local.get $p))

    (func (export "describe") (result i32)
      (i32.const {info}))

    ;; Writes a batch of $n rows (both outputs 42.5, all valid) and returns a pointer to
    ;; `ok(batch)`.
    (func $fill (param $n i32) (result i32)
      (local $vals i32) (local $cols i32) (local $ret i32) (local $i i32)
      (local.set $vals
        (call $realloc (i32.const 0) (i32.const 0) (i32.const 8)
          (i32.shl (local.get $n) (i32.const 3))))
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (f64.store
            (i32.add (local.get $vals) (i32.shl (local.get $i) (i32.const 3)))
            (f64.const {VALUE}))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (local.set $cols (call $realloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 64)))
      ;; column 0: name, float64(vals), valid none
      (i32.store offset=0 (local.get $cols) (i32.const {out1_ptr}))
      (i32.store offset=4 (local.get $cols) (i32.const {out1_len}))
      (i32.store8 offset=8 (local.get $cols) (i32.const 4))
      (i32.store offset=12 (local.get $cols) (local.get $vals))
      (i32.store offset=16 (local.get $cols) (local.get $n))
      (i32.store8 offset=20 (local.get $cols) (i32.const 0))
      ;; column 1, the same values
      (i32.store offset=32 (local.get $cols) (i32.const {out2_ptr}))
      (i32.store offset=36 (local.get $cols) (i32.const {out2_len}))
      (i32.store8 offset=40 (local.get $cols) (i32.const 4))
      (i32.store offset=44 (local.get $cols) (local.get $vals))
      (i32.store offset=48 (local.get $cols) (local.get $n))
      (i32.store8 offset=52 (local.get $cols) (i32.const 0))
      ;; ok(batch {{ num-rows: n, columns }})
      (local.set $ret (call $realloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 16)))
      (i32.store8 offset=0 (local.get $ret) (i32.const 0))
      (i32.store offset=4 (local.get $ret) (local.get $n))
      (i32.store offset=8 (local.get $ret) (local.get $cols))
      (i32.store offset=12 (local.get $ret) (i32.const 2))
      (local.get $ret))

    (func (export "transform") (param i32 i32 i32) (result i32)
      {body})

    (func (export "post-transform") (param i32)
      (global.set $heap (i32.const {heap})))
    {start}
  )
  (core instance $i (instantiate $m))

  (type $value-type (enum "bool" "int32" "int64" "float32" "float64" "string" "bytes"
    "unix-timestamp" "json" "bool-list" "int32-list" "int64-list" "float32-list"
    "float64-list" "string-list" "bytes-list" "unix-timestamp-list"))
  (type $field (record (field "name" string) (field "type" $value-type)))
  (type $column-data (variant
    (case "bool" (list bool))
    (case "int32" (list s32))
    (case "int64" (list s64))
    (case "float32" (list f32))
    (case "float64" (list f64))
    (case "string" (list string))
    (case "bytes" (list (list u8)))
    (case "unix-timestamp" (list s64))
    (case "json" (list string))
    (case "bool-list" (list (list bool)))
    (case "int32-list" (list (list s32)))
    (case "int64-list" (list (list s64)))
    (case "float32-list" (list (list f32)))
    (case "float64-list" (list (list f64)))
    (case "string-list" (list (list string)))
    (case "bytes-list" (list (list (list u8))))
    (case "unix-timestamp-list" (list (list s64)))))
  (type $column (record
    (field "name" string)
    (field "data" $column-data)
    (field "valid" (option (list bool)))))
  (type $batch (record (field "num-rows" u32) (field "columns" (list $column))))
  (type $plugin-error (variant (case "invalid-input" string) (case "internal" string)))
  (type $transform-info (record
    (field "name" string)
    (field "version" string)
    (field "inputs" (list $field))
    (field "outputs" (list $field))))

  (func $describe (result $transform-info)
    (canon lift (core func $i "describe")
      (memory (core memory $i "mem"))
      (realloc (core func $i "realloc"))))
  (func $transform (param "input" $batch) (result (result $batch (error $plugin-error)))
    (canon lift (core func $i "transform")
      (memory (core memory $i "mem"))
      (realloc (core func $i "realloc"))
      (post-return (core func $i "post-transform"))))

  ;; Named types first: an exported function may only use types the export names.
  (instance $transform-instance
    (export "value-type" (type $value-type))
    (export "field" (type $field))
    (export "column-data" (type $column-data))
    (export "column" (type $column))
    (export "batch" (type $batch))
    (export "plugin-error" (type $plugin-error))
    (export "transform-info" (type $transform-info))
    (export "describe" (func $describe))
    (export "transform" (func $transform)))
  (export "edgefeat:plugin/transform@0.1.0" (instance $transform-instance))
)
"#
    )
}
